//! The UserInfo rules (OIDC Core §5.3; RFC 6750 §3.1).

use super::*;
use crate::authorize::tests::{client, user};
use crate::hooks::Hooks;
use crate::jose::KeySet;
use crate::jose::tests::record;
use crate::model::{ClientType, JwtAlg, KeyState};
use crate::secret::Digest;

fn token(scope: &str, user_id: Option<&str>, expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        digest: Digest::of("at"),
        realm: "r".into(),
        client_id: "rp".into(),
        user_id: user_id.map(str::to_owned),
        scope: Scope::parse(scope).unwrap(),
        expires_at: UnixTime(expires_at),
        grant_id: "g".into(),
        claims: None,
        issued_at: UnixTime(0),
        session_id: None,
        audience: Vec::new(),
        jti: "j".into(),
    }
}

fn run(
    found: Option<(AccessTokenRecord, Option<User>)>,
    c: Option<&crate::model::Client>,
) -> Result<UserInfoResponse, OAuthError> {
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    respond(UserInfoInput {
        found,
        client: c,
        issuer: "https://op/realms/r",
        realm_secret: b"salt",
        registry: &ScopeRegistry::default(),
        hooks: &Hooks::default(),
        keys: &keys,
        roles: &[],
        now: UnixTime(100),
    })
}

fn code(r: Result<UserInfoResponse, OAuthError>) -> String {
    match r {
        Ok(UserInfoResponse::Json(_)) => "json".into(),
        Ok(UserInfoResponse::Jwt(_)) => "jwt".into(),
        Err(e) => e.code.to_string(),
    }
}

#[test]
fn which_tokens_may_call_userinfo_oidc_core_5_3_rfc6750_3_1() {
    let c = client(ClientType::Confidential);
    let mut disabled = c.clone();
    disabled.enabled = false;
    let mut inactive = user();
    inactive.active = false;
    let ok = || Some((token("openid email", Some("u1"), 200), Some(user())));
    assert_eq!(code(run(ok(), Some(&c))), "json");
    assert_eq!(code(run(None, Some(&c))), "invalid_token", "unknown or revoked");
    assert_eq!(code(run(Some((token("openid", Some("u1"), 100), Some(user()))), Some(&c))), "invalid_token", "expired");
    assert_eq!(code(run(Some((token("email", Some("u1"), 200), Some(user()))), Some(&c))), "insufficient_scope");
    assert_eq!(code(run(Some((token("openid", None, 200), None)), Some(&c))), "invalid_token", "no end-user");
    assert_eq!(code(run(Some((token("openid", Some("u1"), 200), Some(inactive))), Some(&c))), "invalid_token");
    assert_eq!(code(run(Some((token("openid", Some("u1"), 200), None)), Some(&c))), "invalid_token", "user gone");
    assert_eq!(code(run(ok(), Some(&disabled))), "invalid_token");
    assert_eq!(code(run(ok(), None)), "invalid_token", "client gone");
    let Ok(UserInfoResponse::Json(claims)) = run(ok(), Some(&c)) else { panic!("json") };
    assert_eq!((claims["sub"].as_str(), claims["email"].as_str()), (Some("u1"), Some("alice@example.com")));
}

#[test]
fn signed_userinfo_carries_iss_and_aud_oidc_core_5_3_2() {
    let mut c = client(ClientType::Confidential);
    c.userinfo_signed_response_alg = Some(JwtAlg::Rs256);
    let Ok(UserInfoResponse::Jwt(jwt)) = run(Some((token("openid", Some("u1"), 200), Some(user()))), Some(&c)) else {
        panic!("a JWT")
    };
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    let v = crate::jose::verify(&jwt, &["RS256"], keys.verify_keys()).unwrap();
    assert_eq!((v.claims["iss"].as_str(), v.claims["aud"].as_str()), (Some("https://op/realms/r"), Some("rp")));
    c.userinfo_signed_response_alg = Some(JwtAlg::Es256);
    assert_eq!(
        code(run(Some((token("openid", Some("u1"), 200), Some(user()))), Some(&c))),
        "server_error",
        "no ES256 key"
    );
}
