//! Access tokens: opaque or JWT (RFC 9068 §2).

use super::*;
use crate::authorize::tests::{client, user};
use crate::jose::tests::record;
use crate::model::{ClientType, KeyState};
use crate::rand::TestRandom;

fn keys() -> KeySet {
    KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap()
}

fn input<'a>(
    c: &'a Client,
    u: Option<&'a User>,
    keys: &'a KeySet,
    settings: &'a Settings,
    registry: &'a ScopeRegistry,
    scope: &'a Scope,
    audience: &'a [String],
) -> AccessTokenInput<'a> {
    AccessTokenInput {
        realm: "r",
        issuer: "https://op/realms/r",
        keys,
        client: c,
        user: u,
        subject: u.map(|_| "pairwise-1"),
        scope,
        grant_id: "g1",
        session_id: u.map(|_| "sid1"),
        auth_time: Some(UnixTime(900)),
        claims: None,
        audience,
        registry,
        settings,
        roles: &[],
        now: UnixTime(1000),
    }
}

#[test]
fn opaque_by_default_with_the_configured_lifetime() {
    let (c, u, k, s, r) =
        (client(ClientType::Confidential), user(), keys(), Settings::default(), ScopeRegistry::default());
    let scope = Scope::parse("openid").unwrap();
    let m = mint(&input(&c, Some(&u), &k, &s, &r, &scope, &[]), &TestRandom::default()).unwrap();
    assert_eq!(m.value.secret().split('.').count(), 1, "not a JWT");
    assert_eq!((m.expires_in, m.record.expires_at, m.record.issued_at), (3600, UnixTime(4600), UnixTime(1000)));
    assert_eq!(m.record.digest, m.value.digest());
    assert_eq!(m.record.session_id.as_deref(), Some("sid1"));
    assert!(!m.record.jti.is_empty());
}

#[test]
fn jwt_access_token_header_and_claims_rfc9068_2() {
    let mut c = client(ClientType::Confidential);
    c.access_token_format = Some(AccessTokenFormat::Jwt);
    let (u, k, s, r) = (user(), keys(), Settings::default(), ScopeRegistry::default());
    let scope = Scope::parse("openid email").unwrap();
    let m = mint(&input(&c, Some(&u), &k, &s, &r, &scope, &[]), &TestRandom::default()).unwrap();
    assert_eq!(m.expires_in, 300, "JWT access tokens live short by default");
    let v = crate::jose::verify(m.value.secret(), &["RS256"], k.verify_keys()).unwrap();
    assert_eq!(v.header["typ"], "at+jwt", "RFC 9068 §2.1");
    let cl = serde_json::Value::Object(v.claims);
    assert_eq!(
        cl,
        json!({"iss": "https://op/realms/r", "sub": "pairwise-1", "aud": "rp", "exp": 1300, "iat": 1000,
               "auth_time": 900, "jti": m.record.jti, "client_id": "rp", "scope": "openid email", "sid": "sid1",
               "azp": "rp", "typ": "Bearer", "email": "alice@example.com"})
    );
    assert_eq!(m.record.digest, m.value.digest(), "stored by digest like an opaque token");
}

#[test]
fn jwt_audience_is_the_resource_indicators_rfc9068_3_and_profile_claims_follow_the_scope() {
    let mut c = client(ClientType::Confidential);
    c.access_token_format = Some(AccessTokenFormat::Jwt);
    let (u, k, s, r) = (user(), keys(), Settings::default(), ScopeRegistry::default());
    let scope = Scope::parse("openid profile").unwrap();
    let aud = vec!["https://api.example".to_owned(), "https://other.example".to_owned()];
    let m = mint(&input(&c, Some(&u), &k, &s, &r, &scope, &aud), &TestRandom::default()).unwrap();
    let cl = crate::jose::verify(m.value.secret(), &["RS256"], k.verify_keys()).unwrap().claims;
    assert_eq!(cl["aud"], json!(["https://api.example", "https://other.example"]));
    assert_eq!(cl["preferred_username"], "alice");
    assert!(cl.get("email").is_none(), "email was not granted");
    assert_eq!(m.record.audience, aud);
}

#[test]
fn realm_default_format_and_client_credentials_sub_rfc9068_2_2() {
    let c = client(ClientType::Confidential);
    let s =
        Settings { access_token_format: AccessTokenFormat::Jwt, jwt_access_token_lifetime: 60, ..Settings::default() };
    let (k, r) = (keys(), ScopeRegistry::default());
    let scope = Scope::parse("api").unwrap();
    let m = mint(&input(&c, None, &k, &s, &r, &scope, &[]), &TestRandom::default()).unwrap();
    assert_eq!(m.expires_in, 60);
    let cl = crate::jose::verify(m.value.secret(), &["RS256"], k.verify_keys()).unwrap().claims;
    assert_eq!(cl["sub"], "rp", "no resource owner: the client");
    assert!(cl.get("auth_time").is_none() && cl.get("sid").is_none());
    // A client that asked for opaque tokens keeps them.
    let mut opaque = c.clone();
    opaque.access_token_format = Some(AccessTokenFormat::Opaque);
    assert_eq!(format_for(&opaque, &s), AccessTokenFormat::Opaque);
}

#[test]
fn jwt_with_an_algorithm_the_realm_has_no_key_for_is_a_server_error() {
    let mut c = client(ClientType::Confidential);
    c.access_token_format = Some(AccessTokenFormat::Jwt);
    c.access_token_signed_response_alg = Some(JwtAlg::Es256);
    let (k, s, r) = (keys(), Settings::default(), ScopeRegistry::default());
    let scope = Scope::default();
    let e = mint(&input(&c, None, &k, &s, &r, &scope, &[]), &TestRandom::default()).unwrap_err();
    assert_eq!(e.code, crate::ErrorCode::ServerError);
}

/// Keycloak Server Administration Guide, "Client scopes" (the `roles` scope
/// puts `realm_access.roles` in access tokens) and "Role scope mappings".
#[test]
fn jwt_access_token_carries_realm_access_under_the_roles_scope_keycloak_client_scopes() {
    let mut c = client(ClientType::Confidential);
    c.access_token_format = Some(AccessTokenFormat::Jwt);
    let (u, k, s, r) = (user(), keys(), Settings::default(), ScopeRegistry::default());
    let roles = vec!["reader".to_owned(), "writer".to_owned()];
    let claims = |c: &Client, user: Option<&User>, scope: &str| {
        let scope = Scope::parse(scope).unwrap();
        let m = mint(
            &AccessTokenInput { roles: &roles, ..input(c, user, &k, &s, &r, &scope, &[]) },
            &TestRandom::default(),
        )
        .unwrap();
        crate::jose::verify(m.value.secret(), &["RS256"], k.verify_keys()).unwrap().claims
    };
    assert_eq!(claims(&c, Some(&u), "openid roles")["realm_access"], json!({"roles": ["reader", "writer"]}));
    assert!(claims(&c, Some(&u), "openid").get("realm_access").is_none(), "without the roles scope");
    // A service account's token (no user) carries the client's own roles the same way.
    assert_eq!(claims(&c, None, "roles")["realm_access"], json!({"roles": ["reader", "writer"]}));
    c.full_scope_allowed = false;
    c.role_scope = vec!["writer".into()];
    assert_eq!(claims(&c, Some(&u), "openid roles")["realm_access"], json!({"roles": ["writer"]}));
}
