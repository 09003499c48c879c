//! The authorization code flow end to end (OIDC Core §3.1, RFC 7636), checked
//! by an independent relying-party library (the `openidconnect` crate).

use oidc_core::model::{ClientType, JwtAlg};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};

use crate::harness::{self, CALLBACK, Env, authorize, browser, query_param, rp_http};

#[tokio::test]
async fn code_flow_with_pkce_verified_by_openidconnect_oidc_core_3_1() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let sub = env.user("alice", "wonderland-42").await;

    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    let rp = CoreClient::from_provider_metadata(meta, ClientId::new(client_id.clone()), secret.map(ClientSecret::new))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let http = browser();
    let back = authorize(&http, auth_url.as_str(), "alice", "wonderland-42").await;
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query_param(&back, "iss"), Some(env.issuer()), "RFC 9207 iss");
    let code = query_param(&back, "code").expect("code");

    // Token endpoint with client_secret_basic; the library verifies the id_token
    // signature from JWKS, iss, aud, exp and the nonce.
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("id_token");
    let id_verifier = rp.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("a valid id_token");
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.issuer().as_str(), env.issuer());
    assert!(claims.auth_time().is_some());
    // OIDC Core §3.1.3.6: at_hash.
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    assert_eq!(tokens.expires_in().map(|d| d.as_secs()), Some(3600));

    // UserInfo (OIDC Core §5.3) releases the claims of the granted scopes.
    let info: CoreUserInfoClaims =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&rp_http).await.unwrap();
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

    // Refresh (RFC 6749 §6): a new access token; the old refresh token stops working
    // and its reuse revokes the whole grant.
    let refresh = tokens.refresh_token().expect("refresh_token").clone();
    let refreshed = rp.exchange_refresh_token(&refresh).unwrap().request_async(&rp_http).await.unwrap();
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    let again = rp.exchange_refresh_token(&refresh).unwrap().request_async(&rp_http).await;
    assert!(again.is_err(), "a used refresh token is refused");
    let r = http.get(env.endpoint("userinfo")).bearer_auth(refreshed.access_token().secret()).send().await.unwrap();
    assert_eq!(r.status(), 401, "replay revoked the grant's tokens");
}

#[tokio::test]
async fn consent_is_reused_and_userinfo_accepts_query_and_form_tokens_rfc6750_2() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("bob", "builder-123").await;
    let http = browser();
    let auth = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20email&state=s1",
        env.endpoint("auth"),
        harness::enc(CALLBACK)
    );
    let back = authorize(&http, &auth, "bob", "builder-123").await;
    assert!(query_param(&back, "code").is_some());
    // Same browser, same scopes: no login form and no consent page this time.
    let r = http.get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 302, "consent reused (reuse_consent)");
    let back = harness::location(&r);
    let code = query_param(&back, "code").unwrap();
    // client_secret_post (RFC 6749 §2.3.1).
    let r = http
        .post(env.endpoint("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    // The seed documents ?access_token=; RFC 6750 §2.3.
    let r = http.get(format!("{}?access_token={at}", env.endpoint("userinfo"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["email"], "bob@example.com");
    assert!(info.get("name").is_none(), "profile was not granted");
    // RFC 6750 §2.2: form body.
    let r = http.post(env.endpoint("userinfo")).form(&[("access_token", at)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Two methods at once is invalid_request (RFC 6750 §2).
    let r = http.get(format!("{}?access_token={at}", env.endpoint("userinfo"))).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn public_client_with_hs256_is_refused_but_confidential_hs256_verifies_oidc_core_10_1() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Hs256, |s| s.require_consent = false).await;
    let sub = env.user("carol", "pw-carol-1").await;
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    let rp = CoreClient::from_provider_metadata(meta, ClientId::new(client_id), secret.map(ClientSecret::new))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (auth_url, _state, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let http = browser();
    let r = http.get(auth_url.as_str()).send().await.unwrap();
    let page = r.text().await.unwrap();
    let r = harness::submit_login(&http, &page, "carol", "pw-carol-1").await;
    // A confidential client that does not require consent skips the consent page.
    let r = http.get(harness::location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let code = query_param(&harness::location(&r), "code").unwrap();
    let tokens = rp.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&rp_http).await.unwrap();
    let verifier =
        rp.id_token_verifier().set_allowed_algs(vec![openidconnect::core::CoreJwsSigningAlgorithm::HmacSha256]);
    let claims =
        tokens.id_token().unwrap().claims(&verifier, &nonce).expect("HS256 id_token keyed by the client secret");
    assert_eq!(claims.subject().as_str(), sub);
}

#[tokio::test]
async fn post_authorization_request_and_form_post_response_mode_oidc_core_3_1_2_1() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", "pw-erin-123").await;
    let http = browser();
    // OIDC Core §3.1.2.1: the request may be POSTed as a form.
    let form = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "p1"),
        ("response_mode", "form_post"),
        ("unknown_parameter", "is ignored"),
    ];
    let r = http.post(env.endpoint("auth")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let r = harness::submit_login(&http, &page, "erin", "pw-erin-123").await;
    assert_eq!(r.status(), 303);
    // Resumed as GET with the same parameters; the response is an auto-submitting form.
    let r = http.get(harness::location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'nonce-") && csp.contains("form-action http://127.0.0.1:9"), "{csp}");
    let html = r.text().await.unwrap();
    assert_eq!(harness::form_action(&html, "form-post"), CALLBACK);
    assert!(harness::input(&html, "code").is_some_and(|c| c.len() >= 43));
    assert_eq!(harness::input(&html, "state").as_deref(), Some("p1"));
    assert_eq!(harness::input(&html, "iss"), Some(env.issuer()));
}
