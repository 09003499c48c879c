//! Tests of the token endpoint's states and errors (RFC 6749 §2.3, §4.1.3, §5.2, §6; RFC 7636 §4.6).
#![allow(clippy::type_complexity)]

use serde_json::json;

use super::*;
use crate::authorize::tests::{client, user};
use crate::jose::tests::record;
use crate::model::{ClientType, CodeRecord, KeyState};
use crate::pkce::PkceMethod;
use crate::rand::TestRandom;
use crate::secret::{AuthorizationCode, CodeVerifier, Digest};

static REGISTRY: std::sync::LazyLock<ScopeRegistry> = std::sync::LazyLock::new(ScopeRegistry::default);
static HOOKS: std::sync::LazyLock<Hooks> = std::sync::LazyLock::new(Hooks::default);

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))).unwrap()
}

pub(crate) fn code_record(challenge: bool) -> CodeRecord {
    CodeRecord {
        digest: Digest::of("code"),
        realm: "r".into(),
        client_id: "rp".into(),
        user_id: "u1".into(),
        redirect_uri: "https://rp.example/cb".into(),
        scope: Scope::parse("openid email").unwrap(),
        nonce: Some("n".into()),
        code_challenge: challenge.then(|| CHALLENGE.into()),
        code_challenge_method: challenge.then_some(PkceMethod::S256),
        auth_time: UnixTime(900),
        session_id: Some("sid".into()),
        expires_at: UnixTime(1600),
        grant_id: "g1".into(),
        acr: None,
        claims: None,
        resources: vec![],
    }
}

#[test]
fn parse_basic_and_post_credentials_rfc6749_2_3_1() {
    // "rp:s3 cret" with the secret form-encoded as RFC 6749 §2.3.1 requires.
    let basic = format!("Basic {}", STANDARD.encode("rp:s3+cret"));
    let r = parse(params(&[("grant_type", "authorization_code"), ("code", "c")]), Some(&basic)).unwrap();
    let ClientCredentials::Basic { client_id, secret } = &r.credentials else { panic!("expected Basic") };
    assert_eq!(client_id, "rp");
    assert_eq!(secret.as_ref().unwrap().secret(), "s3 cret");
    let r =
        parse(params(&[("grant_type", "refresh_token"), ("refresh_token", "t"), ("client_id", "rp")]), None).unwrap();
    assert!(matches!(r.credentials, ClientCredentials::Post { .. }));
    assert!(matches!(r.grant, GrantRequest::RefreshToken { .. }));
}

#[test]
fn parse_errors_rfc6749_5_2() {
    let basic = format!("Basic {}", STANDARD.encode("rp:s"));
    let cases: Vec<(Vec<(&str, &str)>, Option<&str>, ErrorCode)> = vec![
        (vec![("code", "c"), ("client_id", "rp")], None, ErrorCode::InvalidRequest),
        (vec![("grant_type", "password"), ("client_id", "rp")], None, ErrorCode::InvalidRequest),
        (vec![("grant_type", "device_code"), ("client_id", "rp")], None, ErrorCode::UnsupportedGrantType),
        (vec![("grant_type", "authorization_code"), ("client_id", "rp")], None, ErrorCode::InvalidRequest),
        (vec![("grant_type", "authorization_code"), ("code", "c")], None, ErrorCode::InvalidClient),
        (
            vec![("grant_type", "authorization_code"), ("code", "c"), ("client_secret", "s")],
            Some(&basic),
            ErrorCode::InvalidRequest,
        ),
        (vec![("grant_type", "authorization_code"), ("code", "c")], Some("Basic !!!"), ErrorCode::InvalidClient),
        (vec![("grant_type", "authorization_code"), ("code", "c")], Some("Bearer x"), ErrorCode::InvalidClient),
        (vec![("grant_type", "refresh_token"), ("client_id", "rp")], None, ErrorCode::InvalidRequest),
    ];
    for (p, auth, want) in cases {
        assert_eq!(parse(params(&p), auth).unwrap_err().code, want, "{p:?} {auth:?}");
    }
}

#[test]
fn credentials_are_read_without_parsing_the_grant_rfc6749_2_3() {
    // An invalid scope (RFC 6749 §3.3) does not stop the credentials from being read,
    // so the client is authenticated (and an unknown one refused) before it is parsed.
    let mut p = params(&[("grant_type", "client_credentials"), ("scope", "bad\"scope"), ("client_id", "rp")]);
    let creds = parse_credentials(&mut p, None).unwrap();
    assert_eq!(creds.client_id(), "rp");
    assert_eq!(parse_grant(p).unwrap_err().code, ErrorCode::InvalidScope);
}

#[test]
fn authenticate_clients_rfc6749_2_3() {
    let conf = client(ClientType::Confidential);
    let public = client(ClientType::Public);
    let creds = |secret: Option<&str>| ClientCredentials::Post {
        client_id: "rp".into(),
        secret: secret.map(|s| crate::secret::ClientSecret::new(s.into())),
    };
    assert!(authenticate(&creds(Some("s3cret")), Some(&conf)).is_ok());
    assert_eq!(authenticate(&creds(Some("wrong")), Some(&conf)).unwrap_err().code, ErrorCode::InvalidClient);
    assert_eq!(authenticate(&creds(None), Some(&conf)).unwrap_err().code, ErrorCode::InvalidClient);
    assert_eq!(authenticate(&creds(Some("s3cret")), None).unwrap_err().code, ErrorCode::InvalidClient);
    assert!(authenticate(&creds(None), Some(&public)).is_ok());
    assert_eq!(authenticate(&creds(Some("x")), Some(&public)).unwrap_err().code, ErrorCode::InvalidClient);
    let mut disabled = conf.clone();
    disabled.enabled = false;
    assert_eq!(authenticate(&creds(Some("s3cret")), Some(&disabled)).unwrap_err().code, ErrorCode::InvalidClient);
}

fn refused(r: Result<Grant, GrantFailure>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(GrantFailure::Refused(e)) => e.code.to_string(),
        Err(GrantFailure::Replay { grant_id, error }) => format!("replay:{grant_id}:{}", error.code),
    }
}

#[test]
fn code_checks_rfc6749_4_1_3_and_rfc7636_4_6() {
    let c = client(ClientType::Confidential);
    let cb = Some("https://rp.example/cb");
    let v = |s: &str| Some(CodeVerifier::new(s.into()));
    let now = UnixTime(1000);
    let cases: Vec<(Redeemed, Option<&str>, Option<CodeVerifier>, UnixTime, &str)> = vec![
        (Redeemed::First(code_record(true)), cb, v(VERIFIER), now, "ok"),
        (Redeemed::Unknown, cb, v(VERIFIER), now, "invalid_grant"),
        (Redeemed::Replayed(code_record(true)), cb, v(VERIFIER), now, "replay:g1:invalid_grant"),
        (Redeemed::First(code_record(true)), cb, v(VERIFIER), UnixTime(1600), "invalid_grant"),
        (Redeemed::First(code_record(true)), Some("https://rp.example/other"), v(VERIFIER), now, "invalid_grant"),
        (Redeemed::First(code_record(true)), None, v(VERIFIER), now, "invalid_grant"),
        (Redeemed::First(code_record(true)), cb, None, now, "invalid_grant"),
        (Redeemed::First(code_record(true)), cb, v(&"a".repeat(43)), now, "invalid_grant"),
        (Redeemed::First(code_record(false)), cb, v(VERIFIER), now, "invalid_grant"),
        (Redeemed::First(code_record(false)), cb, None, now, "ok"),
    ];
    for (redeemed, redirect, verifier, at, want) in cases {
        let got = refused(check_code(redeemed, &c, redirect, verifier.as_ref(), at));
        assert_eq!(got, want, "{redirect:?} at {at}");
    }
    let mut other = c.clone();
    other.client_id = "other".into();
    assert_eq!(refused(check_code(Redeemed::First(code_record(false)), &other, cb, None, now)), "invalid_grant");
    // RFC 6749 §4.1.3: another client's code is refused without revoking anything.
    assert_eq!(refused(check_code(Redeemed::OtherClient, &other, cb, None, now)), "invalid_grant");
    assert_eq!(refused(check_code(Redeemed::Replayed(code_record(false)), &other, cb, None, now)), "invalid_grant");
}

pub(crate) fn refresh_record() -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: Digest::of("rt"),
        realm: "r".into(),
        client_id: "rp".into(),
        user_id: "u1".into(),
        scope: Scope::parse("openid email").unwrap(),
        expires_at: UnixTime(5000),
        grant_id: "g1".into(),
        auth_time: UnixTime(900),
        session_id: None,
        claims: None,
        issued_at: UnixTime(900),
        audience: Vec::new(),
        jti: "r1".into(),
        offline: false,
    }
}

#[test]
fn refresh_checks_rotation_and_narrowing_rfc6749_6() {
    let c = client(ClientType::Confidential);
    let now = UnixTime(1000);
    let narrow = Scope::parse("openid").unwrap();
    let wide = Scope::parse("openid profile").unwrap();
    assert_eq!(refused(check_refresh(Rotated::First(refresh_record()), &c, None, now)), "ok");
    let g = check_refresh(Rotated::First(refresh_record()), &c, Some(&narrow), now).unwrap();
    assert_eq!(g.scope.to_string(), "openid");
    assert_eq!(refused(check_refresh(Rotated::First(refresh_record()), &c, Some(&wide), now)), "invalid_scope");
    assert_eq!(refused(check_refresh(Rotated::Replayed(refresh_record()), &c, None, now)), "replay:g1:invalid_grant");
    assert_eq!(refused(check_refresh(Rotated::Unknown, &c, None, now)), "invalid_grant");
    // Reused within the reuse interval: a new pair from the same grant.
    assert_eq!(check_refresh(Rotated::Reused(refresh_record()), &c, None, now).unwrap().grant_id, "g1");
    // RFC 6749 §6: another client's refresh token is refused, never a replay that revokes the grant.
    let mut other = c.clone();
    other.client_id = "other".into();
    assert_eq!(refused(check_refresh(Rotated::OtherClient, &other, None, now)), "invalid_grant");
    assert_eq!(refused(check_refresh(Rotated::Replayed(refresh_record()), &other, None, now)), "invalid_grant");
    assert_eq!(refused(check_refresh(Rotated::First(refresh_record()), &c, None, UnixTime(5000))), "invalid_grant");
}

#[test]
fn issue_signs_id_token_with_at_hash_and_nonce_oidc_core_3_1_3_6() {
    let c = client(ClientType::Confidential);
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    let settings = Settings::default();
    let u = user();
    let ctx = IssueContext {
        realm: "r",
        issuer: "https://op.example/realms/r",
        client: &c,
        user: &u,
        subject: "u1",
        registry: &REGISTRY,
        hooks: &HOOKS,
        keys: &keys,
        realm_secret: b"realm-secret",
        settings: &settings,
        roles: &[],
        now: UnixTime(1000),
    };
    let grant = check_code(
        Redeemed::First(code_record(true)),
        &c,
        Some("https://rp.example/cb"),
        Some(&CodeVerifier::new(VERIFIER.into())),
        UnixTime(1000),
    )
    .unwrap();
    let rng = TestRandom::default();
    let issued = issue(&ctx, grant, &rng).unwrap();
    assert_eq!(issued.expires_in, 3600);
    assert_eq!(issued.access_record.digest, issued.access_token.digest());
    assert_eq!(issued.refresh.as_ref().unwrap().1.grant_id, "g1");
    // The refresh token is a JWT envelope (as Keycloak's are, which its adapters
    // decode); the provider finds it by digest only.
    let (refresh_token, refresh_record) = issued.refresh.as_ref().unwrap();
    assert_eq!(refresh_record.digest, refresh_token.digest());
    let key = crate::sealed::derive_key(b"realm-secret", "refresh-token-envelope");
    let rt = crate::jose::verify(refresh_token.secret(), &["HS256"], &[crate::jose::VerifyKey::Hmac(key.to_vec())])
        .expect("an HS256 envelope under the realm-derived key");
    assert_eq!(rt.claims["typ"], "Refresh");
    assert_eq!(rt.claims["azp"], "rp");
    assert_eq!(rt.claims["exp"], refresh_record.expires_at.secs());
    assert_eq!(rt.claims["jti"], refresh_record.jti.as_str());
    let jws = issued.id_token.unwrap();
    let v = crate::jose::verify(&jws, &["RS256"], keys.verify_keys()).unwrap();
    let cl = &v.claims;
    assert_eq!(cl["iss"], "https://op.example/realms/r");
    assert_eq!(cl["sub"], "u1");
    assert_eq!(cl["aud"], "rp");
    assert_eq!(cl["nonce"], "n");
    assert_eq!(cl["auth_time"], 900);
    assert_eq!(cl["iat"], 1000);
    assert_eq!(cl["exp"], 1600);
    assert_eq!(
        cl["at_hash"],
        crate::jose::half_hash(crate::model::JwtAlg::Rs256, issued.access_token.secret()).as_str()
    );
    // HS256 clients get an id_token keyed by their secret (OIDC Core §10.1).
    let mut hs = c.clone();
    hs.jwt_alg = crate::model::JwtAlg::Hs256;
    let ctx = IssueContext { client: &hs, ..ctx };
    let grant =
        check_code(Redeemed::First(code_record(false)), &hs, Some("https://rp.example/cb"), None, UnixTime(1000))
            .unwrap();
    let jws = issue(&ctx, grant, &rng).unwrap().id_token.unwrap();
    assert!(crate::jose::verify(&jws, &["HS256"], &[crate::jose::VerifyKey::Hmac(b"s3cret".to_vec())]).is_ok());
    // No openid scope, no id_token; an inactive user gets nothing.
    let mut grant =
        check_code(Redeemed::First(code_record(false)), &hs, Some("https://rp.example/cb"), None, UnixTime(1000))
            .unwrap();
    grant.scope = Scope::parse("email").unwrap();
    assert!(issue(&ctx, grant.clone(), &rng).unwrap().id_token.is_none());
    let mut inactive = user();
    inactive.active = false;
    let ctx = IssueContext { user: &inactive, ..ctx };
    assert_eq!(issue(&ctx, grant, &rng).unwrap_err().code, ErrorCode::InvalidGrant);
    let _ = AuthorizationCode::new("unused".into());
}

/// Keycloak Server Administration Guide, "Client scopes" (the `roles` scope
/// puts `realm_access.roles` in tokens) and "Role scope mappings" (a client
/// without full scope carries only its mapped roles).
#[test]
fn id_token_carries_realm_access_under_the_roles_scope_keycloak_client_scopes() {
    let mut c = client(ClientType::Confidential);
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    let (settings, u) = (Settings::default(), user());
    let roles = vec!["admin".to_owned(), "reader".to_owned()];
    let rng = TestRandom::default();
    let id_token = |c: &Client, scope: &str| {
        let ctx = IssueContext {
            realm: "r",
            issuer: "https://op/r",
            client: c,
            user: &u,
            subject: "u1",
            registry: &REGISTRY,
            hooks: &HOOKS,
            keys: &keys,
            realm_secret: b"realm-secret",
            settings: &settings,
            roles: &roles,
            now: UnixTime(1),
        };
        let grant = password_grant("u1", Scope::parse(scope).unwrap(), UnixTime(1), &rng);
        let jws = issue(&ctx, grant, &rng).unwrap().id_token.unwrap();
        crate::jose::verify(&jws, &["RS256"], keys.verify_keys()).unwrap().claims
    };
    assert_eq!(id_token(&c, "openid roles")["realm_access"], json!({"roles": ["admin", "reader"]}));
    assert!(id_token(&c, "openid").get("realm_access").is_none(), "without the roles scope");
    c.full_scope_allowed = false;
    c.role_scope = vec!["reader".into()];
    assert_eq!(id_token(&c, "openid roles")["realm_access"], json!({"roles": ["reader"]}));
    c.role_scope.clear();
    assert!(id_token(&c, "openid roles").get("realm_access").is_none(), "no role in the role scope");
}

#[test]
fn grant_types_must_be_registered_and_password_switched_on_rfc6749_5_2() {
    let mut conf = client(ClientType::Confidential);
    let public = client(ClientType::Public);
    let mut on = Settings::default();
    let cc = GrantRequest::ClientCredentials { scope: None };
    let pw = GrantRequest::Password {
        username: "alice".into(),
        password: crate::secret::Password::new("pw".into()),
        scope: None,
    };
    // Not registered for the client: unauthorized_client.
    assert_eq!(check_grant_type(&cc, &conf, &on).unwrap_err().code, ErrorCode::UnauthorizedClient);
    conf.grant_types.push(GrantType::ClientCredentials);
    conf.grant_types.push(GrantType::Password);
    assert!(check_grant_type(&cc, &conf, &on).is_ok());
    // RFC 6749 §4.4: confidential clients only.
    let mut public_cc = public.clone();
    public_cc.grant_types.push(GrantType::ClientCredentials);
    assert_eq!(check_grant_type(&cc, &public_cc, &on).unwrap_err().code, ErrorCode::UnauthorizedClient);
    // The password grant is off unless the realm switches it on (OIDC_GRANT_TYPE_PASSWORD_ENABLE).
    assert_eq!(check_grant_type(&pw, &conf, &on).unwrap_err().code, ErrorCode::UnsupportedGrantType);
    on.password_grant_enabled = true;
    assert!(check_grant_type(&pw, &conf, &on).is_ok());
    assert_eq!(check_grant_type(&pw, &public, &on).unwrap_err().code, ErrorCode::UnauthorizedClient);
}

#[test]
fn password_and_client_credentials_parse_and_scope_rfc6749_4_3_2_and_4_4_2() {
    let r = parse(
        params(&[("grant_type", "password"), ("username", "alice"), ("password", "pw"), ("client_id", "rp")]),
        None,
    )
    .unwrap();
    let GrantRequest::Password { username, password, scope } = &r.grant else { panic!("expected password") };
    assert_eq!((username.as_str(), password.secret(), scope), ("alice", "pw", &None));
    assert!(!format!("{r:?}").contains("\"pw\""), "the password never shows in Debug");
    let r =
        parse(params(&[("grant_type", "client_credentials"), ("scope", "api"), ("client_id", "rp")]), None).unwrap();
    assert!(matches!(r.grant, GrantRequest::ClientCredentials { scope: Some(_) }));

    let mut c = client(ClientType::Confidential);
    c.allowed_scopes = vec!["openid".into(), "email".into()];
    let known = |s: &str| ["openid", "email", "profile"].contains(&s);
    let default = Scope::parse("openid profile").unwrap();
    let want = Scope::parse("openid email profile").unwrap();
    assert_eq!(grantable_scope(Some(&want), &c, known, &default).unwrap().to_string(), "openid email");
    assert_eq!(grantable_scope(None, &c, known, &default).unwrap().to_string(), "openid");
    let none_allowed = Scope::parse("profile unknown").unwrap();
    assert_eq!(grantable_scope(Some(&none_allowed), &c, known, &default).unwrap_err().code, ErrorCode::InvalidScope);
}

#[test]
fn client_credentials_token_has_no_user_and_no_refresh_rfc6749_4_4_3() {
    let c = client(ClientType::Confidential);
    let rng = TestRandom::default();
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    let settings = Settings::default();
    let ctx = ServiceContext {
        realm: "r",
        issuer: "https://op/r",
        client: &c,
        keys: &keys,
        registry: &REGISTRY,
        settings: &settings,
        roles: &[],
        now: UnixTime(10),
    };
    let minted = issue_client_credentials(&ctx, &Scope::parse("api").unwrap(), &[], &rng).unwrap();
    let rec = minted.record;
    assert_eq!(rec.digest, minted.value.digest());
    assert_eq!(rec.user_id, None);
    assert_eq!(rec.expires_at, UnixTime(3610));
    let g = password_grant("u1", Scope::parse("openid").unwrap(), UnixTime(5), &rng);
    assert_eq!((g.user_id.as_str(), g.auth_time, g.nonce), ("u1", UnixTime(5), None));
}

#[test]
fn no_refresh_token_for_clients_without_the_grant() {
    let mut c = client(ClientType::Confidential);
    c.grant_types.retain(|g| *g != GrantType::RefreshToken);
    let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
    let (settings, u) = (Settings::default(), user());
    let ctx = IssueContext {
        realm: "r",
        issuer: "https://op/r",
        client: &c,
        user: &u,
        subject: "u1",
        registry: &REGISTRY,
        hooks: &HOOKS,
        keys: &keys,
        realm_secret: b"realm-secret",
        settings: &settings,
        roles: &[],
        now: UnixTime(1),
    };
    let rng = TestRandom::default();
    let issued = issue(&ctx, password_grant("u1", Scope::parse("openid").unwrap(), UnixTime(1), &rng), &rng).unwrap();
    assert!(issued.refresh.is_none());
    assert!(issued.id_token.is_some());
}

fn assertion(secret: &[u8], claims: serde_json::Value) -> String {
    crate::jose::sign_hs256(claims.as_object().unwrap(), secret)
}

#[test]
fn client_secret_jwt_assertions_rfc7523_3_and_oidc_core_9() {
    let c = client(ClientType::Confidential);
    let aud = ["https://op/token"];
    let good = json!({"iss": "rp", "sub": "rp", "aud": "https://op/token", "exp": 1100, "jti": "j1"});
    let parse_with = |a: &str| {
        parse(
            params(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", a),
            ]),
            None,
        )
    };
    let tr = parse_with(&assertion(b"s3cret", good.clone())).unwrap();
    assert_eq!(tr.credentials.client_id(), "rp");
    let used = authenticate_assertion(&tr.credentials, Some(&c), &aud, UnixTime(1000)).unwrap();
    assert_eq!(used, AssertionUse { jti: "j1".into(), expires_at: UnixTime(1100) });
    assert!(authenticate(&tr.credentials, Some(&c)).is_err(), "assertions are not secrets");
    let refused = |claims: serde_json::Value, secret: &[u8], now: i64| {
        let tr = parse_with(&assertion(secret, claims)).unwrap();
        authenticate_assertion(&tr.credentials, Some(&c), &aud, UnixTime(now)).unwrap_err().code
    };
    assert_eq!(refused(good.clone(), b"wrong", 1000), ErrorCode::InvalidClient);
    assert_eq!(refused(good.clone(), b"s3cret", 1100), ErrorCode::InvalidClient, "expired");
    let mut far = good.clone();
    far["exp"] = json!(9999);
    assert_eq!(refused(far, b"s3cret", 1000), ErrorCode::InvalidClient, "exp too far ahead");
    let mut other_aud = good.clone();
    other_aud["aud"] = json!(["https://elsewhere"]);
    assert_eq!(refused(other_aud, b"s3cret", 1000), ErrorCode::InvalidClient);
    let mut iss = good.clone();
    iss["iss"] = json!("mallory");
    assert_eq!(refused(iss, b"s3cret", 1000), ErrorCode::InvalidClient);
    let mut no_jti = good.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_eq!(refused(no_jti, b"s3cret", 1000), ErrorCode::InvalidClient);
    // Parsing: a client_id that differs from sub, two methods at once, a wrong type.
    let a = assertion(b"s3cret", good);
    let p = |pairs: &[(&str, &str)], auth: Option<&str>| parse(params(pairs), auth).unwrap_err().code;
    assert_eq!(
        p(
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
                ("client_id", "x")
            ],
            None
        ),
        ErrorCode::InvalidClient
    );
    let basic = format!("Basic {}", STANDARD.encode("rp:s3cret"));
    assert_eq!(
        p(
            &[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("client_assertion", &a)],
            Some(&basic)
        ),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        p(&[("grant_type", "client_credentials"), ("client_assertion_type", "saml"), ("client_assertion", &a)], None),
        ErrorCode::InvalidClient
    );
}

#[test]
fn private_key_jwt_assertions_verify_with_the_clients_keys_rfc7523() {
    let key_rec = crate::jose::tests::record_of("ck", crate::model::JwtAlg::Es256, KeyState::Active, 1);
    let key = crate::jose::SigningKey::from_record(&key_rec).unwrap();
    let mut c = client(ClientType::Confidential);
    c.jwks = Some(json!({"keys": [key.public_jwk()]}).to_string());
    let claims = json!({"iss": "rp", "sub": "rp", "aud": ["https://op/token"], "exp": 1100, "jti": "k1"});
    let signed = key.sign(claims.as_object().unwrap());
    let tr = parse(
        params(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &signed),
        ]),
        None,
    )
    .unwrap();
    assert!(authenticate_assertion(&tr.credentials, Some(&c), &["https://op/token"], UnixTime(1000)).is_ok());
    // Another key, or no keys registered, does not verify.
    let other = crate::jose::SigningKey::from_record(&crate::jose::tests::record_of(
        "ck",
        crate::model::JwtAlg::Es256,
        KeyState::Active,
        1,
    ))
    .unwrap();
    let forged = other.sign(claims.as_object().unwrap());
    let tr2 = parse(
        params(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &forged),
        ]),
        None,
    )
    .unwrap();
    assert!(authenticate_assertion(&tr2.credentials, Some(&c), &["https://op/token"], UnixTime(1000)).is_err());
    c.jwks = None;
    assert!(authenticate_assertion(&tr.credentials, Some(&c), &["https://op/token"], UnixTime(1000)).is_err());
}

#[test]
fn a_registered_auth_method_is_enforced_rfc7591_2() {
    let mut c = client(ClientType::Confidential);
    c.token_endpoint_auth_method = Some(crate::model::TokenAuthMethod::ClientSecretPost);
    let post = ClientCredentials::Post {
        client_id: "rp".into(),
        secret: Some(crate::secret::ClientSecret::new("s3cret".into())),
    };
    let basic = ClientCredentials::Basic {
        client_id: "rp".into(),
        secret: Some(crate::secret::ClientSecret::new("s3cret".into())),
    };
    assert!(authenticate(&post, Some(&c)).is_ok());
    assert_eq!(
        authenticate(&basic, Some(&c)).unwrap_err().code,
        ErrorCode::InvalidClient,
        "basic is not the registered method"
    );
    c.token_endpoint_auth_method = Some(crate::model::TokenAuthMethod::PrivateKeyJwt);
    let claims = json!({"iss": "rp", "sub": "rp", "aud": "https://op/token", "exp": 1100, "jti": "j"});
    let hs = crate::jose::sign_hs256(claims.as_object().unwrap(), b"s3cret");
    let tr = parse(
        params(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &hs),
        ]),
        None,
    )
    .unwrap();
    assert!(
        authenticate_assertion(&tr.credentials, Some(&c), &["https://op/token"], UnixTime(1000)).is_err(),
        "HS256 is client_secret_jwt"
    );
    c.token_endpoint_auth_method = None;
    assert!(authenticate(&basic, Some(&c)).is_ok(), "operator-created clients may use any method");
}

#[test]
fn resource_indicators_are_absolute_uris_and_narrow_on_refresh_rfc8707_2() {
    let ok =
        parse_resources(vec!["https://api.example/".into(), "urn:x:y".into(), "https://api.example/".into()]).unwrap();
    assert_eq!(ok, ["https://api.example/", "urn:x:y"], "duplicates dropped");
    for bad in ["api", "https://api.example/#frag", ":x", "1http://x", "https://a b"] {
        assert_eq!(parse_resources(vec![bad.into()]).unwrap_err().code, ErrorCode::InvalidTarget, "{bad}");
    }
    let many: Vec<String> = (0..11).map(|i| format!("https://api{i}.example")).collect();
    assert_eq!(parse_resources(many).unwrap_err().code, ErrorCode::InvalidTarget);
    // A new grant takes the requested resources; a refresh may only narrow them (§2.2).
    let g = password_grant("u1", Scope::default(), UnixTime(0), &TestRandom::default());
    let g = with_resources(g, vec!["https://a".into(), "https://b".into()]).unwrap();
    assert_eq!(g.audience, ["https://a", "https://b"]);
    let narrowed = with_resources(g.clone(), vec!["https://b".into()]).unwrap();
    assert_eq!(narrowed.audience, ["https://b"]);
    assert_eq!(with_resources(g.clone(), vec!["https://c".into()]).unwrap_err().code, ErrorCode::InvalidTarget);
    assert_eq!(with_resources(g, vec![]).unwrap().audience.len(), 2, "no resource keeps the grant's");
}

#[test]
fn narrowing_is_checked_before_the_refresh_token_is_spent_rfc6749_6_rfc8707_2_2() {
    let c = client(ClientType::Confidential);
    let mut rec = refresh_record();
    rec.audience = vec!["https://a".into()];
    assert!(precheck_refresh(&rec, &c, Some(&Scope::parse("openid").unwrap()), &["https://a".into()]).is_ok());
    let wide = Scope::parse("openid profile").unwrap();
    assert_eq!(precheck_refresh(&rec, &c, Some(&wide), &[]).unwrap_err().code, ErrorCode::InvalidScope);
    assert_eq!(precheck_refresh(&rec, &c, None, &["https://b".into()]).unwrap_err().code, ErrorCode::InvalidTarget);
    let mut other = c.clone();
    other.client_id = "other".into();
    assert_eq!(precheck_refresh(&rec, &other, None, &[]).unwrap_err().code, ErrorCode::InvalidGrant);
}

#[test]
fn grants_of_a_session_need_it_alive_unless_offline_keycloak_sso_session_and_oidc_core_11() {
    let mut rec = refresh_record();
    rec.session_id = Some("sid1".into());
    let c = client(ClientType::Confidential);
    let g = check_refresh(Rotated::First(rec.clone()), &c, None, UnixTime(1000)).unwrap();
    assert!(g.needs_session());
    let alive = crate::authorize::tests::session(900);
    assert!(g.check_session(Some(&alive)).is_ok());
    assert_eq!(g.check_session(None).unwrap_err().code, ErrorCode::InvalidGrant, "ended or idle: invalid_grant");
    let mut someone_else = alive.clone();
    someone_else.user_id = "u2".into();
    assert!(g.check_session(Some(&someone_else)).is_err());
    rec.scope = Scope::parse("openid offline_access").unwrap();
    let offline = check_refresh(Rotated::First(rec), &c, None, UnixTime(1000)).unwrap();
    assert!(offline.is_offline() && !offline.needs_session());
    assert!(offline.check_session(None).is_ok(), "offline tokens outlive the session");
}
