//! `cargo xtask bench --peers`: the side-by-side harness of `../shared/peers`
//! (see its README) with node-oidc-provider and this provider on SQLite and on
//! PostgreSQL, then the ratios issue 12 sets its targets in.
//!
//! The harness does the measuring (its load driver, its quiet-machine waits,
//! its report); this task builds the release binary, runs
//! `run-all.sh providers/node.toml providers/rust-op.toml providers/rust-op-pg.toml`
//! with `PROJECT` set to this checkout, and reads the results file it wrote.
//! `OIDC_PEERS_DIR` names the harness when it is not at `../shared/peers`;
//! `ROUNDS`, `DURATION`, `CONNS`, `SCENARIOS`, ... pass through to it.
//!
//! `cargo xtask bench --cores` runs the same harness on this provider alone
//! (SQLite), pinned by `taskset` to one core and then to both, and prints
//! issue 12's scaling ratio (two cores ÷ one, target 1.7×). `SCENARIOS`
//! defaults to `flow` there, and `REF` to 0 (no reference measurements).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

/// The providers compared, as the harness names them in its results.
const NODE: &str = "node-oidc-provider";
const RUST_SQLITE: &str = "rust-op";
const RUST_PG: &str = "rust-op-pg";
const RUST_PG_2X: &str = "rust-op-pg-2x";
/// This provider on SQLite, its server pinned to one core and to both (`bench --cores`).
const ONE_CORE: &str = "rust-op-1-core";
const TWO_CORES: &str = "rust-op-2-cores";

/// Runs the harness and prints its report and the ratios.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    ensure!(args.is_empty(), "bench --peers takes no further arguments (the harness reads ROUNDS, DURATION, ...)");
    let (root, peers) = prepare()?;
    let mut providers = vec![PathBuf::from("providers/node.toml")];
    providers.extend(provider_files(&peers, &root.join("target/peers-bench"), &root.join("target/release/oidc"))?);
    let text = run_harness(&root, &peers, &providers, &[])?;
    print!("{}", ratios(&text));
    Ok(())
}

/// Runs the harness on this provider pinned to one core and to both, and prints the scaling ratio.
pub(crate) fn cores(args: &[String]) -> anyhow::Result<()> {
    ensure!(args.is_empty(), "bench --cores takes no further arguments (the harness reads ROUNDS, DURATION, ...)");
    let (root, peers) = prepare()?;
    let providers = pinned_provider_files(&peers, &root.join("target/peers-bench"), &root.join("target/release/oidc"))?;
    let text = run_harness(&root, &peers, &providers, &[("SCENARIOS", "flow"), ("REF", "0")])?;
    print!("{}", core_ratios(&text));
    Ok(())
}

/// The harness's directory, once it is set up, and a fresh release build; returns (this checkout, the harness).
fn prepare() -> anyhow::Result<(PathBuf, PathBuf)> {
    let root = crate::root();
    let peers = std::env::var_os("OIDC_PEERS_DIR")
        .map_or_else(|| root.join("../shared/peers"), PathBuf::from)
        .canonicalize()
        .context("no peers harness at ../shared/peers (set OIDC_PEERS_DIR)")?;
    ensure!(
        peers.join("work/target/release/loadgen").exists(),
        "the harness is not set up: run {}/setup.sh first",
        peers.display()
    );
    println!("==> cargo build --release -p oidc-cli");
    let status = crate::cargo().args(["build", "--release", "-p", "oidc-cli"]).status().context("cannot run cargo")?;
    ensure!(status.success(), "the release build failed ({status})");
    Ok((root, peers))
}

/// `run-all.sh` over `providers` (paths, or relative to the harness), with
/// `defaults` for the harness's variables that the environment does not set.
/// Returns the results file it wrote.
fn run_harness(root: &Path, peers: &Path, providers: &[PathBuf], defaults: &[(&str, &str)]) -> anyhow::Result<String> {
    let before = newest_results(peers)?;
    println!("==> {}/run-all.sh (this takes a while; see its README)", peers.display());
    let mut command = std::process::Command::new(peers.join("run-all.sh"));
    command.args(providers).current_dir(peers).env("PROJECT", root);
    for (name, value) in defaults.iter().filter(|(name, _)| std::env::var_os(name).is_none()) {
        command.env(name, value);
    }
    let status = command.status().context("cannot run run-all.sh")?;
    ensure!(status.success(), "run-all.sh failed ({status})");
    let results = newest_results(peers)?.filter(|r| Some(r) != before.as_ref());
    let Some(results) = results else { bail!("run-all.sh wrote no results file") };
    let text = std::fs::read_to_string(&results).with_context(|| format!("cannot read {}", results.display()))?;
    println!("\nResults: {}\n", results.display());
    Ok(text)
}

/// What the server's configuration gets for the benchmark; see [`provider_files`].
const BENCH_CONFIG: &str =
    "\n[brute_force]\nmax_failures_per_user = 1000\n\n[server]\nmax_connections_per_address = 1024\n";

/// The harness's provider files for this provider on SQLite and PostgreSQL,
/// written to `dir` with one change: the binary runs through a wrapper that
/// raises two limits of the server it starts, which the harness's load from
/// one address and one user would otherwise meet. The harness logs its
/// virtual users in as one user, 8 at a time; the brute-force guard counts
/// every attempt on a username before checking its password (so that
/// concurrent guesses never get more than the limit checked), so 8 logins at
/// once get 429 past the default limit of 5. And its driver opens more than
/// 64 connections from 127.0.0.1 (64 virtual users, plus the connections of
/// their logins and of the previous cell while they close), past the default
/// per-address connection cap, which closes the extra ones at once. No
/// password is checked during the measured flows, and the cap is a defence
/// against one address holding many connections, so neither changes what is
/// measured.
fn provider_files(peers: &Path, dir: &Path, bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let wrapper = write_wrapper(dir, "oidc", bin, None)?;
    let mut files = Vec::new();
    for name in ["rust-op.toml", "rust-op-pg.toml"] {
        let text = harness_provider(peers, name)?;
        let file = dir.join(name);
        std::fs::write(&file, with_wrapper(&text, &wrapper))?;
        files.push(file);
        if name == "rust-op-pg.toml" {
            files.push(two_instances(dir, &text, &wrapper)?);
        }
    }
    Ok(files)
}

/// The wrapper `dir/name` that runs `bin` with [`BENCH_CONFIG`] added to the
/// configuration of `serve`, under `taskset -c CPUS` when `cpus` is given
/// (the server starts one thread per CPU it may run on).
fn write_wrapper(dir: &Path, name: &str, bin: &Path, cpus: Option<&str>) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let wrapper = dir.join(name);
    let pin = cpus.map(|c| format!("taskset -c {c} ")).unwrap_or_default();
    let script = format!(
        "#!/bin/sh\n# Written by cargo xtask bench: see xtask/src/peers.rs.\n\
         if [ \"$1\" = serve ] && [ -n \"$OIDC_CONFIG\" ]; then printf '{}' >> \"$OIDC_CONFIG\"; fi\n\
         exec {pin}'{}' \"$@\"\n",
        BENCH_CONFIG.replace('\n', "\\n"),
        bin.display()
    );
    std::fs::write(&wrapper, script)?;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    Ok(wrapper)
}

/// The text of the harness's provider file `name`, which must start this provider through `rust-op/start.sh`.
fn harness_provider(peers: &Path, name: &str) -> anyhow::Result<String> {
    let original = peers.join("providers").join(name);
    let text = std::fs::read_to_string(&original).with_context(|| format!("cannot read {}", original.display()))?;
    let start = "rust-op/start.sh";
    ensure!(text.contains(start), "{} does not start {start}", original.display());
    Ok(text)
}

/// Issue 12's scaling measurement: the SQLite provider file twice, as
/// [`ONE_CORE`] with the server pinned to CPU 0 (the load driver keeps the
/// other) and as [`TWO_CORES`] pinned to CPUs 0 and 1.
fn pinned_provider_files(peers: &Path, dir: &Path, bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let text = harness_provider(peers, "rust-op.toml")?;
    let mut files = Vec::new();
    for (name, cpus) in [(ONE_CORE, "0"), (TWO_CORES, "0,1")] {
        let wrapper = write_wrapper(dir, &format!("oidc-{name}"), bin, Some(cpus))?;
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, renamed(&with_wrapper(&text, &wrapper), name, &format!("server pinned to CPU {cpus}")))?;
        files.push(file);
    }
    Ok(files)
}

/// `provider` named `name`, its notes extended by `note`.
fn renamed(provider: &str, name: &str, note: &str) -> String {
    let mut out = String::new();
    for line in provider.lines() {
        match line {
            l if l.starts_with("name = ") => out.push_str(&format!("name = \"{name}\"")),
            l if l.starts_with("notes = \"") && l.ends_with('"') => {
                out.push_str(&format!("{}; {note}\"", &l[..l.len() - 1]));
            }
            l => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

/// Issue 12's scale-out measurement: the PostgreSQL provider file run as two
/// server processes on one database behind nginx (installed by the harness's
/// setup) as a plain round-robin HTTP proxy on the provider's address, so that
/// consecutive requests of one flow land on different instances.
fn two_instances(dir: &Path, pg_provider: &str, wrapper: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let work = dir.join("2x");
    let nginx = format!(
        "worker_processes 1;\ndaemon off;\npid {w}/nginx.pid;\nevents {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  upstream op {{ server 127.0.0.1:18041; server 127.0.0.1:18042; keepalive 128; }}\n\
         server {{\n    listen 127.0.0.1:18040;\n    location / {{ proxy_pass http://op; proxy_http_version 1.1; \
         proxy_set_header Connection \"\"; proxy_set_header Host $host; }}\n  }}\n}}\n",
        w = work.display()
    );
    let script = format!(
        r#"#!/usr/bin/env bash
# Written by cargo xtask bench --peers (xtask/src/peers.rs): two instances of the
# provider on one PostgreSQL database behind nginx's round robin on :18040.
set -euo pipefail
W='{work}'
BIN='{bin}'
rm -rf "$W"; mkdir -p "$W/logs"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS peers_rust_op_2x" -c "CREATE DATABASE peers_rust_op_2x" >/dev/null
for i in 1 2; do
  cat >"$W/oidc-$i.toml" <<TOML
database_url = "postgres://postgres@127.0.0.1:5432/peers_rust_op_2x"
realm = "main"
listen = "127.0.0.1:1804$i"
base_url = "http://127.0.0.1:18040"
log_requests = false

[session_management]
unauthenticated_key = "peers-two-instances-shared-key"
TOML
done
export OIDC_CONFIG="$W/oidc-1.toml"
"$BIN" migrate >/dev/null
"$BIN" realm create main >/dev/null
printf '%s
' bench-password-1 | "$BIN" user create bench --email bench@example.test --name Bench --password-stdin >/dev/null
printf '%s
' bench-secret-0123456789 | "$BIN" client create --client-id bench-client --secret-stdin   --name Bench --redirect-uri http://127.0.0.1:18999/cb --require-consent false   --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials >/dev/null
OIDC_CONFIG="$W/oidc-1.toml" "$BIN" serve --quiet &
OIDC_CONFIG="$W/oidc-2.toml" "$BIN" serve --quiet &
printf '{nginx}' >"$W/nginx.conf"
exec nginx -p "$W/" -e "$W/logs/error.log" -c "$W/nginx.conf"
"#,
        work = work.display(),
        bin = wrapper.display(),
        nginx = nginx.replace('%', "%%"),
    );
    let start = dir.join("start-2x.sh");
    std::fs::write(&start, script)?;
    std::fs::set_permissions(&start, std::fs::Permissions::from_mode(0o755))?;
    let mut provider = String::new();
    for line in pg_provider.lines() {
        let line = if line.starts_with("name = ") {
            format!("name = \"{RUST_PG_2X}\"")
        } else if line.starts_with("notes = ") {
            "notes = \"two instances (release build) on one PostgreSQL database behind nginx's round robin; \
             the server columns show nginx, not the instances\""
                .to_owned()
        } else if line.starts_with("start = ") {
            format!("start = \"exec {}\"", start.display())
        } else {
            line.to_owned()
        };
        provider.push_str(&line);
        provider.push('\n');
    }
    let file = dir.join("rust-op-pg-2x.toml");
    std::fs::write(&file, provider)?;
    Ok(file)
}

/// `provider` (a provider file of the harness) with its start command running `wrapper` as the binary.
fn with_wrapper(provider: &str, wrapper: &Path) -> String {
    provider.replace("rust-op/start.sh", &format!("OIDC_BIN={} rust-op/start.sh", wrapper.display()))
}

/// The newest `work/results/run-*.jsonl`, if any.
fn newest_results(peers: &Path) -> anyhow::Result<Option<PathBuf>> {
    let dir = peers.join("work/results");
    if !dir.exists() {
        return Ok(None);
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    // The names carry a UTC timestamp, so they sort by time.
    runs.sort();
    Ok(runs.pop())
}

/// One measurement of one provider: ops/s, p99 ms and peak RSS per round.
#[derive(Default, Debug)]
struct Cell {
    rate: Vec<f64>,
    p99_ms: Vec<f64>,
    rss_kib: Vec<f64>,
    cpu: Vec<f64>,
}

/// Measurements by (scenario, connections, provider).
type Cells = BTreeMap<(String, u64, String), Cell>;

/// The measurements in the records of a results file (JSON lines), and the
/// idle RSS samples by provider; skipped cells are left out.
fn read_cells(records: &[Value]) -> (Cells, BTreeMap<String, Vec<f64>>) {
    let mut cells = Cells::new();
    let mut idle: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in records {
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let num = |k: &str| r.get(k).and_then(Value::as_f64);
        match r.get("kind").and_then(Value::as_str) {
            Some("scenario") if r.get("skipped").is_none() => {
                let conns = r.get("conns").and_then(Value::as_u64).unwrap_or(0);
                let cell = cells.entry((text("scenario"), conns, text("provider"))).or_default();
                cell.rate.extend(num("rate"));
                cell.p99_ms.extend(num("p99_ms"));
                cell.rss_kib.extend(num("server_rss_peak_kb"));
                cell.cpu.extend(num("server_cpu_cores"));
            }
            Some("idle") => idle.entry(text("provider")).or_default().extend(num("rss_kb")),
            _ => {}
        }
    }
    (cells, idle)
}

/// The mean of `xs`, if it has any.
fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() { None } else { Some(xs.iter().sum::<f64>() / xs.len() as f64) }
}

/// `x` with two decimals and `unit`, or `-` when it was not measured.
fn fmt(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}{unit}"))
}

/// Issue 12's scaling table from a results file of `bench --cores`: each
/// scenario and concurrency on one core and on two (means over rounds), two
/// ÷ one, and the target (at least 1.7× at every concurrency of the flow).
pub(crate) fn core_ratios(jsonl: &str) -> String {
    let records: Vec<Value> = jsonl.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let (cells, _) = read_cells(&records);
    let stat = |sc: &str, c: u64, p: &str, f: fn(&Cell) -> &Vec<f64>| {
        cells.get(&(sc.to_owned(), c, p.to_owned())).and_then(|x| mean(f(x)))
    };
    let mut out = String::from(
        "| measurement | conns | one core ops/s | server CPU | two cores ops/s | server CPU | two ÷ one |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut flow_ratios = Vec::new();
    let keys: std::collections::BTreeSet<(String, u64)> =
        cells.keys().filter(|(_, _, p)| p == ONE_CORE || p == TWO_CORES).map(|(sc, c, _)| (sc.clone(), *c)).collect();
    for (sc, c) in &keys {
        let (one, two) = (stat(sc, *c, ONE_CORE, |x| &x.rate), stat(sc, *c, TWO_CORES, |x| &x.rate));
        let ratio = one.zip(two).map(|(one, two)| two / one);
        if sc == "flow" {
            flow_ratios.push(ratio);
        }
        out.push_str(&format!(
            "| {sc} | {c} | {} | {} | {} | {} | {} |\n",
            fmt(one, ""),
            fmt(stat(sc, *c, ONE_CORE, |x| &x.cpu), ""),
            fmt(two, ""),
            fmt(stat(sc, *c, TWO_CORES, |x| &x.cpu), ""),
            fmt(ratio, "x"),
        ));
    }
    let verdict = match flow_ratios.iter().copied().collect::<Option<Vec<f64>>>() {
        Some(rs) if !rs.is_empty() => {
            if rs.iter().all(|r| *r >= 1.7) {
                "met"
            } else {
                "NOT met"
            }
        }
        _ => "not measured",
    };
    out.push_str(&format!("\nTarget (issue 12):\n- flow on 2 cores >= 1.7x 1 core at every concurrency: {verdict}\n"));
    out
}

/// The ratios table of issue 12 from a results file of the harness (JSON lines).
pub(crate) fn ratios(jsonl: &str) -> String {
    let records: Vec<Value> = jsonl.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let (cells, idle) = read_cells(&records);
    let get = |sc: &str, c: u64, p: &str| cells.get(&(sc.to_owned(), c, p.to_owned()));
    let rate = |sc: &str, c: u64, p: &str| get(sc, c, p).and_then(|x| mean(&x.rate));
    let ratio = |sc: &str, c: u64, p: &str| Some(rate(sc, c, p)? / rate(sc, c, NODE)?);
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    };

    let mut out = String::new();
    out.push_str(
        "| measurement | conns | node ops/s | rust-op (SQLite) ops/s | ratio | rust-op (PostgreSQL) ops/s | ratio |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let conns: std::collections::BTreeSet<u64> = cells.keys().map(|(_, c, _)| *c).collect();
    for sc in ["discovery", "jwks", "token", "flow"] {
        for &c in &conns {
            if get(sc, c, NODE).is_none() && get(sc, c, RUST_SQLITE).is_none() {
                continue;
            }
            out.push_str(&format!(
                "| {sc} | {c} | {} | {} | {} | {} | {} |\n",
                fmt(rate(sc, c, NODE), ""),
                fmt(rate(sc, c, RUST_SQLITE), ""),
                fmt(ratio(sc, c, RUST_SQLITE), "x"),
                fmt(rate(sc, c, RUST_PG), ""),
                fmt(ratio(sc, c, RUST_PG), "x"),
            ));
        }
    }
    let mib = |kib: Option<f64>| fmt(kib.map(|k| k / 1024.0), " MiB");
    let peak = |p: &str| {
        cells
            .iter()
            .filter(|((sc, _, pr), _)| sc == "flow" && pr == p)
            .flat_map(|(_, x)| x.rss_kib.clone())
            .reduce(f64::max)
    };
    out.push_str(&format!(
        "\nMemory: idle RSS node {}, rust-op {}; peak RSS under the flow load node {}, rust-op {}, rust-op-pg {}\n",
        mib(idle.get(NODE).and_then(|v| mean(v))),
        mib(idle.get(RUST_SQLITE).and_then(|v| mean(v))),
        mib(peak(NODE)),
        mib(peak(RUST_SQLITE)),
        mib(peak(RUST_PG)),
    ));

    // Issue 12's targets, one line each.
    let all_at_least = |sc: &str, p: &str, k: f64| {
        let rs: Vec<Option<f64>> =
            conns.iter().filter(|c| get(sc, **c, p).is_some()).map(|c| ratio(sc, *c, p)).collect();
        if rs.is_empty() || rs.iter().any(Option::is_none) { None } else { Some(rs.iter().flatten().all(|r| *r >= k)) }
    };
    let (lo, hi) = (conns.first().copied().unwrap_or(16), conns.last().copied().unwrap_or(64));
    let no_collapse = (|| Some(rate("flow", hi, RUST_SQLITE)? >= rate("flow", lo, RUST_SQLITE)?))();
    let p99 = |p: &str| get("flow", hi, p).and_then(|x| mean(&x.p99_ms));
    let p99_below = (|| Some(p99(RUST_SQLITE)? < p99(NODE)?))();
    let cpu = get("flow", hi, RUST_SQLITE).and_then(|x| mean(&x.cpu));
    out.push_str("\nTargets (issue 12):\n");
    out.push_str(&format!(
        "- flow on SQLite >= 3x node at every concurrency: {}\n",
        verdict(all_at_least("flow", RUST_SQLITE, 3.0))
    ));
    out.push_str(&format!("- flow at {hi} connections >= at {lo} (no collapse): {}\n", verdict(no_collapse)));
    out.push_str(&format!(
        "- flow p99 at {hi} connections below node's ({} vs {}): {}\n",
        fmt(p99(RUST_SQLITE), " ms"),
        fmt(p99(NODE), " ms"),
        verdict(p99_below)
    ));
    out.push_str(&format!("- flow on PostgreSQL >= 2x node: {}\n", verdict(all_at_least("flow", RUST_PG, 2.0))));
    out.push_str(&format!(
        "- client_credentials token >= 3x node: {}\n",
        verdict(all_at_least("token", RUST_SQLITE, 3.0))
    ));
    out.push_str(&format!(
        "- server CPU during the flow at {hi} connections >= 1.8 cores ({}): {}\n",
        fmt(cpu, ""),
        verdict(cpu.map(|c| c >= 1.8))
    ));
    out.push_str(&format!(
        "- peak RSS under the flow load <= 64 MiB ({}): {}\n",
        mib(peak(RUST_SQLITE)),
        verdict(peak(RUST_SQLITE).map(|k| k <= 64.0 * 1024.0))
    ));
    out.push_str(&format!(
        "- idle RSS <= 16 MiB: {}\n",
        verdict(idle.get(RUST_SQLITE).and_then(|v| mean(v)).map(|k| k <= 16.0 * 1024.0))
    ));
    // Scale-out: two instances on one PostgreSQL database behind a round robin.
    let two: Vec<String> = cells
        .iter()
        .filter(|((_, _, p), _)| p == RUST_PG_2X)
        .map(|((sc, c, _), x)| format!("{sc} c={c} {} ops/s", fmt(mean(&x.rate), "")))
        .collect();
    if !two.is_empty() {
        let errors = records
            .iter()
            .filter(|r| r.get("provider").and_then(Value::as_str) == Some(RUST_PG_2X))
            .filter_map(|r| r.get("errors").and_then(Value::as_u64))
            .sum::<u64>();
        out.push_str(&format!(
            "- two instances on one PostgreSQL behind a round robin, no errors ({}; {errors} errors): {}\n",
            two.join(", "),
            verdict(Some(errors == 0))
        ));
    }
    out
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
