//! Tests of JWS signing and verification (RFC 7515, RFC 7518).

use super::*;
use crate::model::{JwtAlg, KeyRecord, KeyState};
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
        published_until: None,
    }
}

/// A stored key of `alg` generated for the test (RSA keys use the test key).
pub(crate) fn record_of(kid: &str, alg: JwtAlg, state: KeyState, created: i64) -> KeyRecord {
    let private_pkcs8 = match alg {
        JwtAlg::Rs256 | JwtAlg::Ps256 => TEST_KEY.to_vec(),
        other => generate_pkcs8(other).unwrap(),
    };
    KeyRecord { alg: alg.as_str().into(), private_pkcs8, ..record(kid, state, created) }
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
    assert_eq!(half_hash(JwtAlg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    // EdDSA (Ed25519) hashes with SHA-512: half of it is 32 bytes.
    assert_eq!(b64_decode(&half_hash(JwtAlg::EdDsa, "x")).unwrap().len(), 32);
    assert_eq!(b64_decode(&half_hash(JwtAlg::Es256, "x")).unwrap().len(), 16);
}

#[test]
fn keyset_signs_with_newest_active_and_publishes_retired() {
    let mut until = record("until", KeyState::Retired, 0);
    until.published_until = Some(UnixTime(100));
    let set = KeySet::from_records(
        &[
            record("old", KeyState::Retired, 1),
            record("new", KeyState::Active, 2),
            record("gone", KeyState::Revoked, 3),
            until.clone(),
        ],
        UnixTime(99),
    )
    .unwrap();
    assert_eq!(set.active().unwrap().kid(), "new");
    let jwks: Value = serde_json::from_str(set.jwks_json()).unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["new", "old", "until"], "retired keys stay published until their date; revoked never");
    assert!(jwks["keys"][0].get("d").is_none(), "private parts must never be published");
    let later = KeySet::from_records(&[record("new", KeyState::Active, 2), until], UnixTime(100)).unwrap();
    assert_eq!(later.verify_keys().len(), 1, "past published_until the retired key is gone");
}

#[test]
fn every_alg_signs_and_verifies_and_only_as_itself_rfc7518_3() {
    for alg in [JwtAlg::Rs256, JwtAlg::Ps256, JwtAlg::Es256, JwtAlg::EdDsa] {
        let key = SigningKey::from_record(&record_of("k", alg, KeyState::Active, 1)).unwrap();
        assert_eq!(key.alg(), alg);
        let jws = key.sign(&claims());
        let vk = [VerifyKey::from_signing(&key)];
        let v = verify(&jws, &ALL_ALGS, &vk).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(v.header["alg"], alg.as_str());
        assert_eq!(v.claims["sub"], "alice");
        // The same key through its published JWK.
        let from_jwk = VerifyKey::from_jwk(key.public_jwk()).unwrap();
        assert!(verify(&jws, &[alg.as_str()], &[from_jwk]).is_ok(), "{alg:?} via JWK");
        // Relabelled as another algorithm, the signature does not verify.
        for other in ALL_ALGS.iter().filter(|a| **a != alg.as_str()) {
            let (_, rest) = jws.split_once('.').unwrap();
            let relabelled = format!("{}.{rest}", b64(format!("{{\"alg\":\"{other}\",\"kid\":\"k\"}}").as_bytes()));
            assert!(verify(&relabelled, &ALL_ALGS, &vk).is_err(), "{alg:?} as {other}");
        }
    }
}

#[test]
fn jwk_shapes_rfc7518_6_and_rfc8037_2() {
    let ec = SigningKey::from_record(&record_of("e", JwtAlg::Es256, KeyState::Active, 1)).unwrap();
    let j = ec.public_jwk();
    assert_eq!((j["kty"].as_str(), j["crv"].as_str(), j["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
    assert_eq!(b64_decode(j["x"].as_str().unwrap()).unwrap().len(), 32);
    assert_eq!(b64_decode(j["y"].as_str().unwrap()).unwrap().len(), 32);
    let ed = SigningKey::from_record(&record_of("d", JwtAlg::EdDsa, KeyState::Active, 1)).unwrap();
    let j = ed.public_jwk();
    assert_eq!(
        (j["kty"].as_str(), j["crv"].as_str(), j["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(b64_decode(j["x"].as_str().unwrap()).unwrap().len(), 32);
    for key in [&ec, &ed] {
        assert!(key.public_jwk().get("d").is_none());
        assert_eq!(key.public_jwk()["use"], "sig");
    }
    assert!(!format!("{ec:?}").contains("material"), "Debug shows no key material");
}

#[test]
fn from_jwk_refuses_private_symmetric_and_odd_keys_rfc7517_4() {
    let ec = SigningKey::from_record(&record_of("e", JwtAlg::Es256, KeyState::Active, 1)).unwrap();
    let mut private = ec.public_jwk().clone();
    private["d"] = json!("AAAA");
    assert!(VerifyKey::from_jwk(&private).is_err(), "a private JWK");
    assert!(VerifyKey::from_jwk(&json!({"kty": "oct", "k": "c2VjcmV0"})).is_err(), "a symmetric JWK");
    let mut enc = ec.public_jwk().clone();
    enc["use"] = json!("enc");
    assert!(VerifyKey::from_jwk(&enc).is_err(), "an encryption key");
    let mut curve = ec.public_jwk().clone();
    curve["crv"] = json!("P-384");
    assert!(VerifyKey::from_jwk(&curve).is_err());
    let mut short = ec.public_jwk().clone();
    short["x"] = json!("AAAA");
    assert!(VerifyKey::from_jwk(&short).is_err());
    let mut mismatch = ec.public_jwk().clone();
    mismatch["alg"] = json!("RS256");
    assert!(VerifyKey::from_jwk(&mismatch).is_err(), "alg of another key type");
    assert!(VerifyKey::from_jwk(&json!("not an object")).is_err());
}

#[test]
fn rfc8037_a4_ed25519_signature_is_deterministic_and_verifies() {
    // RFC 8037 Appendix A.1/A.2: the key; A.4: the JWS of "Example of Ed25519 signing".
    let seed = b64_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let (input, sig) = jws.rsplit_once('.').unwrap();
    let key = VerifyKey::from_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "x": x})).unwrap();
    assert!(key.verifies(JwtAlg::EdDsa, input.as_bytes(), &b64_decode(sig).unwrap()));
    // PKCS#8 v1 of the seed (RFC 8410 §7) signs to the same bytes through SigningKey's parser.
    let mut pkcs8 =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    pkcs8.extend_from_slice(&seed);
    let rec = KeyRecord { alg: "EdDSA".into(), private_pkcs8: pkcs8, ..record("a4", KeyState::Active, 1) };
    let signing = SigningKey::from_record(&rec).unwrap();
    assert_eq!(signing.public_jwk()["x"], x);
    let KeyMaterial::Ed(ed) = &signing.material else { panic!("an Ed25519 key") };
    assert_eq!(b64(ed.sign(input.as_bytes()).as_ref()), sig);
}

#[test]
fn rfc7515_a3_es256_example_verifies() {
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    });
    let jws = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let v = verify(jws, &["ES256"], &[VerifyKey::from_jwk(&jwk).unwrap()]).unwrap();
    assert_eq!(v.claims["iss"], "joe");
}

#[test]
fn keyset_has_one_signer_per_alg_and_lists_algs() {
    let set = KeySet::from_records(
        &[
            record_of("rsa", JwtAlg::Rs256, KeyState::Active, 1),
            record_of("ec-old", JwtAlg::Es256, KeyState::Active, 2),
            record_of("ec-new", JwtAlg::Es256, KeyState::Active, 3),
            record_of("ed", JwtAlg::EdDsa, KeyState::Retired, 4),
        ],
        UnixTime(0),
    )
    .unwrap();
    assert_eq!(set.active_for(JwtAlg::Es256).unwrap().kid(), "ec-new");
    assert_eq!(set.active_for(JwtAlg::Rs256).unwrap().kid(), "rsa");
    assert!(set.active_for(JwtAlg::EdDsa).is_none(), "a retired key verifies but does not sign");
    assert!(set.active_for(JwtAlg::Ps256).is_none());
    assert_eq!(set.algs(), [JwtAlg::Rs256, JwtAlg::Es256, JwtAlg::Hs256]);
    assert_eq!(set.verify_keys().len(), 4);
    assert!(generate_pkcs8(JwtAlg::Rs256).is_err(), "RSA keys come from the caller");
    assert!(SigningKey::from_record(&record_of("h", JwtAlg::Rs256, KeyState::Active, 1)).is_ok());
    let hs = KeyRecord { alg: "HS256".into(), ..record("h", KeyState::Active, 1) };
    assert!(SigningKey::from_record(&hs).is_err(), "HS256 has no realm key");
}

#[test]
fn rsa_public_key_as_subject_public_key_info_rfc5280_4_1_2_7() {
    let key = SigningKey::from_record(&record("k1", KeyState::Active, 0)).unwrap();
    let spki = key.rsa_spki_der().unwrap();
    // SEQUENCE (long form length), then AlgorithmIdentifier rsaEncryption with NULL parameters.
    assert_eq!(&spki[..2], &[0x30, 0x82]);
    assert_eq!(usize::from(spki[2]) * 256 + usize::from(spki[3]), spki.len() - 4);
    assert_eq!(
        &spki[4..19],
        &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]
    );
    // BIT STRING with no unused bits around the PKCS#1 RSAPublicKey, which verifies the key's signatures.
    assert_eq!((spki[19], spki[20], spki[23]), (0x03, 0x82, 0x00));
    let pkcs1 = &spki[24..];
    let token = key.sign(&claims());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let public = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, pkcs1);
    assert!(public.verify(input.as_bytes(), &b64_decode(sig).unwrap()).is_ok());
    let ec = SigningKey::from_record(&record_of("e1", JwtAlg::Es256, KeyState::Active, 0)).unwrap();
    assert!(ec.rsa_spki_der().is_none());
}
