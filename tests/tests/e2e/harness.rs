//! Starting a server and acting as a browser and a relying party.

use std::sync::Arc;

use oidc_cli::server::{self, ServerHandle, ServerOptions};
use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::{ClientType, JwtAlg, StandardClaims};
use oidc_core::rand::OsRandom;
use oidc_core::repo::Repositories;
use oidc_core::secret::Password;
use oidc_core::time::{Clock as _, UnixTime};
use oidc_store::Store;

pub(crate) const REALM: &str = "main";
pub(crate) const CALLBACK: &str = "http://127.0.0.1:9/cb";

/// A running server with its store.
pub(crate) struct Env {
    pub(crate) server: ServerHandle,
    pub(crate) store: Arc<dyn Repositories>,
}

impl Env {
    /// Starts a server over a fresh in-memory SQLite database.
    pub(crate) async fn start() -> Env {
        Env::start_with(oidc_core::config::Settings::default()).await
    }

    /// Starts a server with the given settings.
    pub(crate) async fn start_with(settings: oidc_core::config::Settings) -> Env {
        Env::spawn(settings, None).await
    }

    /// Starts a server with the demo relying party on, as client `client_id`
    /// (which the test creates).
    pub(crate) async fn start_with_demo(client_id: &str) -> Env {
        Env::spawn(oidc_core::config::Settings::default(), Some(client_id.to_owned())).await
    }

    async fn spawn(settings: oidc_core::config::Settings, demo_client_id: Option<String>) -> Env {
        let store = Env::fresh_store().await;
        let mut opts = ServerOptions::new("127.0.0.1:0", settings);
        opts.demo_client_id = demo_client_id;
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }

    /// Starts a server with custom scopes and hooks.
    pub(crate) async fn start_with_options(
        scopes: oidc_core::scope::ScopeRegistry,
        hooks: oidc_core::hooks::Hooks,
    ) -> Env {
        let store = Env::fresh_store().await;
        let mut opts = ServerOptions::new("127.0.0.1:0", oidc_core::config::Settings::default());
        opts.scopes = scopes;
        opts.hooks = hooks;
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }

    /// Starts a server with the given options over a fresh in-memory database.
    pub(crate) async fn start_with_opts(opts: ServerOptions) -> Env {
        let store = Env::fresh_store().await;
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }

    /// Starts a server whose outbound fetches may use http on loopback (for request_uri tests).
    pub(crate) async fn start_with_loopback_fetch() -> Env {
        let store = Env::fresh_store().await;
        let mut opts = ServerOptions::new("127.0.0.1:0", oidc_core::config::Settings::default());
        opts.allow_http_fetch_loopback = true;
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }

    /// Starts a server with options changed by `edit`.
    pub(crate) async fn start_customized(edit: impl FnOnce(&mut ServerOptions)) -> Env {
        let store = Env::fresh_store().await;
        let mut opts = ServerOptions::new("127.0.0.1:0", oidc_core::config::Settings::default());
        edit(&mut opts);
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }

    /// A migrated in-memory database with the realm and its key.
    async fn fresh_store() -> Arc<dyn Repositories> {
        let store = Store::connect("sqlite::memory:").await.expect("open the database");
        store.migrate().await.expect("migrate");
        let store: Arc<dyn Repositories> = Arc::new(store);
        server::bootstrap(store.as_ref(), REALM).await.expect("bootstrap");
        store
    }

    pub(crate) fn issuer(&self) -> String {
        format!("{}/realms/{REALM}", self.server.base_url)
    }

    /// The realm's discovery document.
    pub(crate) async fn discovery(&self) -> serde_json::Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        browser().get(url).send().await.expect("discovery").json().await.expect("discovery JSON")
    }

    pub(crate) fn endpoint(&self, name: &str) -> String {
        format!("{}/protocol/openid-connect/{name}", self.issuer())
    }

    /// Registers a client; returns its id and secret.
    pub(crate) async fn client(
        &self,
        kind: ClientType,
        alg: JwtAlg,
        edit: impl FnOnce(&mut ClientSpec),
    ) -> (String, Option<String>) {
        let mut spec = ClientSpec::new("Test RP", kind, vec![CALLBACK.into()]);
        spec.jwt_alg = alg;
        spec.post_logout_redirect_uris = vec!["http://127.0.0.1:9/bye".into()];
        edit(&mut spec);
        // A client without a code response type has no authorization_code grant (RFC 7591 §2.1).
        if !spec.response_types.iter().any(|r| r.has_code()) {
            spec.grant_types.retain(|g| *g != oidc_core::model::GrantType::AuthorizationCode);
        }
        let (c, secret) = manage::new_client(REALM, spec, now(), &OsRandom::new()).expect("valid client");
        self.store.create_client(&c).await.expect("store the client");
        (c.client_id, secret.map(|s| s.secret().to_owned()))
    }

    /// Registers a service account: a confidential client with only the
    /// client_credentials grant; returns its id and secret.
    pub(crate) async fn service_account(&self) -> (String, Option<String>) {
        self.client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.response_types = vec![];
            s.grant_types = vec![oidc_core::model::GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
        })
        .await
    }

    /// Creates user `username` with `password`, an e-mail and a name; returns the `sub`.
    pub(crate) async fn user(&self, username: &str, password: &str) -> String {
        let claims = StandardClaims {
            name: Some("Alice Liddell".into()),
            given_name: Some("Alice".into()),
            email: Some(format!("{username}@example.com")),
            email_verified: true,
            ..StandardClaims::default()
        };
        let rng = OsRandom::new();
        let mut u = manage::new_user(REALM, username, claims, now(), &rng).expect("valid user");
        u.password_hash = Some(oidc_core::password::hash(&Password::new(password.into()), &rng));
        self.store.create_user(&u).await.expect("store the user");
        u.id
    }
}

pub(crate) fn now() -> UnixTime {
    server::SystemClock.now()
}

/// A browser: cookies kept, redirects not followed (the tests look at each).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Undoes the HTML escaping of an attribute value.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The value of the input named `name` in `html`.
pub(crate) fn input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    let end = tag[v..].find('"')?;
    Some(unescape(&tag[v..v + end]))
}

/// The action of the form with id `id`.
pub(crate) fn form_action(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no form #{id} in {html}"));
    let tag_start = html[..at].rfind('<').expect("tag");
    let tag = &html[tag_start..at + html[at..].find('>').expect("tag end")];
    let a = tag.find("action=\"").expect("action") + 8;
    unescape(&tag[a..a + tag[a..].find('"').expect("quote")])
}

pub(crate) fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").unwrap_or_else(|| panic!("no Location in {r:?}")).to_str().expect("ascii").to_owned()
}

/// The query parameter `name` of `url`.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    let q = q.split('#').next().unwrap_or("");
    form_urlencoded_pairs(q).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((oidc_core::params::form_urldecode(k)?, oidc_core::params::form_urldecode(v)?))
        })
        .collect()
}

/// Submits the login form shown by `login_page` and returns the response (a redirect).
pub(crate) async fn submit_login(
    http: &reqwest::Client,
    login_page: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let action = form_action(login_page, "login-form");
    let csrf = input(login_page, "csrf_token").expect("csrf_token");
    let authz = input(login_page, "authz").expect("authz");
    http.post(action)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("authz", authz.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("post login")
}

/// Submits the consent form, allowing or declining.
pub(crate) async fn submit_consent(http: &reqwest::Client, consent_page: &str, allow: bool) -> reqwest::Response {
    let action = form_action(consent_page, "consent-form");
    let csrf = input(consent_page, "csrf_token").expect("csrf_token");
    let authz = input(consent_page, "authz").expect("authz");
    let button = if allow { ("allow", "Authorize") } else { ("decline", "Decline") };
    http.post(action)
        .form(&[("csrf_token", csrf.as_str()), ("authz", authz.as_str()), button])
        .send()
        .await
        .expect("post consent")
}

/// Follows a browser through login and consent from `auth_url`; returns the
/// final redirect to the client.
pub(crate) async fn authorize(http: &reqwest::Client, auth_url: &str, username: &str, password: &str) -> String {
    let r = http.get(auth_url).send().await.expect("get auth");
    if r.status() == 302 {
        // Already logged in, consent on record.
        return location(&r);
    }
    assert_eq!(r.status(), 200, "login or consent page");
    let mut page = r.text().await.expect("body");
    if page.contains("id=\"login-form\"") {
        let r = submit_login(http, &page, username, password).await;
        assert_eq!(r.status(), 303, "login accepted");
        let r = http.get(location(&r)).send().await.expect("resume");
        if r.status() == 302 {
            return location(&r);
        }
        assert_eq!(r.status(), 200, "consent page");
        page = r.text().await.expect("body");
    }
    assert!(page.contains("Request for Permission"), "{page}");
    let r = submit_consent(http, &page, true).await;
    assert_eq!(r.status(), 303);
    location(&r)
}

/// The openidconnect crate's HTTP client over reqwest, without redirects.
pub(crate) async fn rp_http(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (parts, body) = req.into_parts();
    let resp = http.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let mut out = http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let bytes = resp.bytes().await?.to_vec();
    Ok(out.body(bytes).expect("valid response"))
}

/// Percent-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    oidc_core::params::form_urlencode(s)
}

/// Serves `body` at every path of a loopback address; returns the base URL.
pub(crate) async fn serve_document(body: String, content_type: &'static str) -> String {
    serve_mutable(body, content_type).await.0
}

/// Like [`serve_document`], with a handle to change the document later.
pub(crate) async fn serve_mutable(body: String, content_type: &'static str) -> (String, Arc<std::sync::Mutex<String>>) {
    let doc = Arc::new(std::sync::Mutex::new(body));
    let (url, _) = serve_shared(doc.clone(), content_type).await;
    (url, doc)
}

/// Serves `body` at every path and counts the requests it answered.
pub(crate) async fn serve_counted(
    body: String,
    content_type: &'static str,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    serve_shared(Arc::new(std::sync::Mutex::new(body)), content_type).await
}

/// Serves the current `doc` at every path, counting requests.
async fn serve_shared(
    doc: Arc<std::sync::Mutex<String>>,
    content_type: &'static str,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = doc.lock().expect("document").clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), count)
}

/// Which database a [`SharedDb`] lives in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    /// A SQLite file in WAL mode.
    SqliteFile,
    /// A fresh database on the PostgreSQL server of `OIDC_TEST_POSTGRES_URL`.
    Postgres,
}

/// A database that several server instances (separate connection pools) share,
/// removed when the test ends.
pub(crate) struct SharedDb {
    pub(crate) url: String,
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl SharedDb {
    /// Creates an empty database, migrates it and bootstraps the realm.
    pub(crate) async fn new(backend: Backend) -> SharedDb {
        use sea_orm::ConnectionTrait as _;
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("oidc_e2e_{}_{n}", std::process::id());
        let db = match backend {
            Backend::SqliteFile => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite"));
                let files: Vec<std::path::PathBuf> =
                    ["", "-wal", "-shm"].iter().map(|s| format!("{}{s}", path.display()).into()).collect();
                SharedDb {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Some(Box::new(move || {
                        for f in files {
                            let _ = std::fs::remove_file(f);
                        }
                    })),
                }
            }
            Backend::Postgres => {
                let server = std::env::var("OIDC_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let admin = Store::connect(&server).await.expect("PostgreSQL reachable (OIDC_TEST_POSTGRES_URL)");
                admin.connection().execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create db");
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b).to_owned();
                let url = format!("{base}/{name}");
                SharedDb {
                    url,
                    cleanup: Some(Box::new(move || {
                        // Dropped from a plain thread: the test's runtime may be shutting down.
                        let _ = std::thread::spawn(move || {
                            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                            if let Ok(rt) = rt {
                                rt.block_on(async {
                                    let _ = admin
                                        .connection()
                                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                                        .await;
                                });
                            }
                        })
                        .join();
                    })),
                }
            }
        };
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        server::bootstrap(&store, REALM).await.expect("bootstrap");
        db
    }

    /// A new connection pool on the database: one server instance's storage.
    pub(crate) async fn store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect to the shared database")
    }

    /// Starts a server instance with its own connection pool.
    pub(crate) async fn instance(&self, opts: ServerOptions) -> Env {
        let store: Arc<dyn Repositories> = Arc::new(self.store().await);
        let server = server::spawn(opts, store.clone()).await.expect("start the server");
        Env { server, store }
    }
}

impl Drop for SharedDb {
    fn drop(&mut self) {
        if let Some(c) = self.cleanup.take() {
            c();
        }
    }
}

/// A relying party's back-channel logout endpoint on a loopback port: it
/// answers 200 to every POST and keeps the bodies it received.
pub(crate) async fn backchannel_receiver() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then as many body bytes as Content-Length says.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            seen.lock().expect("bodies").push(text[end + 4..end + 4 + len].to_owned());
                            break;
                        }
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            });
        }
    });
    (format!("http://{addr}/backchannel"), got)
}

/// Waits up to `secs` seconds for `check` to hold.
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(secs: u64, mut check: impl FnMut() -> F) -> bool {
    for _ in 0..secs * 10 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
