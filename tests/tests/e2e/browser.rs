//! Browser tests in a real headless Chromium (WebDriver through chromedriver):
//! the login and consent pages and the demo relying party's script, as a user
//! sees them, with the pages' Content-Security-Policy in force.
//!
//! They need `/usr/bin/chromium` and `/usr/bin/chromedriver` (`.ci/run`
//! installs them). Without them each test fails with a message saying so,
//! unless `OIDC_SKIP_BROWSER_TESTS=1` is set.

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
