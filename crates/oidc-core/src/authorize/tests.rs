//! Tests of the authorization endpoint's states and errors (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636).
#![allow(clippy::type_complexity)]

use super::*;
use crate::model::{ClientType, JwtAlg};
use crate::rand::TestRandom;
use crate::secret::{ClientSecret, Digest};

const ISS: &str = "https://op.example/realms/r";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn client(kind: ClientType) -> Client {
    Client {
        realm: "r".into(),
        client_id: "rp".into(),
        name: "RP".into(),
        client_type: kind,
        client_secret: (kind == ClientType::Confidential).then(|| ClientSecret::new("s3cret".into())),
        response_types: vec![ResponseType::Code],
        jwt_alg: JwtAlg::Rs256,
        date_created: UnixTime(0),
        redirect_uris: vec!["https://rp.example/cb".into(), "http://127.0.0.1:8080/cb".into()],
        post_logout_redirect_uris: vec![],
        require_consent: true,
        reuse_consent: true,
        website_url: None,
        terms_url: None,
        contact_email: None,
        logo: None,
        allowed_scopes: vec![],
        enabled: true,
    }
}

pub(crate) fn session(auth_time: i64) -> LoginSession {
    LoginSession {
        digest: Digest::of("cookie"),
        id: "sid1".into(),
        realm: "r".into(),
        user_id: "u1".into(),
        auth_time: UnixTime(auth_time),
        expires_at: UnixTime(auth_time + 3600),
    }
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "rp"),
        ("redirect_uri", "https://rp.example/cb"),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
    ]
}

fn with(extra: &[(&'static str, &'static str)], without: &[&str]) -> Vec<(&'static str, &'static str)> {
    let mut p: Vec<_> = base().into_iter().filter(|(k, _)| !without.contains(k)).collect();
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        p.push((k, v));
    }
    p
}

fn run(params: Vec<(&'static str, &'static str)>, c: Option<&Client>) -> Result<Validated, AuthzError> {
    parse(params)?.with_client(c, ISS)
}

/// Runs a request expected to fail and renders the outcome as `page:<code>` or
/// `redirect:<code>:<state>`.
fn fails(params: Vec<(&'static str, &'static str)>, c: Option<&Client>) -> String {
    match run(params, c) {
        Ok(_) => "ok".into(),
        Err(AuthzError::ErrorPage(e)) => format!("page:{}", e.code),
        Err(AuthzError::Redirect(r)) => {
            assert_eq!(r.redirect_uri, "https://rp.example/cb", "errors only go to the registered URI");
            let get = |n: &str| r.params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or("-");
            assert_eq!(get("iss"), ISS, "RFC 9207 iss in every response");
            format!("redirect:{}:{}", get("error"), get("state"))
        }
    }
}

#[test]
fn errors_before_the_redirect_uri_is_trusted_show_a_page_rfc6749_4_1_2_1() {
    let c = client(ClientType::Confidential);
    let cases: Vec<(Vec<(&'static str, &'static str)>, Option<&Client>, &str)> = vec![
        (with(&[], &["client_id"]), Some(&c), "page:invalid_request"),
        (base(), None, "page:invalid_client"),
        (with(&[], &["redirect_uri"]), Some(&c), "page:invalid_request"),
        (with(&[("redirect_uri", "https://evil.example/cb")], &[]), Some(&c), "page:invalid_request"),
        // Exact comparison: a prefix, a trailing slash or an extra query do not match (RFC 9700 §4.1.3).
        (with(&[("redirect_uri", "https://rp.example/cb/")], &[]), Some(&c), "page:invalid_request"),
        (with(&[("redirect_uri", "https://rp.example/cb?x=1")], &[]), Some(&c), "page:invalid_request"),
    ];
    for (params, cl, want) in cases {
        assert_eq!(fails(params.clone(), cl), want, "{params:?}");
    }
    let repeated = vec![("client_id", "rp"), ("client_id", "rp")];
    assert_eq!(fails(repeated, Some(&c)), "page:invalid_request");
    let mut disabled = c.clone();
    disabled.enabled = false;
    assert_eq!(fails(base(), Some(&disabled)), "page:unauthorized_client");
}

#[test]
fn errors_after_the_redirect_uri_is_trusted_redirect_with_state_oidc_core_3_1_2_6() {
    let c = client(ClientType::Confidential);
    let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
        (with(&[], &["response_type"]), "redirect:invalid_request:st"),
        (with(&[("response_type", "token")], &[]), "redirect:unsupported_response_type:st"),
        (with(&[("response_type", "code id_token")], &[]), "redirect:unsupported_response_type:st"),
        (with(&[], &["scope"]), "redirect:invalid_scope:st"),
        (with(&[("scope", "unknown-scope")], &[]), "redirect:invalid_scope:st"),
        (with(&[("prompt", "none login")], &[]), "redirect:invalid_request:st"),
        (with(&[("prompt", "bogus")], &[]), "redirect:invalid_request:st"),
        (with(&[("max_age", "-1")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge_method", "S256")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge", "short")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S512")], &[]), "redirect:invalid_request:st"),
        (with(&[("request", "eyJ...")], &[]), "redirect:request_not_supported:st"),
        (with(&[("request_uri", "https://rp.example/r")], &[]), "redirect:request_uri_not_supported:st"),
        (with(&[("registration", "{}")], &[]), "redirect:registration_not_supported:st"),
        (with(&[("response_mode", "bogus")], &[]), "redirect:invalid_request:st"),
        (with(&[], &["state", "response_type"]), "redirect:invalid_request:-"),
    ];
    for (params, want) in cases {
        assert_eq!(fails(params.clone(), Some(&c)), want, "{params:?}");
    }
}

#[test]
fn response_type_must_be_registered_for_the_client() {
    // A client registered for no code flow cannot use it (the seed's response_types).
    let mut c = client(ClientType::Confidential);
    c.response_types = vec![ResponseType::IdToken];
    assert_eq!(fails(base(), Some(&c)), "redirect:unauthorized_client:st");
}

#[test]
fn public_clients_need_pkce_rfc7636_rfc9700_2_1_1() {
    let c = client(ClientType::Public);
    assert_eq!(fails(base(), Some(&c)), "redirect:invalid_request:st");
    let v = run(with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S256")], &[]), Some(&c)).unwrap();
    assert_eq!(v.code_challenge_method, Some(PkceMethod::S256));
    // RFC 7636 §4.3: the method defaults to plain.
    let v = run(with(&[("code_challenge", CHALLENGE)], &[]), Some(&c)).unwrap();
    assert_eq!(v.code_challenge_method, Some(PkceMethod::Plain));
}

#[test]
fn unknown_parameters_are_ignored_and_unknown_scopes_dropped_oidc_core_3_1_2_1() {
    let c = client(ClientType::Confidential);
    let v = run(with(&[("foo", "bar"), ("scope", "openid email made-up")], &[]), Some(&c)).unwrap();
    assert_eq!(v.scope.to_string(), "openid email");
    assert_eq!(v.state.as_deref(), Some("st"));
    assert_eq!(v.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(v.mode, ResponseMode::Query);
    let mut limited = c.clone();
    limited.allowed_scopes = vec!["openid".into()];
    let v = run(base(), Some(&limited)).unwrap();
    assert_eq!(v.scope.to_string(), "openid");
}

#[test]
fn decide_login_consent_issue_oidc_core_3_1_2_3_and_3_1_2_4() {
    let c = client(ClientType::Confidential);
    let v = run(base(), Some(&c)).unwrap();
    let s = session(1000);
    let now = UnixTime(1100);
    assert_eq!(v.decide(&c, None, false, None, now), Decision::Login);
    assert_eq!(v.decide(&c, Some(&s), false, None, now), Decision::Login, "inactive user");
    assert_eq!(v.decide(&c, Some(&s), true, None, now), Decision::Consent);
    let consent = v.consent("r", "u1", UnixTime(1050), &Settings::default());
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), now), Decision::Issue, "reuse_consent");
    // Consent expiry (OIDC_SKIP_CONSENT_EXPIRE).
    let later = UnixTime(1050 + Settings::default().consent_lifetime);
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), later), Decision::Consent);
    // Consent for fewer scopes is asked again.
    let mut narrow = consent.clone();
    narrow.scope = Scope::parse("openid").unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, Some(&narrow), now), Decision::Consent);
    // A client that does not reuse consent always asks.
    let mut no_reuse = c.clone();
    no_reuse.reuse_consent = false;
    assert_eq!(v.decide(&no_reuse, Some(&s), true, Some(&consent), now), Decision::Consent);
    // A confidential client that does not require consent skips it; a public one never does.
    let mut skip = c.clone();
    skip.require_consent = false;
    assert_eq!(v.decide(&skip, Some(&s), true, None, now), Decision::Issue);
    let mut public = client(ClientType::Public);
    public.require_consent = false;
    public.reuse_consent = false;
    assert_eq!(v.decide(&public, Some(&s), true, None, now), Decision::Consent);
}

#[test]
fn prompt_and_max_age_oidc_core_3_1_2_1() {
    let c = client(ClientType::Confidential);
    let s = session(1000);
    let now = UnixTime(1100);
    let v = run(with(&[("prompt", "none")], &[]), Some(&c)).unwrap();
    let err = |d: Decision| match d {
        Decision::Error(e) => e.oauth().code,
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(err(v.decide(&c, None, false, None, now)), ErrorCode::LoginRequired);
    assert_eq!(err(v.decide(&c, Some(&s), true, None, now)), ErrorCode::ConsentRequired);
    let v = run(with(&[("prompt", "login")], &[]), Some(&c)).unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, None, now), Decision::Login);
    assert!(v.params_after_login().iter().all(|(k, _)| k != "prompt"));
    let v = run(with(&[("prompt", "consent")], &[]), Some(&c)).unwrap();
    let consent = v.consent("r", "u1", now, &Settings::default());
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), now), Decision::Consent);
    let v = run(with(&[("max_age", "60")], &[]), Some(&c)).unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), now), Decision::Login, "auth_time too old");
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), UnixTime(1060)), Decision::Issue);
}

#[test]
fn issue_code_carries_state_and_binds_request_rfc6749_4_1_2() {
    let c = client(ClientType::Confidential);
    let v = run(with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S256")], &[]), Some(&c)).unwrap();
    let rng = TestRandom::default();
    let (code, rec, resp) = v.issue_code("r", &session(1000), UnixTime(1100), &Settings::default(), &rng);
    assert_eq!(rec.digest, code.digest());
    assert_eq!(rec.expires_at, UnixTime(1100 + 600));
    assert_eq!(rec.redirect_uri, "https://rp.example/cb");
    assert_eq!(rec.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(rec.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(rec.auth_time, UnixTime(1000));
    let loc = resp.location();
    assert!(loc.starts_with(&format!("https://rp.example/cb?code={}&state=st&iss=", code.secret())), "{loc}");
    assert!(code.secret().len() >= 43, "codes carry 256 bits");
    let denied = v.declined().oauth();
    assert_eq!(denied.code, ErrorCode::AccessDenied);
}
