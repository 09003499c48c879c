//! Browser tests in a real headless Chromium (WebDriver through chromedriver):
//! the login and consent pages and the demo relying party's script, as a user
//! sees them, with the pages' Content-Security-Policy in force.
//!
//! They need `/usr/bin/chromium` and `/usr/bin/chromedriver` (`.ci/run`
//! installs them). Without them each test fails with a message saying so,
//! unless `OIDC_SKIP_BROWSER_TESTS=1` is set.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::ClientType;
use oidc_core::rand::OsRandom;
use serde_json::json;

use crate::harness::{Env, REALM, now};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver and a browser session; `close` ends both, and dropping
/// kills chromedriver and the browser's profile directory is removed.
struct Browser {
    client: Option<Client>,
    _driver: tokio::process::Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session;
    /// `None` when the tests are skipped on purpose.
    async fn start() -> Option<Browser> {
        if std::env::var_os("OIDC_SKIP_BROWSER_TESTS").is_some() {
            eprintln!("skipped: OIDC_SKIP_BROWSER_TESTS is set");
            return None;
        }
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "browser tests need {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver \
             (or set OIDC_SKIP_BROWSER_TESTS=1)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("oidc-browser-{}-{port}", std::process::id()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-default-apps", "--disable-quic", "--no-first-run", "--no-default-browser-check",
                    "--disable-extensions", format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Some(Browser { client: Some(client), _driver: driver, profile })
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("open session")
    }

    async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    /// A test that failed before `close` leaves Chromium running, re-parented
    /// away from chromedriver: kill exactly the processes of this profile.
    fn drop(&mut self) {
        if self.client.is_some() {
            let _ = std::process::Command::new("pkill")
                .arg("-9")
                .arg("-f")
                .arg("--")
                .arg(format!("--user-data-dir={}", self.profile.display()))
                .status();
            let _ = std::fs::remove_dir_all(&self.profile);
        }
    }
}

impl Browser {
    /// Waits for the element matched by `css` and returns its text.
    async fn text(&self, css: &str) -> String {
        let el = self.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        el.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let el = self.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        let el = self.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        el.click().await.unwrap();
    }
}

/// Starts a server with the demo relying party on, and its public client.
async fn demo_env() -> Env {
    let env = Env::start_with_demo("demo-rp").await;
    let redirect = format!("{}/demo", env.issuer());
    let mut spec = ClientSpec::new("Demo app", ClientType::Public, vec![redirect]);
    spec.client_id = Some("demo-rp".into());
    let (client, _) = manage::new_client(REALM, spec, now(), &OsRandom::new()).unwrap();
    env.store.create_client(&client).await.unwrap();
    env
}

#[tokio::test]
async fn demo_relying_party_signs_in_through_login_and_consent_pages_in_chromium() {
    let env = demo_env().await;
    let sub = env.user("alice", "wonderland-42").await;
    let Some(b) = Browser::start().await else { return };
    b.c().goto(&format!("{}/demo", env.issuer())).await.unwrap();
    // The demo's script (demo.js) builds a PKCE request and navigates to the authorization endpoint.
    b.click("#demo-login").await;
    b.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#login-form")).await.unwrap();
    assert!(b.text("p").await.contains("Demo app") || b.c().source().await.unwrap().contains("Demo app"));

    // A wrong password shows the error on the page, not a redirect.
    b.fill("#username", "alice").await;
    b.fill("#password", "not-it").await;
    b.click("#login-submit").await;
    assert_eq!(b.text("#login-error").await, "Invalid username or password.");
    assert_eq!(
        b.c().find(Locator::Css("#username")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("alice")
    );

    b.fill("#password", "wonderland-42").await;
    b.click("#login-submit").await;
    // The consent page lists the requested scopes.
    b.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#consent-form")).await.unwrap();
    let page = b.c().source().await.unwrap();
    assert!(page.contains("Email") && page.contains("Address information"), "{page}");
    b.click("#consent-allow").await;

    // Back on the demo page, the script exchanges the code with PKCE (CORS fetch to the
    // token endpoint), checks the nonce, calls userinfo and shows both.
    // The result section is hidden until the script has filled it.
    b.c()
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#demo-result:not([hidden])"))
        .await
        .unwrap();
    let claims = b.text("#demo-id-token").await;
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap_or_else(|e| panic!("{e}: {claims}"));
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["iss"], env.issuer().as_str());
    assert_eq!(claims["aud"], "demo-rp");
    let info: serde_json::Value = serde_json::from_str(&b.text("#demo-userinfo").await).unwrap();
    assert_eq!(info["email"], "alice@example.com");
    let error_shown = b.c().find(Locator::Css("#demo-error")).await.unwrap().is_displayed().await.unwrap();
    assert!(!error_shown, "no error on the demo page");
    b.close().await;
}

#[tokio::test]
async fn consent_declined_in_chromium_returns_access_denied_to_the_demo() {
    let env = demo_env().await;
    env.user("bob", "builder-4242").await;
    let Some(b) = Browser::start().await else { return };
    b.c().goto(&format!("{}/demo", env.issuer())).await.unwrap();
    b.click("#demo-login").await;
    b.fill("#username", "bob").await;
    b.fill("#password", "builder-4242").await;
    b.click("#login-submit").await;
    b.click("#consent-decline").await;
    b.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#demo-error:not([hidden])")).await.unwrap();
    let error = b.text("#demo-error").await;
    assert!(error.starts_with("access_denied"), "{error}");
    b.close().await;
}

#[tokio::test]
async fn account_page_in_chromium_lists_and_removes_an_authorized_app() {
    let env = demo_env().await;
    env.user("carol", "carol-pw-123").await;
    let Some(b) = Browser::start().await else { return };
    // Authorize the demo app first (login and consent in the browser).
    b.c().goto(&format!("{}/demo", env.issuer())).await.unwrap();
    b.click("#demo-login").await;
    b.fill("#username", "carol").await;
    b.fill("#password", "carol-pw-123").await;
    b.click("#login-submit").await;
    b.click("#consent-allow").await;
    b.c()
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#demo-result:not([hidden])"))
        .await
        .unwrap();
    // The account page (same session) lists it; removing it empties the list.
    b.c().goto(&format!("{}/account", env.issuer())).await.unwrap();
    assert_eq!(b.text("#account-username").await, "carol");
    assert!(b.text("#apps").await.contains("Demo app"));
    b.click(".revoke button").await;
    b.c().wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#no-apps")).await.unwrap();
    b.close().await;
}

/// A relying party served by the test on its own loopback port: `/cb` is the
/// seed's "Example RP iframe" (it frames the OP's check_session_iframe and
/// posts `client_id session_state` to it every half second, showing the
/// answer in `#status`); `/fc` is its front-channel logout URI and records
/// each request; `/bye` is its post-logout page.
async fn session_rp(op_origin: String, iframe_url: String, client_id: String) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    let cb = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>RP Iframe</title></head><body>
<p id="status">waiting</p>
<p id="kc-status">waiting</p>
<iframe id="op-iframe" src="{iframe_url}" frameborder="0" width="0" height="0"></iframe>
<script>
  var targetOP = "{op_origin}";
  var clientId = "{client_id}";
  var query = new URLSearchParams(window.location.search);
  var sessionState = query.get("session_state") || "";
  // Keycloak's adapters (keycloak-js) post "client_id sid" instead of the salted hash.
  var sid = query.get("sid");
  var pending = [];
  window.addEventListener("message", receiveMessage, false);
  function checkStatus() {{
    var frame = document.getElementById("op-iframe").contentWindow;
    pending.push("status");
    frame.postMessage(clientId + " " + sessionState, targetOP);
    if (sid) {{
      pending.push("kc-status");
      frame.postMessage(clientId + " " + sid, targetOP);
    }}
  }}
  function receiveMessage(event) {{
    if (event.origin !== targetOP) {{ return; }}
    var target = pending.shift() || "status";
    document.getElementById(target).textContent = event.data;
  }}
  document.getElementById("op-iframe").addEventListener("load", function () {{
    checkStatus();
    setInterval(checkStatus, 500);
  }});
</script></body></html>"#
    );
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (seen, cb) = (seen.clone(), cb.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = head.split(' ').nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(target.clone());
                let body = if target.starts_with("/cb") {
                    cb
                } else if target.starts_with("/bye") {
                    "<!DOCTYPE html><p id=\"bye\">signed out of the RP</p>".to_owned()
                } else {
                    "<!DOCTYPE html><p>ok</p>".to_owned()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (base, hits)
}

/// Session Management 1.0 §4 in a real browser: the RP's iframe sees
/// `unchanged` while the user is signed in; a logout at the provider in another
/// tab (RP-Initiated Logout 1.0 with confirmation) fires the front-channel
/// iframe (Front-Channel Logout 1.0 §4), goes on to the registered
/// post_logout_redirect_uri with state (RP-Initiated Logout 1.0 §3), and the
/// RP's iframe then sees `changed`.
#[tokio::test]
async fn session_iframe_sees_unchanged_then_changed_after_a_logout_with_frontchannel_in_chromium() {
    let env = Env::start().await;
    env.user("alice", "wonderland-42").await;
    let op_origin = env.server.base_url.clone();
    let iframe = format!("{}/protocol/openid-connect/login-status-iframe.html", env.issuer());
    let client_id = "session-rp".to_owned();
    let (rp, hits) = session_rp(op_origin, iframe, client_id.clone()).await;
    let mut spec = ClientSpec::new("Session RP", ClientType::Public, vec![format!("{rp}/cb")]);
    spec.client_id = Some(client_id.clone());
    spec.post_logout_redirect_uris = vec![format!("{rp}/bye")];
    spec.logout.frontchannel_uri = Some(format!("{rp}/fc"));
    spec.logout.frontchannel_session_required = true;
    let (client, _) = manage::new_client(REALM, spec, now(), &OsRandom::new()).unwrap();
    env.store.create_client(&client).await.unwrap();
    let Some(b) = Browser::start().await else { return };
    let auth = format!(
        "{}/protocol/openid-connect/auth?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s1\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        env.issuer(),
        crate::harness::enc(&format!("{rp}/cb"))
    );
    b.c().goto(&auth).await.unwrap();
    b.fill("#username", "alice").await;
    b.fill("#password", "wonderland-42").await;
    b.click("#login-submit").await;
    b.click("#consent-allow").await;
    wait_text(&b, "#status", "unchanged").await;
    // The RP redeems its code; with the id_token's sid, the page also asks the way
    // Keycloak's adapters do ("client_id sid"), and is answered the same.
    let back = b.c().current_url().await.unwrap().to_string();
    let code = crate::harness::query_param(&back, "code").unwrap();
    let session_state = crate::harness::query_param(&back, "session_state").unwrap();
    let tokens: serde_json::Value = crate::harness::browser()
        .post(env.endpoint("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", format!("{rp}/cb").as_str()),
            ("client_id", client_id.as_str()),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an id_token: {tokens}"))
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: serde_json::Value = serde_json::from_slice(&oidc_core::jose::b64_decode(&payload).unwrap()).unwrap();
    let sid = claims["sid"].as_str().expect("sid in the id_token").to_owned();
    let page =
        format!("{rp}/cb?session_state={}&sid={}", crate::harness::enc(&session_state), crate::harness::enc(&sid));
    b.c().goto(&page).await.unwrap();
    wait_text(&b, "#status", "unchanged").await;
    wait_text(&b, "#kc-status", "unchanged").await;
    let rp_tab = b.c().window().await.unwrap();

    // Another tab signs out at the provider.
    let tab = b.c().new_window(true).await.unwrap();
    b.c().switch_to_window(tab.handle).await.unwrap();
    let logout = format!(
        "{}/protocol/openid-connect/logout?client_id={client_id}&post_logout_redirect_uri={}&state=bye-1",
        env.issuer(),
        crate::harness::enc(&format!("{rp}/bye"))
    );
    b.c().goto(&logout).await.unwrap();
    // No id_token_hint: the user confirms.
    b.click("button[name=logout]").await;
    let bye = format!("{rp}/bye?state=bye-1");
    b.c().wait().at_most(Duration::from_secs(10)).for_url(&bye.parse().unwrap()).await.unwrap();
    assert_eq!(b.text("#bye").await, "signed out of the RP");
    let fc: Vec<String> = hits.lock().unwrap().iter().filter(|h| h.starts_with("/fc")).cloned().collect();
    assert_eq!(fc.len(), 1, "the front-channel iframe loaded once: {fc:?}");
    assert!(fc[0].contains("iss=") && fc[0].contains("sid="), "{}", fc[0]);

    // Back on the RP's page, the iframe now answers `changed`.
    b.c().switch_to_window(rp_tab).await.unwrap();
    wait_text(&b, "#status", "changed").await;
    wait_text(&b, "#kc-status", "changed").await;
    b.close().await;
}

/// Waits up to ten seconds until the element's text is `want`.
async fn wait_text(b: &Browser, css: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(el) = b.c().find(Locator::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if last == want {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} shows '{last}', not '{want}'");
}

/// Serves the files of `examples/implicit-js` on a loopback port; returns its base URL.
async fn serve_example() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/implicit-js");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").split(['?', '#']).next().unwrap_or("/").to_owned();
                let (file, ctype) = match path.as_str() {
                    "/app.js" => ("app.js", "text/javascript"),
                    _ => ("index.html", "text/html; charset=utf-8"),
                };
                let body = std::fs::read(dir.join(file)).unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    base
}

/// The seed's "Pure JS client using Implicit Flow" (`examples/implicit-js`,
/// no external scripts) from the login button to the UserInfo call, with the
/// cross-origin requests a browser RP makes (discovery, UserInfo with a
/// bearer header: CORS for the client's registered origin).
#[tokio::test]
async fn implicit_js_example_signs_in_and_calls_userinfo_in_chromium() {
    let env = Env::start().await;
    let sub = env.user("alice", "wonderland-42").await;
    let site = serve_example().await;
    let mut spec = ClientSpec::new("JS RP", ClientType::Public, vec![format!("{site}/")]);
    spec.client_id = Some("js-rp".into());
    spec.response_types = vec![oidc_core::model::ResponseType::IdTokenToken];
    spec.grant_types = vec![];
    let (client, _) = manage::new_client(REALM, spec, now(), &OsRandom::new()).unwrap();
    env.store.create_client(&client).await.unwrap();
    let Some(b) = Browser::start().await else { return };
    let page = format!("{site}/?issuer={}&client_id=js-rp", crate::harness::enc(&env.issuer()));
    b.c().goto(&page).await.unwrap();
    b.click("#login-button").await;
    b.fill("#username", "alice").await;
    b.fill("#password", "wonderland-42").await;
    b.click("#login-submit").await;
    b.click("#consent-allow").await;
    b.c()
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#result:not([hidden])"))
        .await
        .unwrap_or_else(|e| panic!("no result: {e}"));
    let claims: serde_json::Value = serde_json::from_str(&b.text("#id-token").await).unwrap();
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["aud"], "js-rp");
    let info: serde_json::Value = serde_json::from_str(&b.text("#userinfo").await).unwrap();
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["sub"], sub.as_str());
    b.close().await;
}

/// The keycloak-js module, which `cargo xtask ci` installs from npm into `target/npm`.
fn keycloak_js() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm/node_modules/keycloak-js/lib/keycloak.js")
}

/// A single-page application built on Keycloak's own JavaScript adapter
/// (keycloak-js, unmodified from npm), served on its own loopback port.
async fn keycloak_js_app(op_base: String, client_id: String) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let library = std::fs::read_to_string(keycloak_js()).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): `cargo xtask ci` installs it, or run \
             `npm install --no-save --prefix target/npm keycloak-js@26.2.4 openid-client@6.9.1`",
            keycloak_js().display()
        )
    });
    let index = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>keycloak-js app</title></head><body>
<p id="status">starting</p><p id="user"></p><p id="email"></p><p id="answers"></p>
<script type="module">
  import Keycloak from "/keycloak.js";
  // What the provider's frames tell the page (the third-party cookie check, the session iframe).
  window.addEventListener("message", (e) => {{
    if (e.origin === "{op_base}") {{ document.getElementById("answers").textContent += e.data + " "; }}
  }});
  const status = document.getElementById("status");
  const keycloak = new Keycloak({{ url: "{op_base}", realm: "main", clientId: "{client_id}" }});
  try {{
    const authenticated = await keycloak.init({{ onLoad: "login-required", pkceMethod: "S256",
      checkLoginIframe: true, checkLoginIframeInterval: 1 }});
    document.getElementById("user").textContent = keycloak.tokenParsed.preferred_username || "";
    const info = await keycloak.loadUserInfo();
    document.getElementById("email").textContent = info.email || "";
    await keycloak.updateToken(-1);
    status.textContent = authenticated ? "authenticated" : "anonymous";
  }} catch (e) {{
    status.textContent = "error: " + (e && e.message ? e.message : JSON.stringify(e));
  }}
</script></body></html>"#
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (index, library) = (index.clone(), library.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let (ctype, body) = if path.starts_with("/keycloak.js") {
                    ("text/javascript", library)
                } else {
                    ("text/html; charset=utf-8", index)
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

/// Keycloak's own JavaScript adapter (keycloak-js from npm, unmodified) against
/// this provider, as an application configured for a Keycloak realm would run
/// after changing only the host ("Securing Applications and Services Guide",
/// "JavaScript adapter"): login-required with PKCE S256 and the fragment
/// response mode, the code exchange with CORS, decoding of every token it gets
/// (access, refresh and id token), UserInfo, a token refresh, the third-party
/// cookie check and the session iframe; a logout at the provider in another
/// tab makes the adapter drop its tokens and send the user to sign in again.
#[tokio::test]
async fn keycloak_js_signs_in_refreshes_and_notices_a_logout_in_chromium() {
    let env = Env::start().await;
    env.user("alice", "wonderland-42").await;
    let client_id = "keycloak-js-app".to_owned();
    let Some(b) = Browser::start().await else { return };
    let app = keycloak_js_app(env.server.base_url.clone(), client_id.clone()).await;
    let mut spec = ClientSpec::new("keycloak-js app", ClientType::Public, vec![format!("{app}/")]);
    spec.client_id = Some(client_id.clone());
    spec.require_consent = false;
    spec.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
    // As a client registered in Keycloak's form has (Keycloak's default client scopes).
    spec.default_scopes = vec!["profile".into(), "email".into()];
    let (client, _) = manage::new_client(REALM, spec, now(), &OsRandom::new()).unwrap();
    env.store.create_client(&client).await.unwrap();

    b.c().goto(&format!("{app}/")).await.unwrap();
    b.fill("#username", "alice").await;
    b.fill("#password", "wonderland-42").await;
    b.click("#login-submit").await;
    // A public client's request is confirmed by the user (the provider asks whenever
    // it cannot authenticate the client).
    b.click("#consent-allow").await;
    wait_text(&b, "#status", "authenticated").await;
    assert_eq!(b.text("#user").await, "alice");
    assert_eq!(b.text("#email").await, "alice@example.com");
    for _ in 0..50 {
        if b.text("#answers").await.contains("unchanged") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answers = b.text("#answers").await;
    assert!(answers.contains("supported") && answers.contains("unchanged"), "the adapter's checks: {answers}");
    let app_tab = b.c().window().await.unwrap();

    // A logout at the provider in another tab: the adapter's session iframe notices.
    let tab = b.c().new_window(true).await.unwrap();
    b.c().switch_to_window(tab.handle).await.unwrap();
    b.c().goto(&format!("{}/protocol/openid-connect/logout", env.issuer())).await.unwrap();
    b.click("button[name=logout]").await;
    assert_eq!(b.text("#logged-out").await, "You are signed out");
    // The adapter's iframe hears "changed"; with onLoad login-required keycloak-js
    // clears its tokens and sends the user back to sign in at the provider.
    b.c().switch_to_window(app_tab).await.unwrap();
    let signed_out = b.c().wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#login-form")).await;
    assert!(signed_out.is_ok(), "keycloak-js noticed the logout and asks for a new sign-in");
    b.close().await;
}
