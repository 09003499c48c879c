//! Implicit and hybrid flows (OIDC Core §3.2, §3.3), client_credentials and
//! password grants (RFC 6749 §4.3, §4.4) with brute-force protection, checked
//! by the `openidconnect` crate where it covers the flow.

use std::str::FromStr as _;

use oidc_core::config::{Settings, ThrottlePolicy};
use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, GrantType, JwtAlg, ResponseType};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, AuthorizationCodeHash, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse as _, RedirectUrl, Scope, TokenResponse as _,
};

use crate::harness::{self, CALLBACK, Env, authorize, browser, enc, location, rp_http};

/// The parameter `name` of the fragment of `url`.
fn fragment_param(url: &str, name: &str) -> Option<String> {
    let f = url.split_once('#')?.1;
    f.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| oidc_core::params::form_urldecode(v))
}

async fn rp_for(
    env: &Env,
    client_id: &str,
    secret: Option<String>,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    CoreClient::from_provider_metadata(meta, ClientId::new(client_id.into()), secret.map(ClientSecret::new))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
}

#[tokio::test]
async fn implicit_id_token_token_verified_by_openidconnect_oidc_core_3_2() {
    let env = Env::start().await;
    let (client_id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| s.response_types = vec![ResponseType::IdTokenToken])
        .await;
    let sub = env.user("alice", "wonderland-42").await;
    let rp = rp_for(&env, &client_id, secret).await;
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::Implicit(true), CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .url();
    let http = browser();
    let back = authorize(&http, url.as_str(), "alice", "wonderland-42").await;
    assert!(back.starts_with(&format!("{CALLBACK}#")), "fragment response by default: {back}");
    assert_eq!(fragment_param(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(fragment_param(&back, "token_type").as_deref(), Some("Bearer"));
    assert!(fragment_param(&back, "refresh_token").is_none(), "RFC 6749 §4.2.2");
    assert!(fragment_param(&back, "code").is_none());
    let access = AccessToken::new(fragment_param(&back, "access_token").expect("access_token"));
    let id_token = CoreIdToken::from_str(&fragment_param(&back, "id_token").expect("id_token")).unwrap();
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("valid id_token with our nonce");
    assert_eq!(claims.subject().as_str(), sub);
    // OIDC Core §3.2.2.9: at_hash.
    let expected =
        AccessTokenHash::from_token(&access, id_token.signing_alg().unwrap(), id_token.signing_key(&verifier).unwrap())
            .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // The access token works at the UserInfo endpoint.
    let r = http.get(env.endpoint("userinfo")).bearer_auth(access.secret()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["email"], "alice@example.com");
}

#[tokio::test]
async fn implicit_id_token_only_carries_the_scope_claims_oidc_core_5_4() {
    let env = Env::start().await;
    let (client_id, secret) =
        env.client(ClientType::Public, JwtAlg::Rs256, |s| s.response_types = vec![ResponseType::IdToken]).await;
    env.user("alice", "wonderland-42").await;
    let rp = rp_for(&env, &client_id, secret).await;
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::Implicit(false), CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .url();
    let back = authorize(&browser(), url.as_str(), "alice", "wonderland-42").await;
    assert!(fragment_param(&back, "access_token").is_none());
    let id_token = CoreIdToken::from_str(&fragment_param(&back, "id_token").expect("id_token")).unwrap();
    let claims = id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid id_token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert!(claims.access_token_hash().is_none());
}

#[tokio::test]
async fn hybrid_code_id_token_token_with_c_hash_then_code_exchange_oidc_core_3_3() {
    let env = Env::start().await;
    let (client_id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.response_types = vec![ResponseType::CodeIdTokenToken, ResponseType::CodeIdToken];
        })
        .await;
    let sub = env.user("alice", "wonderland-42").await;
    let rp = rp_for(&env, &client_id, secret).await;
    let (url, _, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::Hybrid(vec![
                CoreResponseType::Code,
                CoreResponseType::IdToken,
                CoreResponseType::Token,
            ]),
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let back = authorize(&browser(), url.as_str(), "alice", "wonderland-42").await;
    assert!(
        url.as_str().contains("response_type=code+id_token+token")
            || url.as_str().contains("response_type=code%20id_token%20token"),
        "{url}"
    );
    let code = AuthorizationCode::new(fragment_param(&back, "code").expect("code"));
    let access = AccessToken::new(fragment_param(&back, "access_token").expect("access_token"));
    let id_token = CoreIdToken::from_str(&fragment_param(&back, "id_token").expect("id_token")).unwrap();
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("valid id_token");
    let (alg, key) = (id_token.signing_alg().unwrap(), id_token.signing_key(&verifier).unwrap());
    // OIDC Core §3.3.2.11: c_hash and at_hash.
    assert_eq!(claims.code_hash(), Some(&AuthorizationCodeHash::from_code(&code, alg, key).unwrap()));
    assert_eq!(claims.access_token_hash(), Some(&AccessTokenHash::from_token(&access, alg, key).unwrap()));
    // OIDC Core §3.3.3: the code still goes to the token endpoint; its id_token has the same sub and nonce.
    let tokens = rp.exchange_code(code).unwrap().request_async(&rp_http).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&verifier, &nonce).expect("token endpoint id_token");
    assert_eq!(claims.subject().as_str(), sub);
    assert!(tokens.refresh_token().is_some());
}

#[tokio::test]
async fn tokens_are_refused_in_a_query_and_nonce_and_registration_are_required_oidc_core_3_2_2_1() {
    let env = Env::start().await;
    let (client_id, _) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| s.response_types = vec![ResponseType::IdTokenToken])
        .await;
    env.user("alice", "wonderland-42").await;
    let http = browser();
    let base =
        format!("{}?client_id={client_id}&redirect_uri={}&scope=openid&state=s1", env.endpoint("auth"), enc(CALLBACK));
    // Log in once so that the errors come from validation, not login.
    let ok =
        authorize(&http, &format!("{base}&response_type=id_token%20token&nonce=n1"), "alice", "wonderland-42").await;
    assert!(fragment_param(&ok, "id_token").is_some(), "{ok}");
    for (extra, error) in [
        ("&response_type=id_token%20token&nonce=n&response_mode=query", "invalid_request"),
        ("&response_type=id_token%20token", "invalid_request"),
        ("&response_type=code%20id_token&nonce=n", "unauthorized_client"),
        ("&response_type=token&nonce=n", "unsupported_response_type"),
    ] {
        let r = http.get(format!("{base}{extra}")).send().await.unwrap();
        assert_eq!(r.status(), 302, "{extra}");
        let loc = location(&r);
        assert!(loc.starts_with(CALLBACK), "{loc}");
        assert!(!loc.contains('?'), "tokens or their errors never travel in a query: {loc}");
        assert_eq!(fragment_param(&loc, "error").as_deref(), Some(error), "{extra}: {loc}");
        assert_eq!(fragment_param(&loc, "state").as_deref(), Some("s1"));
    }
}

#[tokio::test]
async fn implicit_with_form_post_posts_the_tokens() {
    let env = Env::start().await;
    let (client_id, _) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| s.response_types = vec![ResponseType::IdTokenToken])
        .await;
    env.user("alice", "wonderland-42").await;
    let http = browser();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&scope=openid&response_type=id_token%20token&nonce=n&response_mode=form_post",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let r = http.get(&url).send().await.unwrap();
    let page = r.text().await.unwrap();
    let r = harness::submit_login(&http, &page, "alice", "wonderland-42").await;
    let r = http.get(location(&r)).send().await.unwrap();
    let page = r.text().await.unwrap();
    let r = harness::submit_consent(&http, &page, true).await;
    assert_eq!(r.status(), 200, "form_post answers with a page");
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("action=\"{}\"", CALLBACK.replace('/', "&#x2f;"))) || page.contains(CALLBACK),
        "{page}"
    );
    assert!(harness::input(&page, "id_token").is_some(), "{page}");
    assert!(harness::input(&page, "access_token").is_some());
}

async fn token_request(
    env: &Env,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let mut req = browser().post(env.endpoint("token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(serde_json::Value::Null), headers)
}

#[tokio::test]
async fn client_credentials_for_confidential_clients_only_rfc6749_4_4() {
    let env = Env::start().await;
    let (client_id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.response_types = vec![];
            s.grant_types = vec![GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
        })
        .await;
    let secret = secret.unwrap();
    let (status, body, _) =
        token_request(&env, &[("grant_type", "client_credentials"), ("scope", "email")], Some((&client_id, &secret)))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email");
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3");
    assert!(body.get("id_token").is_none(), "no end-user, no id_token");
    // There is no user to describe at UserInfo (RFC 6750 §3.1): without openid the scope is insufficient,
    // with it the token still names no user.
    let r = browser()
        .get(env.endpoint("userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, body, _) =
        token_request(&env, &[("grant_type", "client_credentials"), ("scope", "openid")], Some((&client_id, &secret)))
            .await;
    let r = browser()
        .get(env.endpoint("userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A client not registered for the grant is refused; a wrong secret is invalid_client.
    let (code_client, code_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let (status, body, _) =
        token_request(&env, &[("grant_type", "client_credentials")], Some((&code_client, &code_secret.unwrap()))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let (status, body, _) =
        token_request(&env, &[("grant_type", "client_credentials")], Some((&client_id, "wrong-secret-123"))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn password_grant_is_off_by_default_rfc9700_2_4() {
    let env = Env::start().await;
    let (client_id, secret) =
        env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.grant_types.push(GrantType::Password)).await;
    env.user("alice", "wonderland-42").await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "wonderland-42")];
    let (status, body, _) = token_request(&env, &form, Some((&client_id, &secret.unwrap()))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let disco: serde_json::Value = env.discovery().await;
    assert!(!disco["grant_types_supported"].as_array().unwrap().contains(&"password".into()));
}

fn password_settings() -> Settings {
    Settings {
        password_grant_enabled: true,
        throttle: ThrottlePolicy {
            max_failures_per_user: 3,
            max_failures_per_address: 50,
            window: 900,
            lockout: 60,
            max_lockout: 600,
            ..ThrottlePolicy::default()
        },
        ..Settings::default()
    }
}

#[tokio::test]
async fn password_grant_issues_tokens_and_locks_out_after_the_configured_failures_rfc6749_4_3_and_10_7() {
    let env = Env::start_with(password_settings()).await;
    let (client_id, secret) =
        env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.grant_types.push(GrantType::Password)).await;
    let secret = secret.unwrap();
    let sub = env.user("alice", "wonderland-42").await;
    let basic = Some((client_id.as_str(), secret.as_str()));
    let good =
        [("grant_type", "password"), ("username", "alice"), ("password", "wonderland-42"), ("scope", "openid email")];
    let bad = [("grant_type", "password"), ("username", "alice"), ("password", "guess")];

    let (status, body, _) = token_request(&env, &good, basic).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid email");
    assert!(body["refresh_token"].is_string());
    // The id_token verifies against the published keys and names the user.
    let rp = rp_for(&env, &client_id, Some(secret.clone())).await;
    let id_token = CoreIdToken::from_str(body["id_token"].as_str().unwrap()).unwrap();
    let claims = id_token.claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(())).expect("valid id_token");
    assert_eq!(claims.subject().as_str(), sub);

    // Two failures, then a success: not locked before the threshold. The success
    // takes back only its own count, so one more failure reaches the threshold of 3.
    for _ in 0..2 {
        let (status, body, _) = token_request(&env, &bad, basic).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    }
    assert_eq!(token_request(&env, &good, basic).await.0, 200, "not locked before the configured failures");
    let (status, body, _) = token_request(&env, &bad, basic).await;
    assert_eq!((status, body["error_description"].as_str().map(|d| d.contains("wrong"))), (400, Some(true)), "{body}");
    // The account is locked: even the right password is refused, with Retry-After.
    let (status, body, headers) = token_request(&env, &good, basic).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("too many"), "{body}");
    let retry: i64 = headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The count lives in the database: a second server instance on the same storage is locked too.
    let second = oidc_cli::server::spawn(
        oidc_cli::server::ServerOptions::new("127.0.0.1:0", password_settings()),
        env.store.clone(),
    )
    .await
    .unwrap();
    let r = browser()
        .post(format!("{}/realms/main/protocol/openid-connect/token", second.base_url))
        .basic_auth(&client_id, Some(&secret))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("retry-after").is_some());
    // Each checked failure is in the audit log (the refused attempts were never checked).
    let events = env.store.events(RealmName::new("main"), 50).await.unwrap();
    assert!(events.iter().filter(|e| e.kind == "login.failed").count() == 3);
    assert!(events.iter().all(|e| !e.detail.contains("guess")), "passwords never reach the audit log");
}

#[tokio::test]
async fn login_form_locks_out_with_429_and_retry_after_rfc6749_10_7() {
    let env = Env::start_with(password_settings()).await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("bob", "builder-4242").await;
    let http = browser();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    for _ in 0..3 {
        let r = harness::submit_login(&http, &page, "bob", "wrong").await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("Invalid username or password"));
    }
    let r = harness::submit_login(&http, &page, "bob", "builder-4242").await;
    assert_eq!(r.status(), 429, "locked even with the right password");
    assert!(r.headers().get("retry-after").is_some());
    assert!(r.text().await.unwrap().contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn consent_given_and_declined_are_audit_events() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let sub = env.user("carol", "carol-pw-123").await;
    let http = browser();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20email&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    authorize(&http, &url, "carol", "carol-pw-123").await;
    let page = http.get(format!("{url}&prompt=consent")).send().await.unwrap().text().await.unwrap();
    let r = harness::submit_consent(&http, &page, false).await;
    assert!(location(&r).contains("error=access_denied"));
    let events = env.store.events(RealmName::new("main"), 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["consent.declined", "consent.given"]);
    assert_eq!(events[1].user_id.as_deref(), Some(sub.as_str()));
    assert_eq!(events[1].client_id.as_deref(), Some(client_id.as_str()));
    assert!(events[1].detail.contains("openid email"));
}

#[tokio::test]
async fn native_apps_loopback_any_port_and_private_use_scheme_with_pkce_rfc8252() {
    let env = Env::start().await;
    let (client_id, _) = env
        .client(ClientType::Public, JwtAlg::Rs256, |s| {
            s.redirect_uris = vec!["http://127.0.0.1/callback".into(), "com.example.app:/oauth2redirect".into()];
        })
        .await;
    env.user("alice", "wonderland-42").await;
    let http = browser();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    for redirect in ["http://127.0.0.1:51234/callback", "com.example.app:/oauth2redirect"] {
        let url = format!(
            "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
            env.endpoint("auth"),
            enc(redirect)
        );
        let back = authorize(&http, &url, "alice", "wonderland-42").await;
        assert!(back.starts_with(&format!("{redirect}?code=")), "{back}");
        let code = harness::query_param(&back, "code").unwrap();
        let (status, body, _) = token_request(
            &env,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &client_id),
                ("code_verifier", verifier),
            ],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Another path on the loopback host is not registered: an error page, no redirect.
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&code_challenge={challenge}&code_challenge_method=S256",
        env.endpoint("auth"),
        enc("http://127.0.0.1:51234/elsewhere")
    );
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // RFC 8252 §8.1: a public client without PKCE is refused.
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc("http://127.0.0.1:6000/callback")
    );
    let loc = location(&http.get(&url).send().await.unwrap());
    assert!(loc.starts_with("http://127.0.0.1:6000/callback?error=invalid_request"), "{loc}");
}

#[tokio::test]
async fn request_object_parameters_take_precedence_oidc_core_6_1() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let secret = secret.unwrap();
    env.user("alice", "wonderland-42").await;
    // Signed with the client secret; its nonce, state and scope win over the query's.
    let claims = serde_json::json!({"iss": client_id, "aud": env.issuer(), "client_id": client_id,
        "redirect_uri": CALLBACK, "scope": "openid email", "nonce": "ro-nonce", "state": "ro-state"});
    let request = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), secret.as_bytes());
    let url = format!(
        "{}?client_id={client_id}&response_type=code&scope=openid&state=query-state&request={request}",
        env.endpoint("auth")
    );
    let back = authorize(&browser(), &url, "alice", "wonderland-42").await;
    assert_eq!(harness::query_param(&back, "state").as_deref(), Some("ro-state"), "{back}");
    let code = harness::query_param(&back, "code").unwrap();
    let (status, body, _) = token_request(
        &env,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id: serde_json::Value = serde_json::from_slice(
        &oidc_core::jose::b64_decode(body["id_token"].as_str().unwrap().split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(id["nonce"], "ro-nonce");
    assert_eq!(body["scope"], "openid email");
    // A request object that does not verify: the error goes to the query's registered
    // redirect_uri with its state (OIDC Core §3.1.2.6), ...
    let forged = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), b"not-the-secret");
    let url = format!(
        "{}?client_id={client_id}&response_type=code&redirect_uri={}&state=q&request={forged}",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let r = browser().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let loc = harness::location(&r);
    assert!(loc.starts_with(&format!("{CALLBACK}?error=invalid_request_object")), "{loc}");
    assert_eq!(harness::query_param(&loc, "state").as_deref(), Some("q"));
    // ... and to an error page, never a redirect, without a registered one.
    let url = format!("{}?client_id={client_id}&response_type=code&request={forged}", env.endpoint("auth"));
    let r = browser().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("invalid_request_object"));
}

#[tokio::test]
async fn request_objects_by_reference_are_fetched_oidc_core_6_2() {
    let env = Env::start_with_loopback_fetch().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let secret = secret.unwrap();
    env.user("alice", "wonderland-42").await;
    let claims = serde_json::json!({"client_id": client_id, "redirect_uri": CALLBACK, "scope": "openid",
        "nonce": "by-ref", "state": "ref-state"});
    let request = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), secret.as_bytes());
    let base = harness::serve_document(request.clone(), "application/oauth-authz-req+jwt").await;
    let url = format!(
        "{}?client_id={client_id}&response_type=code&request_uri={}",
        env.endpoint("auth"),
        enc(&format!("{base}/ro.jwt"))
    );
    let back = authorize(&browser(), &url, "alice", "wonderland-42").await;
    assert_eq!(harness::query_param(&back, "state").as_deref(), Some("ref-state"), "{back}");
    // Unreachable, or both request and request_uri: an error page.
    for bad in [
        format!(
            "{}?client_id={client_id}&response_type=code&request_uri={}",
            env.endpoint("auth"),
            enc("http://127.0.0.1:9/x")
        ),
        format!(
            "{}?client_id={client_id}&response_type=code&request={request}&request_uri={}",
            env.endpoint("auth"),
            enc(&base)
        ),
    ] {
        let r = browser().get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none());
    }
}
