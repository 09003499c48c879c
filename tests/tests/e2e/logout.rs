//! Sessions and logout over HTTP: RP-Initiated Logout 1.0, Back-Channel
//! Logout 1.0 (a test RP receives and verifies the logout tokens), Session
//! Management 1.0's session_state, session lifetimes, Keycloak's logout by
//! refresh token, and the account page's sessions.

use std::time::{Duration, Instant};

use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, JwtAlg};
use serde_json::Value;

use crate::harness::{
    CALLBACK, Env, REALM, authorize, backchannel_receiver, browser, enc, eventually, form_action, input, location,
    query_param,
};

const PASSWORD: &str = "pw-erin-1234";

fn auth_url(env: &Env, client_id: &str, extra: &str) -> String {
    let scope = if extra.contains("&scope=") { "" } else { "&scope=openid" };
    format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code{scope}{extra}&state=st",
        env.endpoint("auth"),
        enc(CALLBACK)
    )
}

/// Logs `http` in as `username` for the client and exchanges the code: the token response.
async fn tokens(
    env: &Env,
    http: &reqwest::Client,
    client: &(String, Option<String>),
    username: &str,
    extra: &str,
) -> Value {
    let back = authorize(http, &auth_url(env, &client.0, extra), username, PASSWORD).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let secret = client.1.clone().unwrap_or_default();
    let r = http
        .post(env.endpoint("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client.0),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A refresh with `rt`: the status and body.
async fn refresh(env: &Env, client: &(String, Option<String>), rt: &str) -> (u16, Value) {
    let secret = client.1.clone().unwrap_or_default();
    let r = browser()
        .post(env.endpoint("token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", &client.0),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn userinfo_status(env: &Env, at: &str) -> u16 {
    browser().get(env.endpoint("userinfo")).bearer_auth(at).send().await.unwrap().status().as_u16()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&oidc_core::jose::b64_decode(payload).unwrap()).unwrap()
}

/// Whether the browser is still logged in: prompt=none gets a code, not login_required.
async fn logged_in(env: &Env, http: &reqwest::Client, client_id: &str) -> bool {
    let r = http.get(auth_url(env, client_id, "&prompt=none")).send().await.unwrap();
    query_param(&location(&r), "code").is_some()
}

#[tokio::test]
async fn rp_initiated_logout_with_id_token_hint_redirects_with_state_and_ends_the_session_rp_initiated_logout_2_3() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let t = tokens(&env, &http, &client, "erin", "").await;
    let id_token = t["id_token"].as_str().unwrap();
    assert!(claims(id_token)["sid"].is_string(), "id_tokens carry sid (Front-Channel Logout 1.0 §3)");
    assert!(logged_in(&env, &http, &client.0).await);
    // The hint is checked by the authorization endpoint's function (array aud and expiry: unit tests).
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=bye%201",
        env.endpoint("logout"),
        id_token,
        enc("http://127.0.0.1:9/bye")
    );
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=bye%201");
    assert!(!logged_in(&env, &http, &client.0).await, "the session ended");
    // Its tokens ended with it (Keycloak: refresh tokens die with the SSO session).
    assert_eq!(userinfo_status(&env, t["access_token"].as_str().unwrap()).await, 401);
    let (status, body) = refresh(&env, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_leaves_the_user_on_the_logged_out_page_rp_initiated_logout_3() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let t = tokens(&env, &http, &client, "erin", "").await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=x",
        env.endpoint("logout"),
        t["id_token"].as_str().unwrap(),
        enc("https://evil.example/")
    );
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "never a redirect to an unregistered URI");
    assert!(r.text().await.unwrap().contains("id=\"logged-out\""));
    assert!(!logged_in(&env, &http, &client.0).await);
    // A hint of another client is refused outright.
    let other = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let url =
        format!("{}?id_token_hint={}&client_id={}", env.endpoint("logout"), t["id_token"].as_str().unwrap(), other.0);
    assert_eq!(http.get(url).send().await.unwrap().status(), 400, "client_id must match the hint (§2)");
}

#[tokio::test]
async fn logout_without_a_hint_asks_for_confirmation_with_a_csrf_protected_form_rp_initiated_logout_2() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    tokens(&env, &http, &client, "erin", "").await;
    // A bare GET (say, an <img> on another site) does not sign anyone out.
    let url = format!(
        "{}?client_id={}&post_logout_redirect_uri={}&state=s1",
        env.endpoint("logout"),
        client.0,
        enc("http://127.0.0.1:9/bye")
    );
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"logout\""), "the confirmation's submit button is named logout: {page}");
    assert!(logged_in(&env, &http, &client.0).await, "still signed in until confirmed");
    // A forged confirmation (another site's form: no CSRF token of this browser) is refused.
    let action = form_action(&page, "logout-form");
    let r = browser().post(&action).form(&[("logout", "yes"), ("csrf_token", "forged")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http.post(&action).form(&[("logout", "yes"), ("csrf_token", "forged")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(logged_in(&env, &http, &client.0).await);
    // The real confirmation logs out and goes on to the registered URI with state.
    let mut form = vec![("logout".to_owned(), "yes".to_owned())];
    for name in ["csrf_token", "client_id", "post_logout_redirect_uri", "state"] {
        form.push((name.to_owned(), input(&page, name).unwrap_or_else(|| panic!("hidden {name}"))));
    }
    let r = http.post(&action).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=s1");
    assert!(!logged_in(&env, &http, &client.0).await);
}

/// Verifies a logout token with the realm's published keys as an RP would
/// (Back-Channel Logout 1.0 §2.6) and returns its claims.
async fn verify_logout_token(env: &Env, jwt: &str, client_id: &str) -> serde_json::Map<String, Value> {
    let jwks: Value = browser().get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().map(|k| oidc_core::jose::VerifyKey::from_jwk(k).unwrap()).collect();
    let v = oidc_core::jose::verify(jwt, &["RS256"], &keys).expect("signed by the realm");
    assert_eq!(v.header["typ"], "logout+jwt");
    let c = v.claims;
    assert_eq!(c["iss"], env.issuer().as_str());
    assert_eq!(c["aud"], client_id);
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c.get("nonce").is_none(), "§2.4: a logout token never has a nonce");
    assert!(c["jti"].is_string() && c["iat"].is_i64() && c["exp"].is_i64());
    c
}

#[tokio::test]
async fn backchannel_logout_tokens_reach_every_client_of_the_session_backchannel_logout_2_5() {
    let env = Env::start_with_loopback_fetch().await;
    let (bc_url, received) = backchannel_receiver().await;
    let a = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
            s.logout.backchannel_uri = Some(bc_url.clone());
            s.logout.backchannel_session_required = true;
        })
        .await;
    let b = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
            s.logout.backchannel_uri = Some(format!("{bc_url}?rp=b"));
        })
        .await;
    let not_in_session =
        env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.logout.backchannel_uri = Some(bc_url.clone())).await;
    let sub = env.user("erin", PASSWORD).await;
    let http = browser();
    let ta = tokens(&env, &http, &a, "erin", "").await;
    tokens(&env, &http, &b, "erin", "").await;
    let sid = claims(ta["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let url = format!("{}?id_token_hint={}", env.endpoint("logout"), ta["id_token"].as_str().unwrap());
    assert_eq!(http.get(url).send().await.unwrap().status(), 200);
    let got = received.clone();
    assert!(
        eventually(10, || {
            let got = got.clone();
            async move { got.lock().unwrap().len() >= 2 }
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "exactly the two clients of the session: {bodies:?}");
    let mut auds = Vec::new();
    for body in bodies {
        let jwt = oidc_core::params::form_urldecode(body.strip_prefix("logout_token=").expect("a logout_token form"))
            .unwrap();
        let c = verify_logout_token(&env, &jwt, claims(&jwt)["aud"].as_str().unwrap()).await;
        assert_eq!((c["sub"].as_str(), c["sid"].as_str()), (Some(sub.as_str()), Some(sid.as_str())));
        auds.push(c["aud"].as_str().unwrap().to_owned());
    }
    auds.sort();
    let mut want = vec![a.0.clone(), b.0.clone()];
    want.sort();
    assert_eq!(auds, want);
    assert!(!auds.contains(&not_in_session.0));
}

#[tokio::test]
async fn a_dead_backchannel_endpoint_never_blocks_the_logout_and_is_audited_backchannel_logout_2_8() {
    let env = Env::start_with_loopback_fetch().await;
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
            s.logout.backchannel_uri = Some(format!("http://127.0.0.1:{dead}/bc"));
        })
        .await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let t = tokens(&env, &http, &client, "erin", "").await;
    let started = Instant::now();
    let url = format!("{}?id_token_hint={}", env.endpoint("logout"), t["id_token"].as_str().unwrap());
    assert_eq!(http.get(url).send().await.unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "the user's logout does not wait for the RP");
    let store = env.store.clone();
    let failed = eventually(15, || {
        let store = store.clone();
        async move {
            store.events(RealmName::new(REALM), 50).await.unwrap().iter().any(|e| e.kind == "logout.backchannel_failed")
        }
    })
    .await;
    assert!(failed, "after the bounded retries, an audit event says so");
    let events = env.store.events(RealmName::new(REALM), 50).await.unwrap();
    let e = events.iter().find(|e| e.kind == "logout.backchannel_failed").unwrap();
    assert_eq!(e.client_id.as_deref(), Some(client.0.as_str()));
    assert!(e.detail.contains("\"attempts\":3"), "{}", e.detail);
}

#[tokio::test]
async fn logout_by_refresh_token_ends_the_session_keycloak_adapter_logout() {
    let env = Env::start_with_loopback_fetch().await;
    let (bc_url, received) = backchannel_receiver().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    let other = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
            s.logout.backchannel_uri = Some(bc_url.clone());
        })
        .await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let t = tokens(&env, &http, &client, "erin", "").await;
    let t_other = tokens(&env, &http, &other, "erin", "").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let logout = |id: &str, secret: &str, rt: &str| {
        let form =
            vec![("client_id", id.to_owned()), ("client_secret", secret.to_owned()), ("refresh_token", rt.to_owned())];
        let url = env.endpoint("logout");
        async move { browser().post(url).form(&form).send().await.unwrap() }
    };
    // Another client's refresh token, or none of ours, is invalid_grant JSON.
    let r = logout(&other.0, other.1.as_deref().unwrap(), rt).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = logout(&client.0, client.1.as_deref().unwrap(), "no-such-token").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = logout(&client.0, "wrong-secret-000000", rt).await;
    assert_eq!(r.status(), 401, "the client must authenticate");
    // The right one: 204, and the session's tokens stop working at once.
    let r = logout(&client.0, client.1.as_deref().unwrap(), rt).await;
    assert_eq!(r.status(), 204);
    assert_eq!(refresh(&env, &client, rt).await.0, 400);
    assert_eq!(userinfo_status(&env, t["access_token"].as_str().unwrap()).await, 401);
    assert_eq!(userinfo_status(&env, t_other["access_token"].as_str().unwrap()).await, 401, "the whole session");
    assert!(!logged_in(&env, &http, &client.0).await);
    // The session's other application hears of it by back-channel.
    let got = received.clone();
    assert!(
        eventually(10, || {
            let got = got.clone();
            async move { !got.lock().unwrap().is_empty() }
        })
        .await
    );
}

#[tokio::test]
async fn session_state_is_in_authorization_responses_and_the_iframe_may_be_framed_session_management_3() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let back = authorize(&http, &auth_url(&env, &client.0, ""), "erin", PASSWORD).await;
    let ss = query_param(&back, "session_state").expect("session_state in the response");
    let (hash, salt) = ss.split_once('.').unwrap();
    assert_eq!(hash.len(), 64);
    assert!(!salt.is_empty());
    let d = env.discovery().await;
    let iframe = d["check_session_iframe"].as_str().expect("discovery advertises check_session_iframe");
    assert_eq!(iframe, env.endpoint("login-status-iframe.html"));
    for flag in
        ["frontchannel_logout_supported", "backchannel_logout_supported", "backchannel_logout_session_supported"]
    {
        assert_eq!(d[flag], true, "{flag}");
    }
    let r = http.get(iframe).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-frame-options").is_none(), "the one page relying parties frame");
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!csp.contains("frame-ancestors"), "{csp}");
    // The iframe answers only pages at the origin of a redirect URI of the client.
    let init = |origin: &str| format!("{}/init?client_id={}&origin={}", iframe, client.0, enc(origin));
    assert_eq!(http.get(init("http://127.0.0.1:9")).send().await.unwrap().status(), 204);
    assert_eq!(http.get(init("https://evil.example")).send().await.unwrap().status(), 403);
    // The login page carries X-Frame-Options as before.
    let r = browser().get(auth_url(&env, &client.0, "")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_new_login_ends_the_previous_session_of_the_browser_issue_8() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    env.user("frank", PASSWORD).await;
    let http = browser();
    let first = tokens(&env, &http, &client, "erin", "").await;
    // The same user signing in again keeps the session (and its tokens) under a new cookie.
    let again = tokens(&env, &http, &client, "erin", "&prompt=login").await;
    let sid = |t: &Value| claims(t["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    assert_eq!(sid(&first), sid(&again));
    assert_eq!(refresh(&env, &client, first["refresh_token"].as_str().unwrap()).await.0, 200);
    // Another user signing in on the same browser ends erin's session.
    let frank = tokens(&env, &http, &client, "frank", "&prompt=login").await;
    assert_ne!(sid(&frank), sid(&again));
    assert_eq!(refresh(&env, &client, again["refresh_token"].as_str().unwrap()).await.0, 400);
    assert_eq!(userinfo_status(&env, again["access_token"].as_str().unwrap()).await, 401);
    assert!(
        env.store.session_by_id(RealmName::new(REALM), &sid(&again), crate::harness::now()).await.unwrap().is_none()
    );
}

#[tokio::test]
async fn idle_sessions_end_and_take_their_refresh_tokens_but_not_offline_ones_keycloak_sso_session_idle() {
    let settings = oidc_core::config::Settings { session_idle: 2, ..Default::default() };
    let env = Env::start_with(settings).await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let online = tokens(&env, &http, &client, "erin", "").await;
    let offline = tokens(&env, &http, &client, "erin", "&scope=openid%20offline_access").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = refresh(&env, &client, online["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "the idle session took it along");
    assert!(!logged_in(&env, &http, &client.0).await, "the session is over");
    let (status, body) = refresh(&env, &client, offline["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "offline tokens outlive the session (OIDC Core §11): {body}");
}

#[tokio::test]
async fn operator_logout_ends_every_session_of_a_user_and_notifies_by_backchannel() {
    let env = Env::start_with_loopback_fetch().await;
    let (bc_url, received) = backchannel_receiver().await;
    let client = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
            s.logout.backchannel_uri = Some(bc_url.clone());
        })
        .await;
    let id = env.user("erin", PASSWORD).await;
    let (laptop, phone) = (browser(), browser());
    let t1 = tokens(&env, &laptop, &client, "erin", "").await;
    tokens(&env, &phone, &client, "erin", "").await;
    // What `oidc user logout erin` runs.
    let (ended, delivered) = env.server.app.end_user_sessions(REALM, &id).await.unwrap();
    assert_eq!((ended, delivered), (2, 2));
    assert_eq!(received.lock().unwrap().len(), 2);
    assert!(!logged_in(&env, &laptop, &client.0).await && !logged_in(&env, &phone, &client.0).await);
    assert_eq!(refresh(&env, &client, t1["refresh_token"].as_str().unwrap()).await.0, 400);
}

#[tokio::test]
async fn account_page_lists_sessions_and_signs_out_of_another_one() {
    let env = Env::start().await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let (laptop, phone) = (browser(), browser());
    tokens(&env, &laptop, &client, "erin", "").await;
    let t_phone = tokens(&env, &phone, &client, "erin", "").await;
    let phone_sid = claims(t_phone["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let page = laptop.get(format!("{}/account", env.issuer())).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("class=\"session\"").count(), 2, "{page}");
    assert!(page.contains("(this browser)") && page.contains("Test RP"), "{page}");
    let csrf = input(&page, "csrf_token").unwrap();
    let r = laptop
        .post(format!("{}/account", env.issuer()))
        .form(&[("csrf_token", csrf.as_str()), ("end_session", phone_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!logged_in(&env, &phone, &client.0).await, "the phone is signed out");
    assert!(logged_in(&env, &laptop, &client.0).await, "this browser stays signed in");
    assert_eq!(userinfo_status(&env, t_phone["access_token"].as_str().unwrap()).await, 401);
    // "Sign out everywhere" ends this browser's session too: the logged-out page.
    let page = laptop.get(format!("{}/account", env.issuer())).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("class=\"session\"").count(), 1);
    let csrf = input(&page, "csrf_token").unwrap();
    let r = laptop
        .post(format!("{}/account", env.issuer()))
        .form(&[("csrf_token", csrf.as_str()), ("end_all", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"logged-out\""));
    assert!(!logged_in(&env, &laptop, &client.0).await);
}

/// The seed's OIDC_AFTER_END_SESSION_HOOK as a trait: it hears the logout
/// just before the session ends and may send the browser elsewhere.
#[tokio::test]
async fn the_after_end_session_hook_runs_and_may_redirect() {
    use oidc_core::hooks::{AfterEndSession, AfterEndSessionHook, EndSessionEvent, Hooks};
    struct Hook(std::sync::Mutex<Vec<EndSessionEvent>>);
    impl AfterEndSessionHook for Hook {
        fn after_end_session(&self, e: &EndSessionEvent) -> AfterEndSession {
            self.0.lock().unwrap().push(e.clone());
            AfterEndSession::Redirect("https://hook.example/after".into())
        }
    }
    let hook = std::sync::Arc::new(Hook(std::sync::Mutex::new(Vec::new())));
    let hooks = Hooks { after_end_session: Some(hook.clone()), ..Hooks::default() };
    let env = Env::start_with_options(oidc_core::scope::ScopeRegistry::default(), hooks).await;
    let client = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = false).await;
    env.user("erin", PASSWORD).await;
    let http = browser();
    let t = tokens(&env, &http, &client, "erin", "").await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=s",
        env.endpoint("logout"),
        t["id_token"].as_str().unwrap(),
        enc("http://127.0.0.1:9/bye")
    );
    let r = http.get(url).send().await.unwrap();
    assert_eq!(location(&r), "https://hook.example/after");
    let events = hook.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client_id.as_deref(), Some(client.0.as_str()));
    assert_eq!(events[0].post_logout_redirect_uri.as_deref(), Some("http://127.0.0.1:9/bye"));
    assert_eq!(events[0].state.as_deref(), Some("s"));
    assert_eq!(Some(events[0].session_id.as_str()), claims(t["id_token"].as_str().unwrap())["sid"].as_str());
    assert!(!logged_in(&env, &http, &client.0).await, "the session ended all the same");
}
