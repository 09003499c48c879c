//! Tests of JWS signing and verification (RFC 7515, RFC 7518).

use super::*;
use crate::model::{KeyRecord, KeyState};
use crate::time::UnixTime;

pub(crate) const TEST_KEY: &[u8] = include_bytes!("../../testdata/rsa2048.pk8");

pub(crate) fn record(kid: &str, state: KeyState, created: i64) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        realm: "r".into(),
        alg: "RS256".into(),
        private_pkcs8: TEST_KEY.to_vec(),
        state,
        created_at: UnixTime(created),
    }
}

fn claims() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), json!("alice"));
    m
}

#[test]
fn rs256_sign_then_verify_rfc7515() {
    let key = SigningKey::from_record(&record("k1", KeyState::Active, 1)).unwrap();
    let jws = key.sign(&claims());
    let v = verify(&jws, &["RS256"], &[VerifyKey::from_signing(&key)]).unwrap();
    assert_eq!(v.claims["sub"], "alice");
    assert_eq!(v.header["kid"], "k1");
    assert_eq!(v.header["alg"], "RS256");
    assert_eq!(key.public_jwk()["e"], "AQAB");
}

#[test]
fn verify_refuses_disallowed_alg_tampering_and_crit() {
    let key = SigningKey::from_record(&record("k1", KeyState::Active, 1)).unwrap();
    let vk = [VerifyKey::from_signing(&key)];
    let jws = key.sign(&claims());
    assert_eq!(verify(&jws, &["HS256"], &vk).unwrap_err(), JoseError::AlgNotAllowed("RS256".into()));
    let mut parts: Vec<&str> = jws.split('.').collect();
    let forged = b64(br#"{"sub":"mallory"}"#);
    parts[1] = &forged;
    assert_eq!(verify(&parts.join("."), &["RS256"], &vk).unwrap_err(), JoseError::BadSignature);
    let crit = format!("{}.{}.{}", b64(br#"{"alg":"RS256","crit":["x"]}"#), b64(b"{}"), b64(b"sig"));
    assert!(matches!(verify(&crit, &["RS256"], &vk), Err(JoseError::Malformed(_))));
    assert!(matches!(verify("a.b", &["RS256"], &vk), Err(JoseError::Malformed(_))));
    assert!(matches!(verify("e30=.e30.e30", &["RS256"], &vk), Err(JoseError::Malformed(_))));
}

#[test]
fn hs256_sign_then_verify_and_wrong_secret_fails() {
    let jws = sign_hs256(&claims(), b"client-secret");
    assert!(verify(&jws, &["HS256"], &[VerifyKey::Hmac(b"client-secret".to_vec())]).is_ok());
    assert_eq!(verify(&jws, &["HS256"], &[VerifyKey::Hmac(b"other".to_vec())]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn half_hash_matches_oidc_core_example() {
    // OpenID Connect Core 1.0 Appendix A.3: access_token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
    // has at_hash "77QmUPtjPfzWtF2AnpK9RQ".
    assert_eq!(half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
}

#[test]
fn keyset_signs_with_newest_active_and_publishes_retired() {
    let set = KeySet::from_records(&[
        record("old", KeyState::Retired, 1),
        record("new", KeyState::Active, 2),
        record("gone", KeyState::Revoked, 3),
    ])
    .unwrap();
    assert_eq!(set.active().unwrap().kid(), "new");
    let jwks: Value = serde_json::from_str(set.jwks_json()).unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["new", "old"]);
    assert!(jwks["keys"][0].get("d").is_none(), "private parts must never be published");
}
