//! `cargo xtask bench`: full authorization code flows per second against the
//! release binary, on a fresh SQLite file (durable storage, the default).
//!
//! One flow is what a relying party does for a logged-in user: the
//! authorization request (302 with a code), the token request (RS256
//! id_token, client_secret_basic), and a userinfo call. Traffic goes only to
//! 127.0.0.1, and every loop is bounded by time.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

const SECRET: &str = "bench-secret-bench-secret-bench-secret";
const PASSWORD: &str = "bench-password-1";
const CALLBACK: &str = "http://127.0.0.1:9/cb";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn parse_args(args: &[String]) -> anyhow::Result<(u64, Vec<usize>)> {
    let mut seconds = 5;
    let mut levels = vec![1, 8, 32];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().ok_or_else(|| anyhow!("--seconds needs a value"))?.parse()?,
            "--concurrency" => {
                levels = it
                    .next()
                    .ok_or_else(|| anyhow!("--concurrency needs a value"))?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?;
            }
            other => bail!("unknown argument '{other}'"),
        }
    }
    if seconds == 0 || seconds > 300 || levels.iter().any(|&c| c == 0 || c > 512) {
        bail!("--seconds must be 1..=300 and each concurrency 1..=512");
    }
    Ok((seconds, levels))
}

fn oidc(bin: &std::path::Path, db: &str) -> Command {
    let mut c = Command::new(bin);
    c.arg("--database-url").arg(db);
    c
}

fn run_with_stdin(mut c: Command, input: &str) -> anyhow::Result<()> {
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?.write_all(input.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("{c:?} failed");
    }
    Ok(())
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// Runs the benchmark.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let (seconds, levels) = parse_args(args)?;
    let root = crate::root();
    println!("==> building the release binary");
    let status = Command::new("cargo").args(["build", "--release", "-p", "oidc-cli"]).current_dir(&root).status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let bin = root.join("target/release/oidc");
    let dir = std::env::temp_dir().join(format!("oidc-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let db = format!("sqlite://{}/bench.sqlite", dir.display());
    let st = oidc(&bin, &db).args(["realm", "create", "main"]).stdout(Stdio::null()).status()?;
    if !st.success() {
        bail!("realm create failed");
    }
    let mut c = oidc(&bin, &db);
    c.args(["client", "create", "--name", "Bench", "--client-id", "bench", "--redirect-uri", CALLBACK]).args([
        "--require-consent",
        "false",
        "--secret-stdin",
    ]);
    run_with_stdin(c, &format!("{SECRET}\n"))?;
    let mut c = oidc(&bin, &db);
    c.args(["user", "create", "bench", "--password-stdin", "--email", "bench@example.com", "--name", "Bench User"]);
    run_with_stdin(c, &format!("{PASSWORD}\n"))?;

    let mut child = oidc(&bin, &db)
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the server")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let server = Server(child);
    let pid = server.0.id();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().ok_or_else(|| anyhow!("the server exited before listening"))??;
        if let Some(a) = line.strip_prefix("Listening on http://") {
            break a.to_owned();
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib(pid, "VmRSS:");
    let base = format!("http://{addr}/realms/main/protocol/openid-connect");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut rows = Vec::new();
    for &c in &levels {
        let row = rt.block_on(level(&base, c, Duration::from_secs(seconds)))?;
        rows.push((c, row));
    }
    let peak = rss_kib(pid, "VmHWM:");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "full code flows (authorize -> token with RS256 id_token -> userinfo), SQLite file, {seconds} s per level"
    );
    println!("{:>11} {:>10} {:>9} {:>9} {:>7}", "concurrency", "flows/s", "p50 ms", "p99 ms", "errors");
    for (c, r) in &rows {
        println!("{c:>11} {:>10.0} {:>9.2} {:>9.2} {:>7}", r.rate, r.p50, r.p99, r.errors);
    }
    let mib = |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!("server memory: idle {} MiB, peak {} MiB", mib(idle), mib(peak));
    if rows.iter().any(|(_, r)| r.errors > 0) {
        bail!("some flows failed");
    }
    Ok(())
}

struct Row {
    rate: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

async fn level(base: &str, concurrency: usize, duration: Duration) -> anyhow::Result<Row> {
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        clients.push(login(base).await?);
    }
    // Warm-up, then the measured window.
    let warm = Instant::now() + Duration::from_millis(500);
    let start = warm;
    let end = warm + duration;
    let mut tasks = Vec::new();
    for http in clients {
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            loop {
                let t = Instant::now();
                if t >= end || n > 10_000_000 {
                    break;
                }
                n += 1;
                let ok = flow(&http, &base).await;
                if t >= start {
                    match ok {
                        Ok(()) => lat.push(t.elapsed()),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("flow failed: {e:#}");
                            }
                            errors += 1;
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Row { rate: all.len() as f64 / duration.as_secs_f64(), p50: pct(0.50), p99: pct(0.99), errors })
}

fn auth_url(base: &str) -> String {
    format!(
        "{base}/auth?client_id=bench&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid%20email%20profile&state=s&nonce=n"
    )
}

fn attr(html: &str, name: &str) -> anyhow::Result<String> {
    let at = html.find(&format!("name=\"{name}\"")).ok_or_else(|| anyhow!("no input {name}"))?;
    let tag = &html[at..at + html[at..].find('>').unwrap_or(0)];
    let v = tag.find("value=\"").ok_or_else(|| anyhow!("no value for {name}"))? + 7;
    let end = tag[v..].find('"').ok_or_else(|| anyhow!("unterminated value"))?;
    Ok(tag[v..v + end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#x2f;", "/"))
}

/// A browser with a session: logs in once through the login form.
async fn login(base: &str) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
    let page = http.get(auth_url(base)).send().await?.text().await?;
    let action = base.replace("protocol/openid-connect", "login-actions/authenticate");
    let r = http
        .post(action)
        .form(&[
            ("csrf_token", attr(&page, "csrf_token")?.as_str()),
            ("authz", attr(&page, "authz")?.as_str()),
            ("username", "bench"),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("login failed: {}", r.status());
    }
    Ok(http)
}

async fn flow(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let r = http.get(auth_url(base)).send().await?;
    if r.status() != 302 {
        bail!("authorize answered {}", r.status());
    }
    let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
    let code = loc
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .ok_or_else(|| anyhow!("no code in {loc}"))?
        .to_owned();
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("bench", Some(SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
        .send()
        .await?;
    if r.status() != 200 {
        bail!("token answered {}: {}", r.status(), r.text().await.unwrap_or_default());
    }
    let body: serde_json::Value = r.json().await?;
    let at = body["access_token"].as_str().ok_or_else(|| anyhow!("no access_token"))?;
    if body["id_token"].as_str().is_none() {
        bail!("no id_token");
    }
    let r = http.get(format!("{base}/userinfo")).bearer_auth(at).send().await?;
    if r.status() != 200 {
        bail!("userinfo answered {}", r.status());
    }
    let _ = r.bytes().await?;
    Ok(())
}
