//! `cargo xtask fuzz [--seconds N] [TARGET]`: runs the fuzz targets in
//! `xtask/fuzz/` with cargo-fuzz (libFuzzer), each for N seconds (default 60),
//! starting from the committed corpus and the regression inputs in
//! `xtask/fuzz/regressions/`. Crashes are left in `xtask/fuzz/artifacts/`;
//! every crash found becomes a regression input and a unit test.
//!
//! cargo-fuzz needs nightly compiler flags; on this project's stable toolchain
//! they are enabled with `RUSTC_BOOTSTRAP=1`, for this build only. The fuzz
//! crate is its own workspace (its sanitizer flags must not reach the main
//! build) and starts from the workspace's `Cargo.lock`.

use std::process::Command;

use anyhow::{Context as _, bail};

use crate::root;

/// The fuzz targets, one per parser that sees request data.
pub(crate) const TARGETS: &[&str] = &[
    "params",
    "scope",
    "claims",
    "jose",
    "request_object",
    "registration",
    "basic_auth",
    "cookies_and_proxies",
    "uri",
    "sealed",
];

/// Builds against the versions the workspace tested: the fuzz crate starts from
/// the workspace's lock file (cargo adds only what fuzzing needs on top).
pub(crate) fn prepare() -> anyhow::Result<std::path::PathBuf> {
    let dir = root().join("xtask/fuzz");
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).context("copy Cargo.lock into xtask/fuzz")?;
    Ok(dir)
}

/// Runs the fuzz targets.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = 60u64;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds needs a number")?.parse().context("--seconds")?,
            t if TARGETS.contains(&t) => only = Some(t.to_owned()),
            other => bail!("unknown fuzz argument '{other}'; targets: {}", TARGETS.join(", ")),
        }
    }
    let has_fuzz = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_fuzz {
        bail!("cargo-fuzz is not installed (`cargo install --locked cargo-fuzz`); the fuzzers did NOT run");
    }
    let dir = prepare()?;
    for target in TARGETS.iter().filter(|t| only.as_deref().is_none_or(|o| o == **t)) {
        println!("==> fuzz {target} for {seconds} s");
        let corpus = dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).with_context(|| format!("create {}", corpus.display()))?;
        let regressions = dir.join("regressions").join(target);
        let mut c = Command::new("cargo");
        c.current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("CARGO_TARGET_DIR")
            .args(["fuzz", "run", "--fuzz-dir", ".", target])
            .arg(&corpus);
        if regressions.is_dir() {
            c.arg(&regressions);
        }
        c.args(["--", &format!("-max_total_time={seconds}"), "-max_len=8192", "-timeout=10", "-rss_limit_mb=1024"]);
        let status = c.status().context("cannot run cargo fuzz")?;
        if !status.success() {
            bail!("fuzz target '{target}' failed ({status}); the crashing input is in xtask/fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}
