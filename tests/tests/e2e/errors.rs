//! Negative cases, per spec: what must be refused, and how.

use oidc_core::model::{ClientType, JwtAlg};

use crate::harness::{CALLBACK, Env, authorize, browser, enc, location, query_param, submit_consent, submit_login};

fn auth_url(env: &Env, client_id: &str, extra: &str) -> String {
    format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=xyz{extra}",
        env.endpoint("auth"),
        enc(CALLBACK)
    )
}

/// Runs a login for `client_id` and returns a fresh code.
async fn code_for(env: &Env, http: &reqwest::Client, client_id: &str, extra: &str) -> String {
    let back = authorize(http, &auth_url(env, client_id, extra), "dave", "pw-dave-77").await;
    query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"))
}

async fn exchange(
    env: &Env,
    http: &reqwest::Client,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let r = http.post(env.endpoint("token")).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, headers)
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_uri_show_a_page_never_redirect_rfc6749_4_1_2_1() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let http = browser();
    for url in [
        auth_url(&env, "no-such-client", ""),
        format!(
            "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid",
            env.endpoint("auth"),
            enc("https://evil.example/cb")
        ),
        format!("{}?client_id={client_id}&response_type=code&scope=openid", env.endpoint("auth")),
    ] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{url}");
        assert!(r.headers().get("location").is_none(), "never redirect: {url}");
        // Pages carry security headers.
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        let body = r.text().await.unwrap();
        assert!(body.contains("invalid_"), "{body}");
    }
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_trusted_redirect_with_state_oidc_core_3_1_2_6() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let (public_id, _) = env.client(ClientType::Public, JwtAlg::Rs256, |_| {}).await;
    let http = browser();
    let cases = [
        (
            format!(
                "{}?client_id={client_id}&redirect_uri={}&scope=openid&state=xyz",
                env.endpoint("auth"),
                enc(CALLBACK)
            ),
            "invalid_request",
        ),
        (
            format!(
                "{}?client_id={client_id}&redirect_uri={}&response_type=code%20device&scope=openid&state=xyz",
                env.endpoint("auth"),
                enc(CALLBACK)
            ),
            "unsupported_response_type",
        ),
        (auth_url(&env, &public_id, ""), "invalid_request"),
        (auth_url(&env, &client_id, "&prompt=none"), "login_required"),
        (auth_url(&env, &client_id, "&registration=%7B%7D"), "registration_not_supported"),
    ];
    // A repeated parameter cannot be trusted at all: an error page (RFC 6749 §3.1).
    let r = http.get(auth_url(&env, &client_id, "&response_type=token")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    for (url, want) in cases {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 302, "{url}");
        let loc = location(&r);
        assert!(loc.starts_with(CALLBACK), "{loc}");
        assert_eq!(query_param(&loc, "error").as_deref(), Some(want), "{url}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
        assert!(query_param(&loc, "error_description").is_some());
    }
}

#[tokio::test]
async fn login_form_refuses_wrong_password_and_missing_csrf_and_consent_can_be_declined() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("dave", "pw-dave-77").await;
    let http = browser();
    let page = http.get(auth_url(&env, &client_id, "")).send().await.unwrap().text().await.unwrap();
    let r = submit_login(&http, &page, "dave", "wrong").await;
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains("Invalid username or password"), "{again}");
    let r = submit_login(&http, &page, "nobody", "wrong").await;
    assert!(r.text().await.unwrap().contains("Invalid username or password"), "same answer for unknown users");
    // Without the CSRF cookie (another browser), the form is refused.
    let other = browser();
    let r = submit_login(&other, &page, "dave", "pw-dave-77").await;
    assert_eq!(r.status(), 403);
    // Log in, then decline consent: access_denied to the client (RFC 6749 §4.1.2.1).
    let r = submit_login(&http, &page, "dave", "pw-dave-77").await;
    assert_eq!(r.status(), 303);
    let set_cookie =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(
        set_cookie
            .iter()
            .any(|c| c.starts_with("OIDC_SESSION=") && c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{set_cookie:?}"
    );
    let consent = http.get(location(&r)).send().await.unwrap().text().await.unwrap();
    let r = submit_consent(&http, &consent, false).await;
    let loc = location(&r);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
}

#[tokio::test]
async fn token_endpoint_refusals_rfc6749_5_2() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let (other_id, other_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let secret = secret.unwrap();
    let other_secret = other_secret.unwrap();
    env.user("dave", "pw-dave-77").await;
    let http = browser();

    // Wrong secret: 401 invalid_client with WWW-Authenticate.
    let code = code_for(&env, &http, &client_id, "").await;
    let (status, body, headers) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("client_secret", "wrong-secret-value"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(headers.get("www-authenticate").is_some());

    // A code bound to another client.
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &other_id),
            ("client_secret", &other_secret),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A code is single-use: the second exchange fails and revokes the first one's tokens (RFC 6749 §4.1.2).
    let code = code_for(&env, &http, &client_id, "").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, first, headers) = exchange(&env, &http, &form).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    let at = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(http.get(env.endpoint("userinfo")).bearer_auth(&at).send().await.unwrap().status(), 200);
    let (status, body, _) = exchange(&env, &http, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let r = http.get(env.endpoint("userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 401, "the first exchange's access token is revoked");
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "and its refresh token");

    // redirect_uri must match the authorization request's.
    let code = code_for(&env, &http, &client_id, "").await;
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // PKCE mismatch (RFC 7636 §4.6).
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code =
        code_for(&env, &http, &client_id, &format!("&code_challenge={challenge}&code_challenge_method=S256")).await;
    let wrong = "a".repeat(43);
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // Unsupported grant type and unknown code.
    let (status, body, _) =
        exchange(&env, &http, &[("grant_type", "urn:x"), ("client_id", &client_id), ("client_secret", &secret)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn expired_code_is_refused_rfc6749_4_1_2() {
    let settings = oidc_core::config::Settings { code_lifetime: 1, ..Default::default() };
    let env = Env::start_with(settings).await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("dave", "pw-dave-77").await;
    let http = browser();
    let code = code_for(&env, &http, &client_id, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body, _) = exchange(
        &env,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("client_secret", secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}
