//! Tests of the authorization endpoint's states and errors (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636).
#![allow(clippy::type_complexity)]

use super::*;
use crate::model::ClientType;
use crate::rand::TestRandom;
use crate::secret::{ClientSecret, Digest};

const ISS: &str = "https://op.example/realms/r";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn client(kind: ClientType) -> Client {
    let mut settings = crate::model::ClientSettings::new(
        "RP",
        kind,
        vec!["https://rp.example/cb".into(), "http://127.0.0.1:8080/cb".into()],
    );
    settings.grant_types = vec![crate::model::GrantType::AuthorizationCode, crate::model::GrantType::RefreshToken];
    Client {
        realm: "r".into(),
        client_id: "rp".into(),
        client_secret: (kind == ClientType::Confidential).then(|| ClientSecret::new("s3cret".into())),
        date_created: UnixTime(0),
        settings,
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
        last_used: UnixTime(auth_time),
        user_agent: None,
        address: None,
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
    parse(params)?.with_client(c, ISS, &ScopeRegistry::default(), UnixTime(1_000))
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
        (with(&[("response_type", "code id_token")], &[]), "redirect:unauthorized_client:st"),
        (with(&[("response_type", "token")], &[]), "redirect:unsupported_response_type:st"),
        (with(&[], &["scope"]), "redirect:invalid_scope:st"),
        (with(&[("scope", "unknown-scope")], &[]), "redirect:invalid_scope:st"),
        (with(&[("prompt", "none login")], &[]), "redirect:invalid_request:st"),
        (with(&[("prompt", "bogus")], &[]), "redirect:invalid_request:st"),
        (with(&[("max_age", "-1")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge_method", "S256")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge", "short")], &[]), "redirect:invalid_request:st"),
        (with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S512")], &[]), "redirect:invalid_request:st"),
        // OIDC Core §3.1.2.6: the query's redirect_uri is registered, so a bad request object goes there.
        (with(&[("request", "eyJ...")], &[]), "redirect:invalid_request_object:st"),
        (with(&[("request", "eyJ...")], &["redirect_uri"]), "page:invalid_request_object"),
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
    // RFC 7636 §4.3: the method defaults to plain, which RFC 9700 §2.1.1 retires:
    // refused, explicit or implied, unless the client is configured for plain.
    assert_eq!(fails(with(&[("code_challenge", CHALLENGE)], &[]), Some(&c)), "redirect:invalid_request:st");
    let plain = with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "plain")], &[]);
    assert_eq!(fails(plain.clone(), Some(&c)), "redirect:invalid_request:st");
    let mut legacy = c.clone();
    legacy.pkce_method = Some(PkceMethod::Plain);
    let v = run(with(&[("code_challenge", CHALLENGE)], &[]), Some(&legacy)).unwrap();
    assert_eq!(v.code_challenge_method, Some(PkceMethod::Plain));
    assert_eq!(run(plain, Some(&legacy)).unwrap().code_challenge_method, Some(PkceMethod::Plain));
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
    assert_eq!(v.decide(&c, None, false, None, true, now), Decision::Login);
    assert_eq!(v.decide(&c, Some(&s), false, None, true, now), Decision::Login, "inactive user");
    assert_eq!(v.decide(&c, Some(&s), true, None, true, now), Decision::Consent);
    let consent = v.consent("r", "u1", UnixTime(1050), &Settings::default());
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, now), Decision::Issue, "reuse_consent");
    // Consent expiry (OIDC_SKIP_CONSENT_EXPIRE).
    let later = UnixTime(1050 + Settings::default().consent_lifetime);
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, later), Decision::Consent);
    // Consent for fewer scopes is asked again.
    let mut narrow = consent.clone();
    narrow.scope = Scope::parse("openid").unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, Some(&narrow), true, now), Decision::Consent);
    // A client that does not reuse consent always asks.
    let mut no_reuse = c.clone();
    no_reuse.reuse_consent = false;
    assert_eq!(v.decide(&no_reuse, Some(&s), true, Some(&consent), true, now), Decision::Consent);
    // A confidential client that does not require consent skips it; a public one never does.
    let mut skip = c.clone();
    skip.require_consent = false;
    assert_eq!(v.decide(&skip, Some(&s), true, None, true, now), Decision::Issue);
    let mut public = client(ClientType::Public);
    public.require_consent = false;
    public.reuse_consent = false;
    assert_eq!(v.decide(&public, Some(&s), true, None, true, now), Decision::Consent);
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
    assert_eq!(err(v.decide(&c, None, false, None, true, now)), ErrorCode::LoginRequired);
    assert_eq!(err(v.decide(&c, Some(&s), true, None, true, now)), ErrorCode::ConsentRequired);
    let v = run(with(&[("prompt", "login")], &[]), Some(&c)).unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, None, true, now), Decision::Login);
    assert!(v.params_after_login().iter().all(|(k, _)| k != "prompt"));
    let v = run(with(&[("prompt", "consent")], &[]), Some(&c)).unwrap();
    let consent = v.consent("r", "u1", now, &Settings::default());
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, now), Decision::Consent);
    let v = run(with(&[("max_age", "60")], &[]), Some(&c)).unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, now), Decision::Login, "auth_time too old");
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, UnixTime(1060)), Decision::Issue);
}

pub(crate) fn user() -> User {
    User {
        id: "u1".into(),
        realm: "r".into(),
        username: "alice".into(),
        password_hash: None,
        active: true,
        claims: crate::model::StandardClaims {
            email: Some("alice@example.com".into()),
            email_verified: true,
            ..Default::default()
        },
        created_at: UnixTime(0),
        updated_at: UnixTime(0),
        attributes: std::collections::BTreeMap::new(),
    }
}

fn keys() -> KeySet {
    KeySet::from_records(&[crate::jose::tests::record("k1", crate::model::KeyState::Active, 1)], UnixTime(0)).unwrap()
}

fn issue_with(v: &Validated, c: &Client) -> AuthzIssued {
    let (u, k, s, settings) = (user(), keys(), session(1000), Settings::default());
    let input = IssueInput {
        realm: "r",
        client: c,
        user: &u,
        subject: "u1",
        session: &s,
        keys: &k,
        settings: &settings,
        now: UnixTime(1100),
        registry: &ScopeRegistry::default(),
        hooks: &Hooks::default(),
        roles: &[],
    };
    v.issue(&input, &TestRandom::default()).unwrap()
}

fn param<'a>(r: &'a AuthorizationResponse, name: &str) -> Option<&'a str> {
    r.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn id_token_claims(r: &AuthorizationResponse) -> serde_json::Map<String, serde_json::Value> {
    let jws = param(r, "id_token").expect("an id_token");
    crate::jose::verify(jws, &["RS256"], keys().verify_keys()).unwrap().claims
}

#[test]
fn issue_code_carries_state_and_binds_request_rfc6749_4_1_2() {
    let c = client(ClientType::Confidential);
    let v = run(with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S256")], &[]), Some(&c)).unwrap();
    let issued = issue_with(&v, &c);
    let rec = issued.code.unwrap();
    assert!(issued.access_token.is_none(), "the code flow issues no token at the authorization endpoint");
    let code = param(&issued.response, "code").unwrap();
    assert_eq!(rec.digest, Digest::of(code));
    assert_eq!(rec.expires_at, UnixTime(1100 + 600));
    assert_eq!(rec.redirect_uri, "https://rp.example/cb");
    assert_eq!(rec.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(rec.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(rec.auth_time, UnixTime(1000));
    let loc = issued.response.location();
    assert!(loc.starts_with(&format!("https://rp.example/cb?code={code}&state=st&iss=")), "{loc}");
    assert!(code.len() >= 43, "codes carry 256 bits");
    assert!(param(&issued.response, "id_token").is_none());
    let denied = v.declined().oauth();
    assert_eq!(denied.code, ErrorCode::AccessDenied);
}

fn implicit_client(rts: &[ResponseType]) -> Client {
    let mut c = client(ClientType::Confidential);
    c.response_types = rts.to_vec();
    c
}

#[test]
fn implicit_id_token_token_in_fragment_with_at_hash_oidc_core_3_2_2_5() {
    let c = implicit_client(&[ResponseType::IdTokenToken]);
    let v = run(with(&[("response_type", "id_token token")], &[]), Some(&c)).unwrap();
    assert_eq!(v.mode, ResponseMode::Fragment, "Multiple Response Types §5: fragment by default");
    let issued = issue_with(&v, &c);
    assert!(issued.code.is_none());
    let at = issued.access_token.expect("an access token record");
    let r = &issued.response;
    let token = param(r, "access_token").unwrap();
    assert_eq!(at.digest, Digest::of(token));
    assert_eq!(at.user_id.as_deref(), Some("u1"));
    assert_eq!(param(r, "token_type"), Some("Bearer"));
    assert_eq!(param(r, "expires_in"), Some("3600"));
    assert!(param(r, "refresh_token").is_none(), "RFC 6749 §4.2.2: no refresh token in the implicit grant");
    assert!(r.location().starts_with("https://rp.example/cb#access_token="), "{}", r.location());
    let cl = id_token_claims(r);
    assert_eq!(cl["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(cl["at_hash"], crate::jose::half_hash(crate::model::JwtAlg::Rs256, token).as_str());
    assert_eq!(cl["sid"], "sid1");
    assert_eq!(cl["amr"], serde_json::json!(["pwd"]));
    assert!(cl.get("c_hash").is_none());
    assert!(cl.get("email").is_none(), "claims come from userinfo when an access token is issued");
}

#[test]
fn implicit_id_token_only_carries_scope_claims_oidc_core_5_4() {
    let c = implicit_client(&[ResponseType::IdToken]);
    let v = run(with(&[("response_type", "id_token")], &[]), Some(&c)).unwrap();
    let issued = issue_with(&v, &c);
    assert!(issued.code.is_none() && issued.access_token.is_none());
    let cl = id_token_claims(&issued.response);
    assert_eq!(cl["email"], "alice@example.com");
    assert_eq!(cl["email_verified"], true);
    assert!(cl.get("at_hash").is_none());
    assert!(param(&issued.response, "access_token").is_none());
}

#[test]
fn hybrid_flows_carry_c_hash_and_at_hash_oidc_core_3_3_2_11() {
    let all = [ResponseType::CodeIdToken, ResponseType::CodeToken, ResponseType::CodeIdTokenToken];
    let c = implicit_client(&all);
    for rt in all {
        let v = run(with(&[("response_type", rt.as_str())], &[]), Some(&c)).unwrap();
        assert_eq!(v.mode, ResponseMode::Fragment);
        let issued = issue_with(&v, &c);
        let r = &issued.response;
        let code = param(r, "code").expect("hybrid flows return a code");
        let rec = issued.code.expect("a code record");
        assert_eq!(rec.nonce.as_deref(), Some("n-0S6_WzA2Mj"), "the token endpoint's id_token repeats the nonce");
        assert_eq!(issued.access_token.is_some(), rt.has_token(), "{rt:?}");
        assert_eq!(rec.grant_id, issued.access_token.as_ref().map_or(rec.grant_id.clone(), |a| a.grant_id.clone()));
        if rt.has_id_token() {
            let cl = id_token_claims(r);
            assert_eq!(cl["c_hash"], crate::jose::half_hash(crate::model::JwtAlg::Rs256, code).as_str(), "{rt:?}");
            match param(r, "access_token") {
                Some(at) => assert_eq!(cl["at_hash"], crate::jose::half_hash(crate::model::JwtAlg::Rs256, at).as_str()),
                None => assert!(cl.get("at_hash").is_none()),
            }
        } else {
            assert!(param(r, "id_token").is_none());
        }
    }
}

#[test]
fn tokens_never_in_a_query_response_multiple_response_types_5() {
    let c = implicit_client(&[ResponseType::IdTokenToken, ResponseType::CodeIdToken]);
    for rt in ["id_token token", "code id_token"] {
        let e = run(with(&[("response_type", rt), ("response_mode", "query")], &[]), Some(&c)).unwrap_err();
        let AuthzError::Redirect(r) = e else { panic!("expected a redirect") };
        assert_eq!(r.mode, ResponseMode::Fragment, "the error itself goes in the fragment");
        assert_eq!(param(&r, "error"), Some("invalid_request"));
    }
    // form_post may carry tokens.
    let v = run(with(&[("response_type", "id_token token"), ("response_mode", "form_post")], &[]), Some(&c)).unwrap();
    assert_eq!(v.mode, ResponseMode::FormPost);
}

#[test]
fn implicit_and_hybrid_need_nonce_and_openid_oidc_core_3_2_2_1() {
    let c = implicit_client(&[ResponseType::IdTokenToken, ResponseType::CodeIdToken, ResponseType::CodeToken]);
    assert_eq!(
        fails(with(&[("response_type", "id_token token")], &["nonce"]), Some(&c)),
        "redirect:invalid_request:st"
    );
    assert_eq!(fails(with(&[("response_type", "code id_token")], &["nonce"]), Some(&c)), "redirect:invalid_request:st");
    // code token returns no id_token from the authorization endpoint: nonce optional (errata of §3.3.2.1).
    assert_eq!(fails(with(&[("response_type", "code token")], &["nonce"]), Some(&c)), "ok");
    assert_eq!(
        fails(with(&[("response_type", "id_token token"), ("scope", "email")], &[]), Some(&c)),
        "redirect:invalid_scope:st"
    );
    // A response type the client did not register.
    assert_eq!(fails(with(&[("response_type", "id_token")], &[]), Some(&c)), "redirect:unauthorized_client:st");
}

#[test]
fn public_clients_need_pkce_only_when_a_code_is_issued_rfc8252_8_1() {
    let mut c = implicit_client(&[ResponseType::IdTokenToken, ResponseType::CodeIdToken]);
    c.client_type = ClientType::Public;
    c.client_secret = None;
    assert_eq!(fails(with(&[("response_type", "id_token token")], &[]), Some(&c)), "ok");
    assert_eq!(fails(with(&[("response_type", "code id_token")], &[]), Some(&c)), "redirect:invalid_request:st");
}

#[test]
fn id_token_hint_for_another_user_means_login_required_oidc_core_3_1_2_2() {
    let c = client(ClientType::Confidential);
    let s = session(1000);
    let v = run(with(&[("prompt", "none")], &[]), Some(&c)).unwrap();
    let consent = v.consent("r", "u1", UnixTime(1000), &Settings::default());
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), true, UnixTime(1001)), Decision::Issue);
    let Decision::Error(e) = v.decide(&c, Some(&s), true, Some(&consent), false, UnixTime(1001)) else {
        panic!("expected an error")
    };
    assert_eq!(e.oauth().code, ErrorCode::LoginRequired);
    let v = run(with(&[], &[]), Some(&c)).unwrap();
    assert_eq!(v.decide(&c, Some(&s), true, Some(&consent), false, UnixTime(1001)), Decision::Login);
}

#[test]
fn display_and_acr_values_oidc_core_3_1_2_1() {
    let c = client(ClientType::Confidential);
    assert_eq!(fails(with(&[("display", "popup")], &[]), Some(&c)), "ok");
    assert_eq!(fails(with(&[("display", "hologram")], &[]), Some(&c)), "redirect:invalid_request:st");
    let v = run(with(&[("acr_values", "1 2")], &[]), Some(&c)).unwrap();
    assert_eq!(v.acr_values.as_deref(), Some(&["1".to_owned(), "2".to_owned()][..]));
}

#[test]
fn id_token_hint_must_be_ours_and_for_this_client_oidc_core_3_1_2_1() {
    let c = client(ClientType::Confidential);
    let k = keys();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), ISS.into());
    claims.insert("sub".into(), "u1".into());
    claims.insert("aud".into(), "rp".into());
    claims.insert("exp".into(), 1.into());
    let ours = k.active().unwrap().sign(&claims);
    let hint = |h: String| {
        let mut p = base();
        p.push(("id_token_hint", Box::leak(h.into_boxed_str())));
        run(p, Some(&c)).unwrap()
    };
    assert_eq!(hint(ours).hint_subject(&k, &c).unwrap().as_deref(), Some("u1"), "expired hints still name the user");
    claims.insert("aud".into(), "other".into());
    let other_client = k.active().unwrap().sign(&claims);
    assert_eq!(hint(other_client).hint_subject(&k, &c).unwrap_err().oauth().code, ErrorCode::InvalidRequest);
    claims.insert("aud".into(), "rp".into());
    claims.insert("iss".into(), "https://evil.example".into());
    let other_iss = k.active().unwrap().sign(&claims);
    assert!(hint(other_iss).hint_subject(&k, &c).is_err());
    assert!(hint("not.a.jwt".into()).hint_subject(&k, &c).is_err());
    // HS256 hints are keyed by the client secret.
    claims.insert("iss".into(), ISS.into());
    let hs = crate::jose::sign_hs256(&claims, b"s3cret");
    assert_eq!(hint(hs).hint_subject(&k, &c).unwrap().as_deref(), Some("u1"));
    assert_eq!(run(base(), Some(&c)).unwrap().hint_subject(&k, &c).unwrap(), None);
}

#[test]
fn custom_scopes_and_the_claims_parameter_oidc_core_5_4_and_5_5() {
    let mut c = client(ClientType::Confidential);
    c.response_types = vec![ResponseType::IdToken, ResponseType::Code];
    let registry = ScopeRegistry::new(vec![crate::scope::ScopeDef {
        name: "work".into(),
        display_name: "Work".into(),
        description: "Your department".into(),
        claims: vec!["department".into()],
    }])
    .unwrap();
    let run_with =
        |p: Vec<(&'static str, &'static str)>| parse(p).unwrap().with_client(Some(&c), ISS, &registry, UnixTime(1_000));
    // Without the registry the custom scope is unknown and dropped; with it, kept.
    let v = run(with(&[("scope", "openid work")], &[]), Some(&c)).unwrap();
    assert_eq!(v.scope.to_string(), "openid");
    let v = run_with(with(&[("scope", "openid work")], &[])).unwrap();
    assert_eq!(v.scope.to_string(), "openid work");
    assert_eq!(v.consent_views(&registry)[0].name, "Work");
    // A malformed claims parameter is invalid_request, to the redirect_uri.
    let e = run_with(with(&[("claims", "{nope")], &[])).unwrap_err();
    assert!(matches!(e, AuthzError::Redirect(_)));
    assert_eq!(e.oauth().code, ErrorCode::InvalidRequest);
    // id_token only: scope claims, plus claims asked for individually, plus acr when asked.
    let v = run_with(with(
        &[
            ("response_type", "id_token"),
            ("scope", "openid work"),
            (
                "claims",
                r#"{"id_token":{"email":{"essential":true},"acr":{"values":["1"]}},"userinfo":{"phone_number":null}}"#,
            ),
        ],
        &[],
    ))
    .unwrap();
    let mut u = user();
    u.attributes.insert("department".into(), serde_json::json!("R&D"));
    let (k, s, settings) = (keys(), session(1000), Settings::default());
    let mut hooks = Hooks::default();
    let mut fixed = serde_json::Map::new();
    fixed.insert("tenant".into(), serde_json::json!("acme"));
    hooks.id_token.push(std::sync::Arc::new(crate::hooks::StaticClaims { client_id: None, claims: fixed }));
    let input = IssueInput {
        realm: "r",
        client: &c,
        user: &u,
        subject: "pairwise-sub",
        session: &s,
        keys: &k,
        settings: &settings,
        now: UnixTime(1100),
        registry: &registry,
        hooks: &hooks,
        roles: &[],
    };
    let issued = v.issue(&input, &TestRandom::default()).unwrap();
    let cl = id_token_claims(&issued.response);
    assert_eq!(cl["sub"], "pairwise-sub");
    assert_eq!(cl["department"], "R&D");
    assert_eq!(cl["email"], "alice@example.com", "asked for in the id_token");
    assert!(cl.get("phone_number").is_none(), "asked for in userinfo only");
    assert_eq!(cl["acr"], "1");
    assert_eq!(cl["tenant"], "acme", "the id_token hooks ran");
    // With a code, the request travels with it to the token endpoint.
    let v = run_with(with(&[("claims", r#"{"userinfo":{"email":null}}"#)], &[])).unwrap();
    let input = IssueInput { subject: "u1", ..input };
    let rec = v.issue(&input, &TestRandom::default()).unwrap().code.unwrap();
    assert_eq!(rec.claims.as_deref(), Some(r#"{"userinfo":{"email":null}}"#));
    assert_eq!(rec.acr, None);
}

fn unsigned(claims: serde_json::Value) -> String {
    format!("{}.{}.", crate::jose::b64(br#"{"alg":"none"}"#), crate::jose::b64(claims.to_string().as_bytes()))
}

#[test]
fn request_objects_take_precedence_and_must_verify_oidc_core_6_1() {
    let c = client(ClientType::Confidential);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    // Unsigned: its parameters replace the query's.
    let ro =
        unsigned(serde_json::json!({"nonce": "from-object", "scope": "openid profile", "max_age": 30, "state": "ro"}));
    let v = run(with(&[("request", leak(ro))], &[]), Some(&c)).unwrap();
    assert_eq!(
        (v.nonce.as_deref(), v.scope.to_string().as_str(), v.max_age),
        (Some("from-object"), "openid profile", Some(30))
    );
    assert_eq!(v.state.as_deref(), Some("ro"));
    assert!(v.params().all(|(k, _)| k != "request"), "the object itself is not carried on");
    // The redirect_uri may come from the object, and is then checked like any other.
    let ro = unsigned(serde_json::json!({"redirect_uri": "https://evil.example/cb"}));
    assert_eq!(fails(with(&[("request", leak(ro))], &[]), Some(&c)), "page:invalid_request");
    // Signed with the client secret (HS256): accepted; with another secret: invalid_request_object.
    let claims = serde_json::json!({"iss": "rp", "aud": ISS, "client_id": "rp", "nonce": "signed"});
    let good = crate::jose::sign_hs256(claims.as_object().unwrap(), b"s3cret");
    assert_eq!(run(with(&[("request", leak(good))], &[]), Some(&c)).unwrap().nonce.as_deref(), Some("signed"));
    let forged = crate::jose::sign_hs256(claims.as_object().unwrap(), b"other");
    assert_eq!(fails(with(&[("request", leak(forged.clone()))], &[]), Some(&c)), "redirect:invalid_request_object:st");
    // Without a registered redirect_uri in the query, an error page.
    assert_eq!(fails(with(&[("request", leak(forged))], &["redirect_uri"]), Some(&c)), "page:invalid_request_object");
    // Signed by one of the client's own keys.
    let key = crate::jose::SigningKey::from_record(&crate::jose::tests::record_of(
        "rk",
        crate::model::JwtAlg::Es256,
        crate::model::KeyState::Active,
        1,
    ))
    .unwrap();
    let mut with_keys = c.clone();
    with_keys.jwks = Some(serde_json::json!({"keys": [key.public_jwk()]}).to_string());
    let es = key.sign(claims.as_object().unwrap());
    assert_eq!(run(with(&[("request", leak(es))], &[]), Some(&with_keys)).unwrap().nonce.as_deref(), Some("signed"));
    // Mismatches with the query and wrong iss/aud are refused.
    for bad in [
        serde_json::json!({"client_id": "other"}),
        serde_json::json!({"response_type": "id_token"}),
        serde_json::json!({"iss": "other"}),
        serde_json::json!({"aud": "https://elsewhere"}),
    ] {
        assert_eq!(
            fails(with(&[("request", leak(unsigned(bad.clone())))], &[]), Some(&c)),
            "redirect:invalid_request_object:st",
            "{bad}"
        );
    }
    let tampered = format!("{}sig", unsigned(serde_json::json!({})));
    assert_eq!(fails(with(&[("request", leak(tampered))], &[]), Some(&c)), "redirect:invalid_request_object:st");
}

/// RFC 9101 §10.2 / RFC 7519 §4.1: exp, nbf and iat hold at the provider's time
/// (1,000 in these tests, with 60 s of skew); the jti is handed to the adapter
/// to refuse replays.
#[test]
fn request_object_times_and_jti_rfc9101_10_2() {
    let c = client(ClientType::Confidential);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let ro = |claims: serde_json::Value| leak(unsigned(claims));
    for (claims, expect) in [
        (serde_json::json!({"exp": 1_000}), "redirect:invalid_request_object:st"),
        (serde_json::json!({"exp": 1_001}), "ok"),
        (serde_json::json!({"nbf": 1_061}), "redirect:invalid_request_object:st"),
        (serde_json::json!({"nbf": 1_060}), "ok"),
        (serde_json::json!({"iat": 1_061}), "redirect:invalid_request_object:st"),
        (serde_json::json!({"iat": 10}), "ok"),
        (serde_json::json!({"exp": "soon"}), "redirect:invalid_request_object:st"),
        (serde_json::json!({"jti": 7}), "redirect:invalid_request_object:st"),
    ] {
        assert_eq!(fails(with(&[("request", ro(claims.clone()))], &[]), Some(&c)), expect, "{claims}");
    }
    let v = run(with(&[("request", ro(serde_json::json!({"jti": "j-1", "exp": 1_300})))], &[]), Some(&c)).unwrap();
    assert_eq!(v.request_object_jti, Some(("j-1".to_owned(), UnixTime(1_300))));
    let v = run(with(&[("request", ro(serde_json::json!({"jti": "j-2"})))], &[]), Some(&c)).unwrap();
    assert_eq!(v.request_object_jti, Some(("j-2".to_owned(), UnixTime(4_600))), "remembered an hour without exp");
    assert_eq!(run(base(), Some(&c)).unwrap().request_object_jti, None);
}

#[test]
fn default_max_age_and_unsigned_id_tokens_oidc_registration_2() {
    let mut c = client(ClientType::Confidential);
    c.default_max_age = Some(60);
    let v = run(base(), Some(&c)).unwrap();
    assert_eq!(v.max_age, Some(60), "applies when the request has none");
    let v = run(with(&[("max_age", "5")], &[]), Some(&c)).unwrap();
    assert_eq!(v.max_age, Some(5), "the request's own wins");
    c.jwt_alg = crate::model::JwtAlg::None;
    c.response_types = vec![ResponseType::Code, ResponseType::CodeIdToken];
    assert_eq!(fails(with(&[("response_type", "code id_token")], &[]), Some(&c)), "redirect:unauthorized_client:st");
    assert_eq!(fails(base(), Some(&c)), "ok", "the code flow may use unsigned id_tokens");
}

#[test]
fn a_client_with_a_required_pkce_method_must_use_it_rfc7636_4_3() {
    let mut c = client(ClientType::Confidential);
    c.pkce_method = Some(PkceMethod::S256);
    let e = run(base(), Some(&c)).unwrap_err();
    assert!(format!("{e:?}").contains("code_challenge_method S256"), "{e:?}");
    let plain = with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "plain")], &[]);
    assert!(run(plain, Some(&c)).is_err(), "plain is not the required method");
    let s256 = with(&[("code_challenge", CHALLENGE), ("code_challenge_method", "S256")], &[]);
    assert!(run(s256, Some(&c)).is_ok());
}

#[test]
fn default_client_scopes_are_granted_with_openid_keycloak_default_client_scopes() {
    let mut c = client(ClientType::Confidential);
    c.default_scopes = vec!["profile".into(), "email".into()];
    let v = run(with(&[("scope", "openid")], &[]), Some(&c)).unwrap();
    assert_eq!(v.scope.to_string(), "openid profile email");
    let v = run(with(&[("scope", "email")], &[]), Some(&c)).unwrap();
    assert_eq!(v.scope.to_string(), "email", "only with openid");
}

/// RFC 8707 §2: `resource` may repeat; each is an absolute URI without a
/// fragment; they are kept (without duplicates) for the code and carried
/// through a login; a bad one is `invalid_target` at the redirect URI.
#[test]
fn resource_indicators_rfc8707_2() {
    let c = client(ClientType::Confidential);
    let mut p = base();
    p.extend([
        ("resource", "https://api.example/"),
        ("resource", "urn:example:ledger"),
        ("resource", "https://api.example/"),
    ]);
    let v = run(p, Some(&c)).unwrap();
    assert_eq!(v.resources, ["https://api.example/", "urn:example:ledger"]);
    let after = v.params_after_login();
    assert_eq!(after.iter().filter(|(k, _)| k == "resource").count(), 2, "a login keeps them: {after:?}");
    assert_eq!(run(after.iter().map(|(k, v)| (leak(k), leak(v))).collect(), Some(&c)).unwrap().resources, v.resources);
    for bad in ["/api", "https://api.example/#x", "api.example"] {
        let mut p = base();
        p.push(("resource", bad));
        assert_eq!(fails(p, Some(&c)), "redirect:invalid_target:st", "{bad}");
    }
    let mut many = base();
    let uris: Vec<&'static str> = (0..11).map(|i| leak(&format!("https://api{i}.example/"))).collect();
    many.extend(uris.iter().map(|u| ("resource", *u)));
    assert_eq!(fails(many, Some(&c)), "redirect:invalid_target:st");
    assert!(run(base(), Some(&c)).unwrap().resources.is_empty());
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}
