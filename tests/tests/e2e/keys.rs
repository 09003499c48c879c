//! Signing algorithms per client and key rotation (RFC 7518 §3, RFC 8037),
//! checked by the `openidconnect` crate against the published JWKS.

use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, JwtAlg, KeyState};
use oidc_core::rand::OsRandom;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    RedirectUrl, TokenResponse as _,
};

use crate::harness::{CALLBACK, Env, REALM, authorize, browser, now, query_param, rp_http};

/// Runs a code flow for `client_id` and returns the raw id_token after the
/// library verified it (signature from JWKS, at_hash, nonce).
async fn flow(env: &Env, http: &reqwest::Client, client_id: &str, secret: Option<String>, alg: JwtAlg) -> String {
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    let algs: Vec<String> = meta
        .id_token_signing_alg_values_supported()
        .iter()
        .map(|a| serde_json::to_value(a).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert!(algs.iter().any(|a| a == alg.as_str()), "discovery lists {}: {algs:?}", alg.as_str());
    let rp = CoreClient::from_provider_metadata(meta, ClientId::new(client_id.into()), secret.map(ClientSecret::new))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (url, _, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let back = authorize(http, url.as_str(), "alice", "wonderland-42").await;
    let code = AuthorizationCode::new(query_param(&back, "code").expect("code"));
    let tokens = rp.exchange_code(code).unwrap().request_async(&rp_http).await.unwrap();
    let id_token = tokens.id_token().expect("id_token");
    let verifier =
        rp.id_token_verifier().set_allowed_algs(vec![serde_json::from_value(serde_json::json!(alg.as_str())).unwrap()]);
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("{}: {e}", alg.as_str()));
    // The library finds the JWK by kid; an HS256 token has none (its key is the client secret).
    if alg != JwtAlg::Hs256 {
        let key = id_token.signing_key(&verifier).unwrap_or_else(|e| panic!("{}: {e:?}", alg.as_str()));
        let expected =
            AccessTokenHash::from_token(tokens.access_token(), id_token.signing_alg().unwrap(), key).unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected), "{} at_hash", alg.as_str());
    }
    id_token.to_string()
}

fn header(jwt: &str) -> serde_json::Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&oidc_core::jose::b64_decode(h).unwrap()).unwrap()
}

#[tokio::test]
async fn each_client_gets_id_tokens_signed_with_its_algorithm_rfc7518_3_and_rfc8037() {
    let env = Env::start().await;
    for alg in [JwtAlg::Ps256, JwtAlg::Es256, JwtAlg::EdDsa] {
        let key = oidc_cli::keys::generate(REALM, alg, now(), &OsRandom::new()).unwrap();
        env.store.add_key(&key).await.unwrap();
    }
    env.user("alice", "wonderland-42").await;
    let http = browser();
    for alg in [JwtAlg::Rs256, JwtAlg::Ps256, JwtAlg::Es256, JwtAlg::EdDsa, JwtAlg::Hs256] {
        let (client_id, secret) = env.client(ClientType::Confidential, alg, |_| {}).await;
        let jwt = flow(&env, &http, &client_id, secret, alg).await;
        assert_eq!(header(&jwt)["alg"], alg.as_str());
    }
    let jwks: serde_json::Value = http.get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    let ktys: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kty"].as_str().unwrap()).collect();
    for kty in ["RSA", "EC", "OKP"] {
        assert!(ktys.contains(&kty), "{ktys:?}");
    }
}

#[tokio::test]
async fn rotated_keys_keep_verifying_until_revoked() {
    let env = Env::start().await;
    env.user("alice", "wonderland-42").await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let http = browser();
    let first = flow(&env, &http, &client_id, secret.clone(), JwtAlg::Rs256).await;
    let old_kid = header(&first)["kid"].as_str().unwrap().to_owned();

    // Rotate: a new active key; the old one retired but published for an hour.
    let new = oidc_cli::keys::generate(REALM, JwtAlg::Rs256, now(), &OsRandom::new()).unwrap();
    env.store.add_key(&new).await.unwrap();
    env.store.set_key_state(RealmName::new(REALM), &old_kid, KeyState::Retired, Some(now().plus(3600))).await.unwrap();
    env.server.app.invalidate_realm(REALM);
    let second = flow(&env, &http, &client_id, secret.clone(), JwtAlg::Rs256).await;
    assert_eq!(header(&second)["kid"], new.kid.as_str(), "the new key signs");
    let jwks_json = http.get(env.endpoint("certs")).send().await.unwrap().text().await.unwrap();
    let jwks: CoreJsonWebKeySet = serde_json::from_str(&jwks_json).unwrap();
    assert_eq!(jwks.keys().len(), 2, "the retired key is still published");
    let verifies = |jwks: &CoreJsonWebKeySet, jwt: &str| {
        let verifier = openidconnect::core::CoreIdTokenVerifier::new_public_client(
            ClientId::new(client_id.clone()),
            IssuerUrl::new(env.issuer()).unwrap(),
            jwks.clone(),
        )
        .require_issuer_match(true);
        let t: openidconnect::core::CoreIdToken = jwt.parse().unwrap();
        t.claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok()
    };
    assert!(verifies(&jwks, &first), "a token of the retired key still verifies");

    // Revoked: no longer published, its tokens no longer verify.
    env.store.set_key_state(RealmName::new(REALM), &old_kid, KeyState::Revoked, None).await.unwrap();
    env.server.app.invalidate_realm(REALM);
    let jwks: CoreJsonWebKeySet =
        serde_json::from_str(&http.get(env.endpoint("certs")).send().await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(jwks.keys().len(), 1);
    assert!(!verifies(&jwks, &first));
    assert!(verifies(&jwks, &second));
}
