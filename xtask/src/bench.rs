//! `cargo xtask bench`: full authorization code flows per second against the
//! release binary, on a fresh SQLite file (durable storage, the default).
//!
//! One flow is what a relying party does for a logged-in user: the
//! authorization request (302 with a code), the token request (RS256
//! id_token, client_secret_basic), and a userinfo call.
//! Each worker is one browser: it signs in once through the login form, then
//! loops over flows with its session cookie on one keep-alive connection.
//! The first failed request stops the run with the step, the status and the
//! body.
//!
//! Traffic goes only to 127.0.0.1 (no proxies, no redirects followed), and
//! every loop is bounded by time and by a count.
//! SQL statements per flow are counted by a test, not here: the end-to-end
//! test `statements.rs` (through `oidc_store::Store::log_statements`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};

const CLIENT_ID: &str = "bench";
/// 32 characters, piped to `client create --secret-stdin`.
const SECRET: &str = "bench-secret-0123456789abcdefghi";
const USERNAME: &str = "bench";
const PASSWORD: &str = "bench-password-1";
const CALLBACK: &str = "http://127.0.0.1:9/cb";
const WARM_UP: Duration = Duration::from_secs(1);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// A bound on flows per worker and level, far above what the time allows.
const MAX_FLOWS_PER_WORKER: u64 = 10_000_000;

/// Command-line options of `bench`.
#[derive(Debug)]
struct Options {
    seconds: u64,
    levels: Vec<usize>,
}

fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options { seconds: 5, levels: vec![1, 8, 32] };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| anyhow!("{name} needs a value"));
        match name {
            "--seconds" => {
                let v = value()?;
                opts.seconds = v.parse().with_context(|| format!("--seconds: '{v}' is not a number"))?;
            }
            "--concurrency" => {
                let v = value()?;
                opts.levels = v
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--concurrency: '{v}' is not a comma-separated list of numbers"))?;
            }
            other => bail!("unknown argument '{other}' (usage: bench [--seconds N] [--concurrency 1,8,32])"),
        }
    }
    ensure!((1..=300).contains(&opts.seconds), "--seconds must be between 1 and 300");
    ensure!(
        !opts.levels.is_empty() && opts.levels.iter().all(|c| (1..=256).contains(c)),
        "each --concurrency level must be between 1 and 256"
    );
    Ok(opts)
}

/// Runs the benchmark.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = parse_args(args)?;
    let root = crate::root();

    println!("==> cargo build --release -p oidc-cli");
    let status = crate::cargo().args(["build", "--release", "-p", "oidc-cli"]).status().context("cannot run cargo")?;
    ensure!(status.success(), "the release build failed ({status})");
    let bin = root.join("target/release/oidc");

    let dir = TempDir::new()?;
    let db = format!("sqlite://{}", dir.0.join("bench.sqlite").display());
    println!("==> starting {} with {db}", bin.display());
    let server = Server::start(&bin, &db)?;
    let seeded = seed(&bin, &db);
    // Drop order: the server stops before its directory goes away, on every path.
    let result = seeded.and_then(|()| measure(&server, &opts));
    drop(server);
    drop(dir);
    result
}

/// Registers the confidential client (no consent screen) and the user.
fn seed(bin: &Path, db: &str) -> anyhow::Result<()> {
    let mut client = oidc(bin, db);
    client.args(["client", "create", "--name", "Bench", "--client-id", CLIENT_ID, "--type", "confidential"]).args([
        "--redirect-uri",
        CALLBACK,
        "--require-consent",
        "false",
        "--secret-stdin",
    ]);
    run_with_stdin(client, SECRET)?;
    let mut user = oidc(bin, db);
    user.args(["user", "create", USERNAME, "--password-stdin", "--email", "bench@example.com"]);
    run_with_stdin(user, PASSWORD)
}

fn measure(server: &Server, opts: &Options) -> anyhow::Result<()> {
    // Let the seeding settle before sampling the idle size.
    std::thread::sleep(Duration::from_millis(300));
    let idle = server.memory_kib("VmRSS:");
    let base = format!("http://{}/realms/main/protocol/openid-connect", server.addr);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut rows = Vec::new();
    let outcome = rt.block_on(async {
        let workers = opts.levels.iter().copied().max().unwrap_or(1);
        println!("==> signing in {workers} browser(s)");
        let mut browsers = Vec::with_capacity(workers);
        for _ in 0..workers {
            browsers.push(Arc::new(Browser::sign_in(&server.addr, &base).await?));
        }
        for &c in &opts.levels {
            println!("==> concurrency {c}: {} s warm-up, {} s measured", WARM_UP.as_secs(), opts.seconds);
            let mut row = level(&browsers[..c], Duration::from_secs(opts.seconds)).await;
            let failure = row.failure.take();
            rows.push((c, row));
            if let Some(e) = failure {
                return Err(e.context(format!("a flow failed at concurrency {c}; the bench stopped")));
            }
        }
        Ok(())
    });
    let peak = server.memory_kib("VmHWM:");

    println!();
    println!(
        "Full code flows (authorize -> token with RS256 id_token -> userinfo), SQLite file, {} s per level",
        opts.seconds
    );
    println!("{:>11} {:>10} {:>9} {:>9} {:>8} {:>7}", "concurrency", "flows/s", "p50 ms", "p99 ms", "flows", "errors");
    for (c, r) in &rows {
        println!("{c:>11} {:>10.1} {:>9.2} {:>9.2} {:>8} {:>7}", r.rate, r.p50_ms, r.p99_ms, r.flows, r.errors);
    }
    let mib = |k: Option<u64>| k.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!("Server memory: idle RSS {} MiB, peak RSS (VmHWM) {} MiB", mib(idle), mib(peak));
    println!("SQL statements per flow: see the end-to-end test statements.rs and docs/PERFORMANCE.md");
    outcome
}

/// One row of the table.
struct Row {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    flows: usize,
    errors: u64,
    failure: Option<anyhow::Error>,
}

/// Runs `browsers.len()` workers for a warm-up and then `duration`.
async fn level(browsers: &[Arc<Browser>], duration: Duration) -> Row {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + WARM_UP;
    let end = start + duration;
    let mut tasks = Vec::with_capacity(browsers.len());
    for browser in browsers {
        let (browser, stop) = (browser.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failure = None;
            for _ in 0..MAX_FLOWS_PER_WORKER {
                if Instant::now() >= end || stop.load(Ordering::Relaxed) {
                    break;
                }
                let t0 = Instant::now();
                if let Err(e) = browser.flow().await {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                    break;
                }
                let t1 = Instant::now();
                // Count flows that finished inside the measured window.
                if t0 >= start && t1 <= end {
                    latencies.push(t1 - t0);
                }
            }
            (latencies, failure)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first = None;
    for task in tasks {
        let (latencies, failure) = match task.await {
            Ok(r) => r,
            Err(e) => (Vec::new(), Some(anyhow!("a worker panicked: {e}"))),
        };
        all.extend(latencies);
        if let Some(e) = failure {
            errors += 1;
            first.get_or_insert(e);
        }
    }
    all.sort_unstable();
    let ms = |p: f64| percentile(&all, p).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    Row {
        rate: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        flows: all.len(),
        errors,
        failure: first,
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// A browser with a session cookie and one keep-alive connection.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    /// Signs in through the login form: GET authorize, POST the form, expect the session cookie.
    async fn sign_in(addr: &str, base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        let browser = Self { http, base: base.to_owned() };
        let r = browser.http.get(browser.auth_url()).send().await.context("login: GET authorize")?;
        let page = expect(r, 200, "login: GET authorize").await?.text().await?;
        let form = tag_with(&page, "id=\"login-form\"").context("login: no login form in the page")?;
        let action = html_unescape(&attr(form, "action").context("login: the form has no action")?);
        // Only ever talk to the server under test.
        ensure!(action.starts_with(&format!("http://{addr}/")), "login: unexpected form action {action}");
        let hidden = |name: &str| -> anyhow::Result<String> {
            let input = tag_with(&page, &format!("name=\"{name}\"")).with_context(|| format!("login: no {name}"))?;
            Ok(html_unescape(&attr(input, "value").with_context(|| format!("login: {name} has no value"))?))
        };
        let (csrf, authz) = (hidden("csrf_token")?, hidden("authz")?);
        let r = browser
            .http
            .post(&action)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("authz", authz.as_str()),
                ("username", USERNAME),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .context("login: POST the form")?;
        let r = expect(r, 303, "login: POST the form").await?;
        let sets_session =
            r.headers().get_all("set-cookie").iter().any(|v| v.to_str().is_ok_and(|s| s.starts_with("OIDC_SESSION=")));
        ensure!(sets_session, "login: the answer sets no OIDC_SESSION cookie");
        let location = location(&r)?;
        ensure!(location.contains("/protocol/openid-connect/auth"), "login: redirected to {location}, not authorize");
        Ok(browser)
    }

    fn auth_url(&self) -> String {
        format!(
            "{}/auth?client_id={CLIENT_ID}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code\
             &scope=openid%20email&state=s&nonce=n",
            self.base
        )
    }

    /// authorize -> token -> userinfo, checking every answer.
    async fn flow(&self) -> anyhow::Result<()> {
        let r = self.http.get(self.auth_url()).send().await.context("authorize")?;
        let r = expect(r, 302, "authorize").await?;
        let location = reqwest::Url::parse(&location(&r)?).context("authorize: bad Location")?;
        ensure!(location.as_str().starts_with(CALLBACK), "authorize: redirected to {location}, not the callback");
        let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        ensure!(param("state").as_deref() == Some("s"), "authorize: state missing in {location}");
        let code = param("code").with_context(|| format!("authorize: no code in {location}"))?;

        let r = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
            .send()
            .await
            .context("token")?;
        let tokens: serde_json::Value = expect(r, 200, "token").await?.json().await.context("token: not JSON")?;
        let access_token = tokens["access_token"].as_str().context("token: no access_token")?;
        let id_token = tokens["id_token"].as_str().context("token: no id_token")?;
        ensure!(id_token.split('.').count() == 3, "token: the id_token is not a compact JWS");

        let r = self
            .http
            .get(format!("{}/userinfo", self.base))
            .bearer_auth(access_token)
            .send()
            .await
            .context("userinfo")?;
        let claims: serde_json::Value = expect(r, 200, "userinfo").await?.json().await.context("userinfo: not JSON")?;
        ensure!(claims["sub"].is_string(), "userinfo: no sub in {claims}");
        Ok(())
    }
}

/// Returns the response if its status is `want`, else an error naming the step, with the body.
async fn expect(r: reqwest::Response, want: u16, step: &str) -> anyhow::Result<reqwest::Response> {
    if r.status().as_u16() == want {
        return Ok(r);
    }
    let status = r.status();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = r.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    bail!("{step}: expected {want}, got {status} (location {location:?}): {body}")
}

fn location(r: &reqwest::Response) -> anyhow::Result<String> {
    let v = r.headers().get("location").context("no Location header")?;
    Ok(v.to_str().context("Location is not ASCII")?.to_owned())
}

/// The HTML start tag that contains `marker`.
fn tag_with<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)?;
    let open = html[..at].rfind('<')?;
    let close = at + html[at..].find('>')?;
    Some(&html[open..=close])
}

/// The raw (still escaped) value of a double-quoted attribute.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

/// Decodes the entities an HTML escaper writes: named `&amp;` and friends, and numeric `&#...;`.
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            };
            c.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn oidc(bin: &Path, db: &str) -> Command {
    let mut c = Command::new(bin);
    c.arg("--database-url").arg(db);
    c
}

fn run_with_stdin(mut c: Command, input: &str) -> anyhow::Result<()> {
    let mut child =
        c.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().with_context(|| format!("cannot run {c:?}"))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(format!("{input}\n").as_bytes())?;
    drop(stdin);
    let status = child.wait()?;
    ensure!(status.success(), "{c:?} failed ({status})");
    Ok(())
}

/// The running server; dropping it sends SIGTERM, then SIGKILL if it lingers.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(bin: &Path, db: &str) -> anyhow::Result<Self> {
        let mut child = oidc(bin, db)
            .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut server = Self { child, addr: String::new() };
        // A thread reads the output, so the wait below has a deadline and the pipe never fills.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        server.addr = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => addr,
            Err(mpsc::RecvTimeoutError::Timeout) => bail!("the server did not listen within {STARTUP_TIMEOUT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.child.wait()?;
                bail!("the server exited before listening ({status})")
            }
        };
        ensure!(server.addr.starts_with("127.0.0.1:"), "the server listens on {}, not 127.0.0.1", server.addr);
        Ok(server)
    }

    /// A `/proc/PID/status` memory field (`VmRSS:`, `VmHWM:`) in KiB.
    fn memory_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the server ignored SIGTERM for 5 s; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("oidc-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
#[path = "bench_tests.rs"]
mod tests;
