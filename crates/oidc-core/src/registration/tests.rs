//! Tests of client metadata validation (RFC 7591 §2, §3.2.2; OIDC Registration §2)
//! and of the registration policies.

use serde_json::json;

use super::*;
use crate::rand::TestRandom;

const ALGS: &[JwtAlg] = &[JwtAlg::Rs256, JwtAlg::Hs256];

fn parse(v: Value) -> Result<Metadata, RegistrationError> {
    parse_metadata(&v, ALGS)
}

fn code(r: Result<Metadata, RegistrationError>) -> &'static str {
    r.map(|_| "ok").unwrap_or_else(|e| e.code())
}

#[test]
fn minimal_registration_gets_the_defaults_rfc7591_2() {
    let md = parse(json!({"redirect_uris": ["https://rp.example/cb"], "client_name": "RP", "x-unknown": 1})).unwrap();
    assert_eq!(md.response_types, [ResponseType::Code]);
    assert_eq!(md.grant_types, ["authorization_code"]);
    assert_eq!(md.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(md.id_token_signed_response_alg, JwtAlg::Rs256);
    let echoed = md.to_json();
    assert!(echoed.get("x-unknown").is_none(), "unknown members are not echoed (RFC 7591 §3.1)");
    assert_eq!(echoed["client_name"], "RP");
    let spec = md.to_spec(&ScopeRegistry::default());
    assert_eq!(spec.client_type, ClientType::Confidential);
    assert!(spec.require_consent);
    let (client, secret) = crate::manage::new_client("r", spec, UnixTime(5), &TestRandom::default()).unwrap();
    let resp = response(&client, &echoed, secret.as_ref().map(|s| s.secret()), "rat", "https://op/reg/x");
    assert_eq!(resp["client_secret_expires_at"], 0);
    assert_eq!(resp["client_id_issued_at"], 5);
    assert_eq!(resp["registration_access_token"], "rat");
    assert_eq!(resp["registration_client_uri"], "https://op/reg/x");
}

#[test]
fn redirect_uri_errors_are_invalid_redirect_uri_rfc7591_3_2_2() {
    assert_eq!(code(parse(json!({}))), "invalid_redirect_uri", "required for the code grant");
    assert_eq!(code(parse(json!({"redirect_uris": ["https://rp.example/cb#frag"]}))), "invalid_redirect_uri");
    assert_eq!(code(parse(json!({"redirect_uris": ["http://rp.example/cb"]}))), "invalid_redirect_uri");
    assert_eq!(code(parse(json!({"redirect_uris": ["javascript:alert(1)"]}))), "invalid_redirect_uri");
    // RFC 8252: native apps may use loopback and private-use schemes.
    let native = json!({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"],
        "token_endpoint_auth_method": "none"});
    assert_eq!(code(parse(native)), "ok");
    // OIDC Registration §2: web clients using implicit only register https, not localhost.
    let implicit =
        |uri: &str| json!({"redirect_uris": [uri], "response_types": ["id_token"], "grant_types": ["implicit"]});
    assert_eq!(code(parse(implicit("http://localhost/cb"))), "invalid_redirect_uri");
    assert_eq!(code(parse(implicit("https://rp.example/cb"))), "ok");
    // Only client_credentials: no redirect URI needed.
    assert_eq!(code(parse(json!({"grant_types": ["client_credentials"], "response_types": []}))), "ok");
}

#[test]
fn metadata_errors_are_invalid_client_metadata_rfc7591_2_1() {
    let base = |extra: Value| {
        let mut v = json!({"redirect_uris": ["https://rp.example/cb"]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        parse(v)
    };
    for bad in [
        json!({"response_types": ["code id_token"]}),
        json!({"response_types": ["id_token"], "grant_types": ["authorization_code"]}),
        json!({"grant_types": ["authorization_code", "password"]}),
        json!({"token_endpoint_auth_method": "private_key_jwt"}),
        json!({"id_token_signed_response_alg": "ES256"}),
        json!({"id_token_signed_response_alg": "none", "response_types": ["code id_token"], "grant_types": ["authorization_code", "implicit"]}),
        json!({"id_token_signed_response_alg": "HS256", "token_endpoint_auth_method": "none"}),
        json!({"grant_types": ["authorization_code", "client_credentials"], "token_endpoint_auth_method": "none"}),
        json!({"application_type": "tv"}),
        json!({"logo_uri": "http://rp.example/logo.png"}),
        json!({"contacts": "ops@rp.example"}),
        json!({"subject_type": "pairwise", "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]}),
        json!({"userinfo_signed_response_alg": "ES256"}),
        json!({"jwks_uri": "http://rp.example/jwks"}),
        json!({"request_uris": ["https://rp.example/r"]}),
        json!({"scope": "openid \"x"}),
        json!({"require_auth_time": "yes"}),
    ] {
        assert_eq!(code(base(bad.clone())), "invalid_client_metadata", "{bad}");
    }
    assert!(parse(json!([1])).is_err());
    // The description names what was wrong and uses only allowed characters.
    let e = base(json!({"jwks_uri": "http://rp.example/jwks"})).unwrap_err();
    assert!(e.description().contains("jwks_uri"));
}

#[test]
fn a_scope_member_narrows_instead_of_dropping() {
    let md = parse(json!({"redirect_uris": ["https://rp.example/cb"], "scope": "email profile unknown"})).unwrap();
    let spec = md.to_spec(&ScopeRegistry::default());
    assert_eq!(spec.allowed_scopes, ["openid", "email", "profile"], "openid stays, unknown scopes go");
    let md = parse(json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none",
        "subject_type": "pairwise", "id_token_signed_response_alg": "RS256", "require_auth_time": true}))
    .unwrap();
    let spec = md.to_spec(&ScopeRegistry::default());
    assert_eq!(spec.client_type, ClientType::Public);
    assert_eq!(spec.subject_type, SubjectType::Pairwise);
    assert!(spec.allowed_scopes.is_empty(), "no scope member: every scope");
}

#[test]
fn trusted_hosts_max_clients_and_allowed_scopes_policies() {
    let md = parse(
        json!({"redirect_uris": ["https://app.trusted.example/cb"], "logo_uri": "https://cdn.trusted.example/l.png"}),
    )
    .unwrap();
    let anon = Policies::anonymous_default();
    let rule = |r: Result<(), RegistrationError>| match r {
        Ok(()) => "ok",
        Err(RegistrationError::Policy { rule, .. }) => rule,
        Err(_) => "other",
    };
    assert_eq!(rule(anon.check(&md, Some("10.0.0.1"), Some(0))), "trusted-hosts", "no trusted host by default");
    let mut p = Policies { trusted_hosts: Some(vec!["*.trusted.example".into(), "10.0.0.1".into()]), ..anon.clone() };
    assert_eq!(rule(p.check(&md, Some("10.0.0.1"), Some(0))), "ok");
    assert_eq!(rule(p.check(&md, Some("10.0.0.2"), Some(0))), "trusted-hosts", "the requester must be trusted");
    let evil = parse(json!({"redirect_uris": ["https://evil.example/cb"]})).unwrap();
    assert_eq!(rule(p.check(&evil, Some("10.0.0.1"), Some(0))), "trusted-hosts", "every URI must be on a trusted host");
    assert_eq!(rule(p.check(&md, Some("10.0.0.1"), Some(200))), "max-clients");
    assert_eq!(rule(p.check(&md, None, None)), "ok", "updates are not counted, nor their requester");
    assert_eq!(rule(p.check(&evil, None, None)), "trusted-hosts", "but their URIs are");
    let wide = parse(json!({"redirect_uris": ["https://app.trusted.example/cb"], "scope": "openid admin"})).unwrap();
    assert_eq!(rule(p.check(&wide, Some("10.0.0.1"), Some(0))), "allowed-client-scopes");
    // apply(): consent forced, disabled when asked, scopes limited.
    p.client_disabled = true;
    let mut spec = md.to_spec(&ScopeRegistry::default());
    spec.require_consent = false;
    p.apply(&mut spec);
    assert!(spec.require_consent && !spec.enabled);
    assert_eq!(spec.allowed_scopes.len(), 7);
    // Keycloak's Allowed Client Scopes policy allows its realm default client scopes, `roles` among them.
    assert!(spec.allowed_scopes.iter().any(|s| s == "roles"));
    assert_eq!(rule(Policies::authenticated_default().check(&evil, Some("anywhere"), Some(10_000))), "ok");
}

#[test]
fn policies_round_trip_through_json_with_defaults_for_missing_members() {
    let p = Policies {
        trusted_hosts: Some(vec!["*.example.com".into()]),
        max_clients: None,
        ..Policies::anonymous_default()
    };
    assert_eq!(Policies::from_json(&p.to_json(), Policies::authenticated_default()).unwrap(), p);
    let partial = Policies::from_json(&json!({"client_disabled": true}), Policies::anonymous_default()).unwrap();
    assert!(partial.client_disabled);
    assert_eq!(partial.max_clients, Some(200));
    assert!(Policies::from_json(&json!({"max_clients": -1}), Policies::anonymous_default()).is_err());
    assert!(Policies::from_json(&json!({"trusted_hosts": "x"}), Policies::anonymous_default()).is_err());
    assert_eq!("anonymous".parse::<PolicyKind>(), Ok(PolicyKind::Anonymous));
    assert!("other".parse::<PolicyKind>().is_err());
}

fn registered(spec: ClientSpec) -> crate::model::Client {
    crate::manage::new_client("r", spec, UnixTime(1), &TestRandom::default()).unwrap().0
}

#[test]
fn registrants_cannot_change_operator_settings() {
    let client = registered(ClientSpec::new("App", ClientType::Public, vec!["com.example.app:/cb".into()]));
    let ok = ClientSpec::of(&client);
    assert_eq!(check_registrant_change(Some(&client), &ok), Ok(()));
    assert_eq!(check_registrant_change(None, &ok), Ok(()));
    let changes: [fn(&mut ClientSpec); 4] = [
        |s| s.grant_types.push(GrantType::Password),
        |s| s.enabled = false,
        |s| s.client_type = ClientType::Confidential,
        |s| s.role_scope = vec!["admin".into()],
    ];
    for change in changes {
        let mut spec = ok.clone();
        change(&mut spec);
        assert!(check_registrant_change(Some(&client), &spec).is_err(), "{spec:?}");
    }
}

#[test]
fn relative_redirect_uris_resolve_against_root_url_and_wildcards_are_refused_rfc9700_2_1() {
    let uris = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        resolve_redirect_uris(Some("https://app.example/"), &uris(&["/cb", "https://other.example/x"])),
        Ok(uris(&["https://app.example/cb", "https://other.example/x"]))
    );
    assert!(matches!(
        resolve_redirect_uris(None, &uris(&["/cb"])),
        Err(RegistrationError::InvalidRedirectUri(d)) if d.contains("rootUrl")
    ));
    for wild in ["https://app.example/*", "*"] {
        let e = resolve_redirect_uris(Some("https://app.example"), &uris(&[wild])).unwrap_err();
        assert!(e.description().contains("RFC 9700"), "{e}");
    }
    assert!(resolve_redirect_uris(None, &uris(&["http://evil.example/cb"])).is_err(), "http only on loopback");
}

#[test]
fn updates_under_anonymous_policies_keep_consent_disabled_state_and_scope_keycloak_policies() {
    let p = Policies {
        trusted_hosts: Some(vec!["app.example".into()]),
        client_disabled: true,
        ..Policies::anonymous_default()
    };
    let mut spec = ClientSpec::new("App", ClientType::Confidential, vec!["https://app.example/cb".into()]);
    p.apply(&mut spec);
    assert!(spec.require_consent && !spec.enabled && !spec.full_scope_allowed);
    let client = registered(spec);
    let rule = |r: Result<(), RegistrationError>| match r {
        Ok(()) => "ok",
        Err(RegistrationError::Policy { rule, .. }) => rule,
        Err(_) => "other",
    };
    let same = ClientSpec::of(&client);
    assert_eq!(rule(p.check_update(&client, &same, Some("app.example"))), "ok");
    assert_eq!(rule(p.check_update(&client, &same, Some("other.example"))), "trusted-hosts");
    type Change = fn(&mut ClientSpec);
    let changes: [(Change, &str); 5] = [
        (|s| s.require_consent = false, "consent-required"),
        (|s| s.enabled = true, "client-disabled"),
        (|s| s.full_scope_allowed = true, "full-scope-disabled"),
        (|s| s.allowed_scopes.push("admin".into()), "allowed-client-scopes"),
        (|s| s.redirect_uris = vec!["https://evil.example/cb".into()], "trusted-hosts"),
    ];
    for (change, expected) in changes {
        let mut spec = same.clone();
        change(&mut spec);
        assert_eq!(rule(p.check_update(&client, &spec, Some("app.example"))), expected);
    }
    // Keycloak's two Trusted Hosts switches are separate.
    let p2 = Policies { trusted_hosts_check_requester: false, ..p.clone() };
    assert_eq!(rule(p2.check_update(&client, &same, Some("other.example"))), "ok");
    let p3 = Policies { trusted_hosts_check_uris: false, ..p };
    let mut elsewhere = same.clone();
    elsewhere.redirect_uris = vec!["https://elsewhere.example/cb".into()];
    assert_eq!(rule(p3.check_update(&client, &elsewhere, Some("app.example"))), "ok");
}

#[test]
fn unsigned_id_tokens_signed_userinfo_and_default_max_age_oidc_registration_2() {
    let md = parse(json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "none",
        "userinfo_signed_response_alg": "RS256", "default_max_age": 60}))
    .unwrap();
    let spec = md.to_spec(&ScopeRegistry::default());
    assert_eq!(
        (spec.jwt_alg, spec.userinfo_signed_response_alg, spec.default_max_age),
        (JwtAlg::None, Some(JwtAlg::Rs256), Some(60))
    );
    assert_eq!(md.to_json()["default_max_age"], 60);
    let implicit_none = json!({"redirect_uris": ["https://rp.example/cb"], "response_types": ["id_token"],
        "grant_types": ["implicit"], "id_token_signed_response_alg": "none"});
    assert_eq!(code(parse(implicit_none)), "invalid_client_metadata");
    assert_eq!(
        code(parse(json!({"redirect_uris": ["https://rp.example/cb"], "userinfo_signed_response_alg": "none"}))),
        "invalid_client_metadata"
    );
    assert_eq!(
        code(parse(json!({"redirect_uris": ["https://rp.example/cb"], "default_max_age": -1}))),
        "invalid_client_metadata"
    );
}

#[test]
fn jwks_uri_is_https_and_exclusive_with_jwks_rfc7591_2() {
    let md = parse(json!({"redirect_uris": ["https://rp.example/cb"], "jwks_uri": "https://rp.example/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt"}))
    .unwrap();
    assert_eq!(md.to_spec(&ScopeRegistry::default()).jwks_uri.as_deref(), Some("https://rp.example/jwks.json"));
    assert_eq!(md.to_json()["jwks_uri"], "https://rp.example/jwks.json");
    assert!(md.uris().contains(&"https://rp.example/jwks.json"), "trusted-hosts checks it too");
    let key = crate::jose::SigningKey::from_record(&crate::jose::tests::record_of(
        "k",
        JwtAlg::Es256,
        crate::model::KeyState::Active,
        1,
    ))
    .unwrap();
    let both = json!({"redirect_uris": ["https://rp.example/cb"], "jwks_uri": "https://rp.example/j",
        "jwks": {"keys": [key.public_jwk()]}});
    assert_eq!(code(parse(both)), "invalid_client_metadata");
}

#[test]
fn logout_metadata_frontchannel_logout_2_and_backchannel_logout_2_2() {
    let md = parse(json!({
        "redirect_uris": ["https://rp.example/cb"],
        "frontchannel_logout_uri": "https://rp.example/fc",
        "frontchannel_logout_session_required": true,
        "backchannel_logout_uri": "https://rp.example/bc",
    }))
    .unwrap();
    assert_eq!(md.logout.frontchannel_uri.as_deref(), Some("https://rp.example/fc"));
    assert!(md.logout.frontchannel_session_required);
    assert!(!md.logout.backchannel_session_required);
    let echoed = md.to_json();
    assert_eq!(echoed["backchannel_logout_uri"], "https://rp.example/bc");
    assert_eq!(echoed["backchannel_logout_session_required"], false);
    assert!(md.uris().contains(&"https://rp.example/bc"), "the trusted-hosts policy sees it");
    let (c, _) =
        crate::manage::new_client("r", md.to_spec(&ScopeRegistry::default()), UnixTime(0), &TestRandom::default())
            .unwrap();
    assert_eq!(c.logout, md.logout);
    for bad in [
        json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": "http://rp.example/bc"}),
        json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": "https://rp.example/bc#x"}),
        json!({"redirect_uris": ["https://rp.example/cb"], "frontchannel_logout_uri": "javascript:alert(1)"}),
        json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_session_required": "yes"}),
    ] {
        assert_eq!(code(parse(bad.clone())), "invalid_client_metadata", "{bad}");
    }
    // Front-Channel Logout 1.0 §2: the URI shares scheme, host and port with a redirect URI.
    let other_host = parse(
        json!({"redirect_uris": ["https://rp.example/cb"], "frontchannel_logout_uri": "https://evil.example/fc"}),
    )
    .unwrap();
    let e = crate::manage::new_client(
        "r",
        other_host.to_spec(&ScopeRegistry::default()),
        UnixTime(0),
        &TestRandom::default(),
    );
    assert!(e.unwrap_err().contains("Front-Channel Logout 1.0"));
}
