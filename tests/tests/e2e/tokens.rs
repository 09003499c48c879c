//! Token services for resource servers: introspection (RFC 7662, RFC 9701),
//! revocation (RFC 7009), JWT access tokens (RFC 9068), driven over HTTP as
//! a relying party and a resource server would.

use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, GrantType, JwtAlg};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessToken, ClientId, ClientSecret, IntrospectionUrl, IssuerUrl, RedirectUrl, TokenIntrospectionResponse as _,
};
use serde_json::{Value, json};

use crate::harness::{CALLBACK, Env, authorize, browser, enc, query_param, rp_http};

pub(crate) const PASSWORD: &str = "wonderland-42";

/// Runs the code flow for `alice` as `client_id` and returns the token response.
pub(crate) async fn code_tokens(env: &Env, client_id: &str, secret: Option<&str>, scope: &str) -> Value {
    let http = browser();
    let auth = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope={}&state=s",
        env.endpoint("auth"),
        enc(CALLBACK),
        enc(scope)
    );
    let back = authorize(&http, &auth, "alice", PASSWORD).await;
    let code = query_param(&back, "code").expect("code");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", client_id),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    let r = http.post(env.endpoint("token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// POSTs `form` to `endpoint` with HTTP Basic `auth` (when given); returns status, headers and body text.
pub(crate) async fn post(
    env: &Env,
    endpoint: &str,
    form: &[(&str, &str)],
    auth: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = browser().post(env.endpoint(endpoint)).form(form);
    if let Some((id, secret)) = auth {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// Introspects `token` as `caller`: status and JSON answer.
pub(crate) async fn introspect(env: &Env, token: &str, caller: (&str, &str)) -> (u16, Value) {
    let (status, _, body) = post(env, "token/introspect", &[("token", token)], Some(caller)).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A confidential resource server client that may only introspect.
pub(crate) async fn resource_server(env: &Env) -> (String, String) {
    service_client(env, None).await
}

/// A confidential client for the client_credentials grant alone, with the access token `format`.
pub(crate) async fn service_client(env: &Env, format: Option<oidc_core::model::AccessTokenFormat>) -> (String, String) {
    let (id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.name = "API".into();
            s.response_types = vec![];
            s.grant_types = vec![GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
            s.access_token_format = format;
        })
        .await;
    (id, secret.unwrap())
}

#[tokio::test]
async fn introspection_needs_client_authentication_rfc7662_2_1() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (public, _) = env.client(ClientType::Public, JwtAlg::Rs256, |_| {}).await;
    let (status, headers, body) = post(&env, "token/introspect", &[("token", "x")], None).await;
    assert_eq!(status, 401, "{body}");
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"), "RFC 6749 §5.2");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_client");
    let (status, _, _) = post(&env, "token/introspect", &[("token", "x")], Some((&api, "wrong-secret"))).await;
    assert_eq!(status, 401, "wrong secret");
    let (status, _, _) = post(&env, "token/introspect", &[("token", "x"), ("client_id", &public)], None).await;
    assert_eq!(status, 401, "a public client proves nothing");
    let (status, _, body) = post(&env, "token/introspect", &[], Some((&api, &api_secret))).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // client_secret_post and client_secret_jwt work as at the token endpoint.
    let (status, _, _) =
        post(&env, "token/introspect", &[("token", "x"), ("client_id", &api), ("client_secret", &api_secret)], None)
            .await;
    assert_eq!(status, 200);
    let claims = json!({"iss": api, "sub": api, "aud": env.endpoint("token/introspect"), "jti": "j-1",
                        "exp": crate::harness::now().secs() + 60});
    let assertion = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), api_secret.as_bytes());
    let form = [
        ("token", "x"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, _, body) = post(&env, "token/introspect", &form, None).await;
    assert_eq!((status, body.as_str()), (200, r#"{"active":false}"#));
    let (status, _, _) = post(&env, "token/introspect", &form, None).await;
    assert_eq!(status, 401, "an assertion is used once (RFC 7523 §3)");
}

#[tokio::test]
async fn unknown_malformed_and_other_realm_tokens_are_exactly_active_false_rfc7662_2_2() {
    let env = Env::start().await;
    let (api, secret) = resource_server(&env).await;
    for token in ["unknown-token", "e30.e30.", "%%%"] {
        let (status, headers, body) = post(&env, "token/introspect", &[("token", token)], Some((&api, &secret))).await;
        assert_eq!((status, body.as_str()), (200, r#"{"active":false}"#), "{token}");
        assert_eq!(headers["cache-control"], "no-store", "RFC 7662 §4");
    }
    // A token of another realm is not a token of this one.
    oidc_cli::server::bootstrap(env.store.as_ref(), "other").await.unwrap();
    let mut spec = oidc_core::manage::ClientSpec::new("Other", ClientType::Confidential, vec![]);
    spec.response_types = vec![];
    spec.grant_types = vec![GrantType::ClientCredentials];
    let (other, other_secret) =
        oidc_core::manage::new_client("other", spec, crate::harness::now(), &oidc_core::rand::OsRandom::new()).unwrap();
    env.store.create_client(&other).await.unwrap();
    let other_secret = other_secret.unwrap();
    let r = browser()
        .post(format!("{}/realms/other/protocol/openid-connect/token", env.server.base_url))
        .basic_auth(&other.client_id, Some(other_secret.secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    let (status, _, body) = post(&env, "token/introspect", &[("token", at)], Some((&api, &secret))).await;
    assert_eq!((status, body.as_str()), (200, r#"{"active":false}"#));
}

#[tokio::test]
async fn active_tokens_are_described_to_an_independent_client_rfc7662_2_2() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let sub = env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, rp_secret.as_deref(), "openid email").await;
    let d = env.discovery().await;
    assert_eq!(d["introspection_endpoint"], env.endpoint("token/introspect"));
    assert!(!d["introspection_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));

    // The openidconnect crate's RFC 7662 support, as the resource server.
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    let rs = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(api.clone()),
        Some(ClientSecret::new(api_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(d["introspection_endpoint"].as_str().unwrap().into()).unwrap());
    let at = AccessToken::new(tokens["access_token"].as_str().unwrap().into());
    let info = rs.introspect(&at).request_async(&rp_http).await.unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().map(|c| c.as_str()), Some(rp.as_str()));
    assert_eq!(info.username(), Some("alice"));
    assert_eq!(info.sub(), Some(sub.as_str()));
    assert_eq!(info.iss(), Some(env.issuer().as_str()));
    assert_eq!(info.aud(), Some(&vec![rp.clone()]));
    let scopes: Vec<String> = info.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["openid", "email"]);
    assert!(info.exp().unwrap() > info.iat().unwrap());
    assert!(info.jti().is_some());
    // The refresh token, found first with the hint, and also without it.
    let rt = tokens["refresh_token"].as_str().unwrap();
    for form in [vec![("token", rt), ("token_type_hint", "refresh_token")], vec![("token", rt)]] {
        let (status, _, body) = post(&env, "token/introspect", &form, Some((&api, &api_secret))).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, &v["active"], &v["token_type"]), (200, &json!(true), &json!("refresh_token")));
        assert!(v["sid"].is_string(), "issued within a login session");
    }
    // The access token presented with the wrong hint is still found (a hint only).
    let form = [("token", at.secret().as_str()), ("token_type_hint", "refresh_token")];
    let (_, _, body) = post(&env, "token/introspect", &form, Some((&api, &api_secret))).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["token_type"], "Bearer");
    // Once rotated, the old refresh token is no longer active.
    let r = browser()
        .post(env.endpoint("token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", &rp),
            ("client_secret", rp_secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = introspect(&env, rt, (&api, &api_secret)).await;
    assert_eq!(body, json!({"active": false}));
}

#[tokio::test]
async fn require_audience_and_include_scope_settings_oidc_introspection() {
    let mut settings = oidc_core::config::Settings::default();
    settings.introspection.require_audience = true;
    settings.introspection.include_scope = false;
    let env = Env::start_with(settings).await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, rp_secret.as_deref(), "openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    // The resource server is not in the token's audience.
    assert_eq!(introspect(&env, at, (&api, &api_secret)).await, (200, json!({"active": false})));
    // The client it was issued to is.
    let (status, body) = introspect(&env, at, (&rp, rp_secret.as_deref().unwrap())).await;
    assert_eq!((status, &body["active"]), (200, &json!(true)));
    assert!(body.get("scope").is_none(), "include_scope = false");
}

#[tokio::test]
async fn signed_introspection_response_on_request_rfc9701_4() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, rp_secret.as_deref(), "openid").await;
    let r = browser()
        .post(env.endpoint("token/introspect"))
        .basic_auth(&api, Some(&api_secret))
        .header("accept", "application/token-introspection+jwt")
        .form(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/token-introspection+jwt");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let jwt = r.text().await.unwrap();
    // Verified with the realm's published keys alone.
    let jwks: Value = browser().get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().map(|k| oidc_core::jose::VerifyKey::from_jwk(k).unwrap()).collect();
    let v = oidc_core::jose::verify(&jwt, &["RS256"], &keys).unwrap();
    assert_eq!(v.header["typ"], "token-introspection+jwt", "RFC 9701 §5");
    assert_eq!(v.claims["iss"], env.issuer());
    assert_eq!(v.claims["aud"], api.as_str());
    assert_eq!(v.claims["token_introspection"]["active"], true);
    assert_eq!(v.claims["token_introspection"]["client_id"], rp.as_str());
}

/// Refreshes with `refresh_token` as a confidential client: the status and body.
pub(crate) async fn refresh(env: &Env, refresh_token: &str, client: (&str, &str)) -> (u16, Value) {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let (status, _, body) = post(env, "token", &form, Some(client)).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn userinfo_status(env: &Env, at: &str) -> u16 {
    browser().get(env.endpoint("userinfo")).bearer_auth(at).send().await.unwrap().status().as_u16()
}

async fn audit_kinds(env: &Env) -> Vec<String> {
    env.store.events(RealmName::new(crate::harness::REALM), 50).await.unwrap().into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn revoked_refresh_token_revokes_the_grant_rfc7009_2_1() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    env.user("alice", PASSWORD).await;
    let first = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    // A rotation: the grant now has a second access token and a new refresh token.
    let (status, second) = refresh(&env, first["refresh_token"].as_str().unwrap(), (&rp, &rp_secret)).await;
    assert_eq!(status, 200);
    let d = env.discovery().await;
    assert_eq!(d["revocation_endpoint"], env.endpoint("revoke"));
    let rt = second["refresh_token"].as_str().unwrap();
    let (status, headers, body) =
        post(&env, "revoke", &[("token", rt), ("token_type_hint", "refresh_token")], Some((&rp, &rp_secret))).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(headers["cache-control"], "no-store");
    for at in [&first["access_token"], &second["access_token"]] {
        let at = at.as_str().unwrap();
        assert_eq!(userinfo_status(&env, at).await, 401, "every access token of the grant stops at UserInfo");
        assert_eq!(introspect(&env, at, (&api, &api_secret)).await.1, json!({"active": false}));
    }
    let (status, body) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(audit_kinds(&env).await.contains(&"token.revoked".to_owned()));
}

#[tokio::test]
async fn revoked_access_token_fails_at_userinfo_and_introspection_at_once_rfc7009_2_1() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&env, at).await, 200);
    // No hint, client_secret_post.
    let (status, _, _) =
        post(&env, "revoke", &[("token", at), ("client_id", &rp), ("client_secret", &rp_secret)], None).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(&env, at).await, 401);
    assert_eq!(introspect(&env, at, (&api, &api_secret)).await.1, json!({"active": false}));
    // Only that access token: the refresh token still works.
    let (status, _) = refresh(&env, tokens["refresh_token"].as_str().unwrap(), (&rp, &rp_secret)).await;
    assert_eq!(status, 200);
    let events = env.store.events(RealmName::new(crate::harness::REALM), 10).await.unwrap();
    let e = events.iter().find(|e| e.kind == "token.revoked").expect("an audit event");
    assert_eq!(e.client_id.as_deref(), Some(rp.as_str()));
    assert!(e.detail.contains("access_token") && !e.detail.contains(at), "never the token itself");
}

#[tokio::test]
async fn another_client_cannot_revoke_and_unknown_tokens_answer_200_rfc7009_2_2() {
    let env = Env::start().await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    let (public, _) = env.client(ClientType::Public, JwtAlg::Rs256, |_| {}).await;
    let (other, other_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    // Another confidential client and a public one: 200, and nothing happens.
    for token in [at, rt] {
        let (status, _, _) =
            post(&env, "revoke", &[("token", token)], Some((&other, other_secret.as_deref().unwrap()))).await;
        assert_eq!(status, 200);
        let (status, _, _) = post(&env, "revoke", &[("token", token), ("client_id", &public)], None).await;
        assert_eq!(status, 200);
    }
    assert_eq!(userinfo_status(&env, at).await, 200, "the owner's access token still works");
    let (status, _) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 200, "the owner's refresh token still works");
    assert!(audit_kinds(&env).await.contains(&"token.revocation_refused".to_owned()));
    // Unknown tokens: 200. No client authentication: 401 invalid_client.
    let (status, _, _) = post(&env, "revoke", &[("token", "nope")], Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200);
    let (status, headers, body) = post(&env, "revoke", &[("token", at)], None).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, _) = post(&env, "revoke", &[("token", at)], Some((&rp, "wrong-secret"))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn public_clients_revoke_their_own_tokens_rfc7009_2_1() {
    let env = Env::start().await;
    let (public, _) = env.client(ClientType::Public, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let http = browser();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let auth = format!(
        "{}?client_id={public}&redirect_uri={}&response_type=code&scope=openid&state=s\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &auth, "alice", PASSWORD).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", public.as_str()),
        ("code_verifier", verifier),
    ];
    let (status, _, body) = post(&env, "token", &form, None).await;
    assert_eq!(status, 200, "{body}");
    let tokens: Value = serde_json::from_str(&body).unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _, _) = post(&env, "revoke", &[("token", rt), ("client_id", &public)], None).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(&env, tokens["access_token"].as_str().unwrap()).await, 401);
}

#[tokio::test]
async fn another_client_presenting_a_leaked_refresh_token_or_code_changes_nothing_rfc6749_6_and_4_1_3() {
    let env = Env::start().await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    let (attacker, _) = env.client(ClientType::Public, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    // An unauthenticated public client presents the leaked refresh token (RFC 6749 §6:
    // the token is bound to the client it was issued to).
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", attacker.as_str())];
    let (status, _, body) = post(&env, "token", &form, None).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()), (400, Some("invalid_grant")));
    // The owner's next refresh is a first use, not a replay that revokes the grant.
    let (status, _) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 200, "the leaked refresh token was not burnt");
    assert_eq!(userinfo_status(&env, tokens["access_token"].as_str().unwrap()).await, 200, "the grant stands");

    // The same for a leaked authorization code (RFC 6749 §4.1.3).
    let http = browser();
    let auth = format!(
        "{}?client_id={rp}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &auth, "alice", PASSWORD).await;
    let code = query_param(&back, "code").unwrap();
    let stolen = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", attacker.as_str()),
    ];
    let (status, _, _) = post(&env, "token", &stolen, None).await;
    assert_eq!(status, 400);
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200, "the owner redeems the code once: {body}");
}

#[tokio::test]
async fn unknown_client_is_refused_before_its_scope_is_parsed_rfc6749_5_2() {
    let env = Env::start().await;
    // A scope far beyond any limit, with characters RFC 6749 §3.3 forbids:
    // the client authentication fails first, so it is never parsed.
    let huge = format!("{}\"", "s ".repeat(30_000));
    let form = [("grant_type", "client_credentials"), ("scope", huge.as_str()), ("client_id", "nobody")];
    let (status, _, body) = post(&env, "token", &form, None).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let form = [("grant_type", "password"), ("username", "u"), ("password", "p"), ("scope", "\u{7f}")];
    let (status, _, _) = post(&env, "token", &form, Some(("nobody", "x"))).await;
    assert_eq!(status, 401);
}

/// The realm's published keys, fetched as a resource server would.
async fn jwks_keys(env: &Env) -> Vec<oidc_core::jose::VerifyKey> {
    let jwks: Value = browser().get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| oidc_core::jose::VerifyKey::from_jwk(k).unwrap()).collect()
}

async fn jwt_client(env: &Env) -> (String, String) {
    let (id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
            s.grant_types.push(GrantType::ClientCredentials);
        })
        .await;
    (id, secret.unwrap())
}

#[tokio::test]
async fn jwt_access_token_verifies_from_jwks_alone_with_typ_at_jwt_rfc9068_2() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = jwt_client(&env).await;
    let sub = env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid email").await;
    assert_eq!(tokens["expires_in"], 300, "JWT access tokens live 300 s by default");
    let at = tokens["access_token"].as_str().unwrap();
    let v = oidc_core::jose::verify(at, &["RS256"], &jwks_keys(&env).await).expect("verifies with the JWKS alone");
    assert_eq!(v.header["typ"], "at+jwt", "RFC 9068 §2.1");
    let c = &v.claims;
    assert_eq!(
        (c["iss"].as_str(), c["sub"].as_str(), c["aud"].as_str()),
        (Some(env.issuer().as_str()), Some(sub.as_str()), Some(rp.as_str()))
    );
    assert_eq!(
        (c["client_id"].as_str(), c["azp"].as_str(), c["typ"].as_str()),
        (Some(rp.as_str()), Some(rp.as_str()), Some("Bearer"))
    );
    assert_eq!(c["scope"], "openid email");
    assert_eq!(c["email"], "alice@example.com");
    assert!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() == 300);
    for claim in ["auth_time", "jti", "sid"] {
        assert!(c.contains_key(claim), "{claim}");
    }
    // UserInfo and introspection accept the JWT like an opaque token.
    assert_eq!(userinfo_status(&env, at).await, 200);
    let (_, info) = introspect(&env, at, (&api, &api_secret)).await;
    assert_eq!((&info["active"], &info["jti"]), (&json!(true), &c["jti"]));
    // Revoked, it stops there at once (a resource server checking only the signature would not know).
    let (status, _, _) = post(&env, "revoke", &[("token", at)], Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(&env, at).await, 401);
    assert_eq!(introspect(&env, at, (&api, &api_secret)).await.1, json!({"active": false}));
}

#[tokio::test]
async fn code_replay_revokes_jwt_access_tokens_at_introspection_rfc6749_4_1_2() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = jwt_client(&env).await;
    env.user("alice", PASSWORD).await;
    let http = browser();
    let auth = format!(
        "{}?client_id={rp}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &auth, "alice", PASSWORD).await;
    let code = query_param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200);
    let at = serde_json::from_str::<Value>(&body).unwrap()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&env, &at, (&api, &api_secret)).await.1["active"], true);
    let (status, _, _) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 400, "the code is replayed");
    assert_eq!(introspect(&env, &at, (&api, &api_secret)).await.1, json!({"active": false}));
    assert_eq!(userinfo_status(&env, &at).await, 401);
}

#[tokio::test]
async fn resource_indicators_set_the_audience_rfc8707_2() {
    let env = Env::start().await;
    let (api, api_secret) = resource_server(&env).await;
    let (rp, rp_secret) = jwt_client(&env).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", "https://api.example/"),
        ("resource", "https://billing.example/"),
    ];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200, "{body}");
    let at = serde_json::from_str::<Value>(&body).unwrap()["access_token"].as_str().unwrap().to_owned();
    let v = oidc_core::jose::verify(&at, &["RS256"], &jwks_keys(&env).await).unwrap();
    assert_eq!(v.claims["aud"], json!(["https://api.example/", "https://billing.example/"]));
    assert_eq!(v.claims["sub"], rp.as_str(), "RFC 9068 §2.2: no resource owner");
    let (_, info) = introspect(&env, &at, (&api, &api_secret)).await;
    assert_eq!(info["aud"], json!(["https://api.example/", "https://billing.example/"]));
    let form = [("grant_type", "client_credentials"), ("resource", "not-a-uri")];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()),
        (400, Some("invalid_target"))
    );
    // The code exchange names the resources; a refresh may narrow them, not widen them (RFC 8707 §2.2).
    env.user("alice", PASSWORD).await;
    let auth = format!(
        "{}?client_id={rp}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&browser(), &auth, "alice", PASSWORD).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("resource", "https://api.example/"),
        ("resource", "https://billing.example/"),
    ];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200, "{body}");
    let rt = serde_json::from_str::<Value>(&body).unwrap()["refresh_token"].as_str().unwrap().to_owned();
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("resource", "https://other.example/")];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("resource", "https://api.example/")];
    let (status, _, body) = post(&env, "token", &form, Some((&rp, &rp_secret))).await;
    assert_eq!(status, 200, "{body}");
    let at = serde_json::from_str::<Value>(&body).unwrap()["access_token"].as_str().unwrap().to_owned();
    let v = oidc_core::jose::verify(&at, &["RS256"], &jwks_keys(&env).await).unwrap();
    assert_eq!(v.claims["aud"], "https://api.example/");
}

#[tokio::test]
async fn refresh_token_reuse_interval_allows_one_retry_after_a_lost_answer() {
    let settings = oidc_core::config::Settings { refresh_reuse_interval: 30, ..Default::default() };
    let env = Env::start_with(settings).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    // The rotation succeeds at the server but its answer is lost.
    let (status, lost) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 200);
    // Within the interval the previous token yields a new pair from the same grant, once.
    let (status, retried) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 200, "{retried}");
    assert_ne!(retried["refresh_token"], lost["refresh_token"]);
    assert_eq!(userinfo_status(&env, retried["access_token"].as_str().unwrap()).await, 200);
    let (status, _) = refresh(&env, retried["refresh_token"].as_str().unwrap(), (&rp, &rp_secret)).await;
    assert_eq!(status, 200, "the new pair works");
    // A third presentation is a replay: the whole grant is revoked, as without the interval.
    let (status, body) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo_status(&env, retried["access_token"].as_str().unwrap()).await, 401);
}

#[tokio::test]
async fn without_a_reuse_interval_a_second_presentation_revokes_the_grant_rfc9700_4_14_2() {
    let env = Env::start().await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let rp_secret = rp_secret.unwrap();
    env.user("alice", PASSWORD).await;
    let tokens = code_tokens(&env, &rp, Some(&rp_secret), "openid").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, next) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&env, rt, (&rp, &rp_secret)).await;
    assert_eq!(status, 400);
    assert_eq!(userinfo_status(&env, next["access_token"].as_str().unwrap()).await, 401, "the grant is revoked");
}

#[tokio::test]
async fn periodic_cleanup_deletes_expired_rows_and_keeps_live_ones() {
    let env = Env::start_customized(|o| o.cleanup = Some((std::time::Duration::from_secs(1), 2))).await;
    let (rp, rp_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("alice", PASSWORD).await;
    let live = code_tokens(&env, &rp, rp_secret.as_deref(), "openid").await;
    // Five access tokens that expired a minute ago: more than one batch of two.
    let rng = oidc_core::rand::OsRandom::new();
    let mut expired = Vec::new();
    for _ in 0..5 {
        let scope = oidc_core::scope::Scope::parse("openid").unwrap();
        let mut rec = oidc_core::model::AccessTokenRecord {
            digest: oidc_core::secret::Digest::of(&oidc_core::rand::token(&rng, 32)),
            realm: crate::harness::REALM.into(),
            client_id: rp.clone(),
            user_id: None,
            scope,
            expires_at: crate::harness::now(),
            grant_id: "g".into(),
            claims: None,
            issued_at: crate::harness::now(),
            session_id: None,
            audience: Vec::new(),
            jti: String::new(),
        };
        rec.expires_at = oidc_core::time::UnixTime(rec.expires_at.secs() - 60);
        env.store.save_tokens(&rec, None).await.unwrap();
        expired.push(rec.digest);
    }
    let mut left = expired.len();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = 0;
        for d in &expired {
            if env.store.access_token(RealmName::new(crate::harness::REALM), d).await.unwrap().is_some() {
                left += 1;
            }
        }
        if left == 0 {
            break;
        }
    }
    assert_eq!(left, 0, "the periodic job deleted every expired token");
    assert_eq!(userinfo_status(&env, live["access_token"].as_str().unwrap()).await, 200, "live tokens stay");
    // Run once by hand (what `oidc cleanup` does): nothing left.
    assert_eq!(oidc_cli::cleanup::run_once(env.store.as_ref(), 2, 3600).await.unwrap().total(), 0);
}

/// RFC 8707 §2.1 and §2.2: resources named in the authorization request become
/// the audience of the tokens the code is exchanged for; the token request may
/// narrow them (one resource per token), never add another.
#[tokio::test]
async fn resource_indicators_in_the_authorization_request_rfc8707_2_1() {
    let env = Env::start().await;
    let (rp, rp_secret) = jwt_client(&env).await;
    env.user("alice", PASSWORD).await;
    let code = || async {
        let auth = format!(
            "{}?client_id={rp}&redirect_uri={}&response_type=code&scope=openid&state=s&resource={}&resource={}",
            env.endpoint("auth"),
            enc(CALLBACK),
            enc("https://api.example/"),
            enc("https://billing.example/")
        );
        let back = authorize(&browser(), &auth, "alice", PASSWORD).await;
        query_param(&back, "code").unwrap()
    };
    let exchange = |code: String, resource: Option<&'static str>| {
        let (rp, rp_secret) = (rp.clone(), rp_secret.clone());
        let env = &env;
        async move {
            let mut form =
                vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)];
            if let Some(r) = resource {
                form.push(("resource", r));
            }
            let (status, _, body) = post(env, "token", &form, Some((&rp, &rp_secret))).await;
            (status, serde_json::from_str::<Value>(&body).unwrap())
        }
    };
    let (status, body) = exchange(code().await, None).await;
    assert_eq!(status, 200, "{body}");
    let v =
        oidc_core::jose::verify(body["access_token"].as_str().unwrap(), &["RS256"], &jwks_keys(&env).await).unwrap();
    assert_eq!(v.claims["aud"], json!(["https://api.example/", "https://billing.example/"]));
    let (status, body) = exchange(code().await, Some("https://billing.example/")).await;
    assert_eq!(status, 200, "{body}");
    let v =
        oidc_core::jose::verify(body["access_token"].as_str().unwrap(), &["RS256"], &jwks_keys(&env).await).unwrap();
    assert_eq!(v.claims["aud"], "https://billing.example/", "narrowed to one resource");
    let (status, body) = exchange(code().await, Some("https://other.example/")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")), "{body}");
    // A bad resource in the authorization request goes back to the client.
    let auth = format!(
        "{}?client_id={rp}&redirect_uri={}&response_type=code&scope=openid&state=s&resource={}",
        env.endpoint("auth"),
        enc(CALLBACK),
        enc("https://api.example/#frag")
    );
    let r = browser().get(auth).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(crate::harness::location(&r).contains("error=invalid_target"));
}
