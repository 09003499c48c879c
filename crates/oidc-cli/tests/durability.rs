//! Durability (issue 12): `kill -9` of the real server binary in the middle of
//! a load of code flows loses nothing it acknowledged. After a restart on the
//! same database every access token the driver received still works at
//! UserInfo, no code is redeemed twice (RFC 6749 §4.1.2), and SQLite's
//! `PRAGMA integrity_check` answers `ok`.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is in the WAL
//! before the statement returns, so it survives the death of the process (only
//! a power loss may lose the last commits, which `kill -9` is not).
#![allow(clippy::unwrap_used, clippy::disallowed_macros, clippy::disallowed_methods)]

mod common;

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait as _;

const CLIENT_ID: &str = "durable";
const SECRET: &str = "durable-secret-0123456789abcdefgh";
const PASSWORD: &str = "durable-password-1";
const CALLBACK: &str = "http://127.0.0.1:9/cb";
/// Browsers driving flows at once.
const BROWSERS: usize = 6;

fn oidc(db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oidc"));
    c.arg("--database-url").arg(db_url);
    c.env_remove("OIDC_CONFIG").env_remove("OIDC_REALM").env_remove("OIDC_DATABASE_URL");
    c
}

fn run_with_stdin(mut c: Command, input: &str) {
    c.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `oidc serve` on a free port: the process and its address.
fn serve(db_url: &str) -> (Child, String) {
    let (child, addr, _) = common::serve(oidc(db_url));
    (child, addr)
}

/// A fresh database: a SQLite file, or a new database on the PostgreSQL server
/// of `OIDC_TEST_POSTGRES_URL`; its URL and a way to remove it.
async fn fresh_database(postgres: bool, name: &str) -> (String, Box<dyn FnOnce()>) {
    let name = format!("oidc_durability_{name}_{}", std::process::id());
    if !postgres {
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("db.sqlite").display());
        return (url, Box::new(move || drop(std::fs::remove_dir_all(dir))));
    }
    let server = std::env::var("OIDC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = oidc_store::Store::connect(&server).await.expect("PostgreSQL reachable (OIDC_TEST_POSTGRES_URL)");
    let conn = admin.connection();
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.unwrap();
    conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b).to_owned();
    let url = format!("{base}/{name}");
    let drop_url = server.clone();
    (
        url,
        Box::new(move || {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(admin) = oidc_store::Store::connect(&drop_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = admin.connection().execute_unprepared(&sql).await;
                    }
                });
            })
            .join();
        }),
    )
}

/// The value of attribute `attr` of the first tag containing `marker`.
fn attr_of(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..at + html[at..].find('>')?];
    let v = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    let value = &tag[v..v + tag[v..].find('"')?];
    Some(value.replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&amp;", "&"))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// One browser of the driver, with its cookie jar.
struct Browser {
    http: reqwest::Client,
}

/// What the driver was told by the server before it died.
#[derive(Default)]
struct Acknowledged {
    /// Codes the token endpoint exchanged (answered 200).
    redeemed: Vec<String>,
    /// Codes issued whose exchange got no answer (in flight at the kill).
    unanswered: Vec<String>,
    /// Access tokens received.
    access_tokens: Vec<String>,
}

impl Browser {
    async fn login(base: &str) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let page = http.get(auth_url(base)).send().await.unwrap().text().await.unwrap();
        let action = attr_of(&page, "id=\"login-form\"", "action").expect("a login form");
        let field = |name: &str| attr_of(&page, &format!("name=\"{name}\""), "value").expect("a hidden field");
        let r = http
            .post(action)
            .form(&[
                ("csrf_token", field("csrf_token").as_str()),
                ("authz", field("authz").as_str()),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "login accepted");
        Browser { http }
    }

    /// One flow; `Err` when the server stopped answering.
    async fn flow(&self, base: &str, ack: &Mutex<Acknowledged>) -> Result<(), reqwest::Error> {
        let r = self.http.get(auth_url(base)).send().await?;
        let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
        let Some(code) = query_param(&location, "code") else { return Ok(()) };
        let sent = self
            .http
            .post(format!("{base}/token"))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
            .send()
            .await;
        let answer = match sent {
            Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.ok(),
            Ok(r) => panic!("the token endpoint refused a fresh code: {}", r.status()),
            Err(e) => {
                ack.lock().unwrap().unanswered.push(code);
                return Err(e);
            }
        };
        let mut ack = ack.lock().unwrap();
        match answer.and_then(|b| b["access_token"].as_str().map(str::to_owned)) {
            Some(at) => {
                ack.redeemed.push(code);
                ack.access_tokens.push(at);
            }
            None => ack.unanswered.push(code),
        }
        Ok(())
    }
}

fn auth_url(base: &str) -> String {
    format!(
        "{base}/auth?client_id={CLIENT_ID}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&state=s"
    )
}

async fn redeem(base: &str, code: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn killed_under_load_loses_nothing(postgres: bool) {
    let (url, cleanup) = fresh_database(postgres, if postgres { "pg" } else { "sqlite" }).await;
    let (mut server, addr) = serve(&url);
    let mut client = oidc(&url);
    client
        .args(["client", "create", "--name", "Durable", "--client-id", CLIENT_ID, "--redirect-uri", CALLBACK])
        .args(["--require-consent", "false", "--secret-stdin"]);
    run_with_stdin(client, SECRET);
    let mut user = oidc(&url);
    user.args(["user", "create", "alice", "--password-stdin"]);
    run_with_stdin(user, PASSWORD);

    let base = format!("http://{addr}/realms/main/protocol/openid-connect");
    let mut browsers = Vec::new();
    for _ in 0..BROWSERS {
        browsers.push(Arc::new(Browser::login(&base).await));
    }
    let ack = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for b in &browsers {
        let (b, ack, stop, base) = (b.clone(), ack.clone(), stop.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if b.flow(&base, &ack).await.is_err() {
                    break;
                }
            }
        }));
    }
    // Let the load run until flows have completed, then kill -9 in the middle of it.
    let started = Instant::now();
    while ack.lock().unwrap().redeemed.len() < 100 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let ack = std::mem::take(&mut *ack.lock().unwrap());
    assert!(ack.redeemed.len() >= 20, "the load ran before the kill: {} flows", ack.redeemed.len());
    eprintln!("killed after {} acknowledged flows ({} exchanges unanswered)", ack.redeemed.len(), ack.unanswered.len());

    let (mut server, addr) = serve(&url);
    let base = format!("http://{addr}/realms/main/protocol/openid-connect");
    let http = reqwest::Client::new();
    for at in &ack.access_tokens {
        let r = http.get(format!("{base}/userinfo")).bearer_auth(at).send().await.unwrap();
        assert_eq!(r.status(), 200, "an access token acknowledged before the kill still works");
    }
    // RFC 6749 §4.1.2: a code is used once, before or after the restart.
    for code in &ack.redeemed {
        assert_eq!(redeem(&base, code).await, 400, "a code redeemed before the kill is refused after it");
    }
    for code in &ack.unanswered {
        let wins = [redeem(&base, code).await, redeem(&base, code).await].iter().filter(|s| **s == 200).count();
        assert!(wins <= 1, "a code in flight at the kill is redeemed at most once");
    }
    server.kill().unwrap();
    server.wait().unwrap();

    if !postgres {
        let store = oidc_store::Store::connect(&url).await.unwrap();
        let rows = store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA integrity_check"));
        let rows = rows.await.unwrap();
        let verdict: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
        assert_eq!(verdict, ["ok"], "PRAGMA integrity_check");
    }
    cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_token_sqlite_issue_12() {
    killed_under_load_loses_nothing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_token_postgres_issue_12() {
    killed_under_load_loses_nothing(true).await;
}
