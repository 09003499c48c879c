//! The account page: the applications a user authorized, and withdrawing one
//! (the consent and the application's tokens go together).

use oidc_core::model::{ClientType, JwtAlg};

use crate::harness::{self, CALLBACK, Env, authorize, browser, enc, location, query_param};

#[tokio::test]
async fn account_page_lists_authorized_apps_and_withdrawing_revokes_their_tokens() {
    let env = Env::start().await;
    let (client_id, secret) =
        env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.name = "Photo Printer".into()).await;
    env.user("erin", "erin-pw-2024").await;
    let http = browser();
    let account = format!("{}/account", env.issuer());

    // Not signed in: the login form, which leads back to the account page.
    let page = http.get(&account).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"login-form\""), "{page}");
    assert_eq!(harness::input(&page, "authz").as_deref(), Some(""));
    let r = harness::submit_login(&http, &page, "erin", "erin-pw-2024").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), account);
    let page = http.get(&account).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"no-apps\""), "{page}");

    // Authorize the app (consent given), then get tokens.
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20email&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &url, "erin", "erin-pw-2024").await;
    let code = query_param(&back, "code").expect("code");
    let tokens: serde_json::Value = http
        .post(env.endpoint("token"))
        .basic_auth(&client_id, secret.as_deref())
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(http.get(env.endpoint("userinfo")).bearer_auth(&access).send().await.unwrap().status(), 200);

    let page = http.get(&account).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Photo Printer") && page.contains("Email"), "{page}");
    assert!(page.contains(&format!("data-client-id=\"{client_id}\"")));

    // A withdrawal without the CSRF token is refused.
    let r = http.post(&account).form(&[("client_id", client_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // With it, the app is gone, its tokens stop working and the next request asks for consent again.
    let csrf = harness::input(&page, "csrf_token").unwrap();
    let r = http
        .post(&account)
        .form(&[("csrf_token", csrf.as_str()), ("client_id", client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = http.get(&account).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"no-apps\""), "{page}");
    assert_eq!(http.get(env.endpoint("userinfo")).bearer_auth(&access).send().await.unwrap().status(), 401);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = http
        .post(env.endpoint("token"))
        .basic_auth(&client_id, secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the refresh token is revoked too");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"consent-form\""), "consent is asked again");
}
