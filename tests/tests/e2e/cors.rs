//! CORS for browser-based clients: the token and UserInfo endpoints answer
//! the origins of the client's redirect URIs only; discovery and JWKS are
//! public documents for every origin.

use oidc_core::model::{ClientType, JwtAlg};

use crate::harness::{CALLBACK, Env, authorize, browser, enc, query_param};

#[tokio::test]
async fn token_and_userinfo_allow_only_the_clients_registered_origins() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("gina", "pw-gina-1234").await;
    let http = browser();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let url = format!(
            "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid",
            env.endpoint("auth"),
            enc(CALLBACK)
        );
        codes.push(query_param(&authorize(&http, &url, "gina", "pw-gina-1234").await, "code").unwrap());
    }
    let exchange = |code: String, origin: &'static str| {
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", CALLBACK.to_owned()),
            ("client_id", client_id.clone()),
            ("client_secret", secret.clone().unwrap()),
        ];
        let url = env.endpoint("token");
        async move { browser().post(url).header("origin", origin).form(&form).send().await.unwrap() }
    };
    // The origin of the registered redirect URI http://127.0.0.1:9/cb.
    let r = exchange(codes.remove(0), "http://127.0.0.1:9").await;
    assert_eq!(r.headers()["access-control-allow-origin"], "http://127.0.0.1:9");
    assert_eq!(r.headers()["vary"], "Origin");
    let token: serde_json::Value = r.json().await.unwrap();
    let r = exchange(codes.remove(0), "https://evil.example").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none(), "another site's script cannot read it");
    let at = token["access_token"].as_str().unwrap();
    let info =
        |origin: &'static str| browser().get(env.endpoint("userinfo")).bearer_auth(at).header("origin", origin).send();
    assert_eq!(
        info("http://127.0.0.1:9").await.unwrap().headers()["access-control-allow-origin"],
        "http://127.0.0.1:9"
    );
    assert!(info("https://evil.example").await.unwrap().headers().get("access-control-allow-origin").is_none());
    // Preflights name the asking origin; JWKS is public.
    let pre = browser()
        .request(reqwest::Method::OPTIONS, env.endpoint("userinfo"))
        .header("origin", "http://127.0.0.1:9")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.headers()["access-control-allow-origin"], "http://127.0.0.1:9");
    let jwks = browser().get(env.endpoint("certs")).send().await.unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
}
