//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure.
//!
//! 1. `cargo fmt --all -- --check`
//! 2. `cargo clippy --workspace --all-targets -- -D warnings`
//! 3. the relying-party libraries the tests run unmodified: keycloak-js and
//!    openid-client from npm into `target/npm`, python-keycloak from PyPI into
//!    `target/py`; then the tests: `cargo nextest run --workspace` plus `cargo test --workspace --doc`
//!    (nextest does not run doc tests), or `cargo test --workspace` without nextest;
//!    then oidc-core on its own (clippy and its JOSE tests), where RSA signs
//!    on ring instead of the aws-lc-rs the workspace build turns on
//! 4. `cargo deny --offline check licenses bans sources`, and `check advisories`
//!    against the best RustSec database at hand ([`crate::advisories`]); when
//!    cargo-deny is missing, CI says so loudly
//! 5. the fuzz targets compile (`cargo check`); with `--extended` every fuzz
//!    target runs for a bounded time ([`crate::fuzz`])

use std::process::Stdio;

use anyhow::{Context as _, bail};

use crate::cargo;

/// Runs the CI steps; `--extended` adds the fuzzers.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let extended = args.iter().any(|a| a == "--extended");
    step("format", &["fmt", "--all", "--", "--check"])?;
    step("clippy", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    npm_packages()?;
    python_keycloak()?;
    if has_subcommand("nextest") {
        step("tests (nextest)", &["nextest", "run", "--workspace"])?;
        step("doc tests (nextest skips them)", &["test", "--workspace", "--doc"])?;
    } else {
        println!("==> cargo-nextest is not installed: running the tests with cargo test");
        step("tests", &["test", "--workspace"])?;
    }
    // The workspace build turns on oidc-core's `aws-lc` feature (the server
    // binary asks for it); an embedder of oidc-core alone signs RSA with ring.
    step("oidc-core alone, RSA on ring: clippy", &["clippy", "-p", "oidc-core", "--lib", "--", "-D", "warnings"])?;
    step("oidc-core alone, RSA on ring: JOSE tests", &["test", "-p", "oidc-core", "--lib", "jose"])?;
    // The fuzz targets are their own workspace; check that they still compile
    // against today's APIs (they run only with --extended or `cargo xtask fuzz`).
    crate::fuzz::prepare()?;
    step(
        "fuzz targets compile",
        &["check", "--manifest-path", "xtask/fuzz/Cargo.toml", "--bins", "--target-dir", "target/fuzz-check"],
    )?;
    if has_subcommand("deny") {
        // cargo-deny reads the metadata of every platform's dependencies, which a
        // build on this platform never downloaded.
        step("fetch every platform's crates for cargo-deny", &["fetch", "--locked"])?;
        step("licenses, bans, sources", &["deny", "--offline", "check", "licenses", "bans", "sources"])?;
        crate::advisories::check()?;
    } else {
        println!(
            "==> NOT RUN: licenses, bans, sources and advisories: `cargo deny` is not installed here \
             (`cargo install --locked cargo-deny`; .ci/run installs it)"
        );
    }
    if extended {
        crate::fuzz::run(&["--seconds".to_owned(), "30".to_owned()])?;
    }
    println!("==> ci passed");
    Ok(())
}

/// The relying-party libraries the tests run unmodified: Keycloak's JavaScript
/// adapter (a browser test) and openid-client, an OpenID Certified RP (an
/// end-to-end test). Installed together: npm prunes what one command leaves out.
const NPM_PACKAGES: &[&str] = &["keycloak-js@26.2.4", "openid-client@6.9.1"];

/// Installs the npm packages into `target/npm` (once; `browser.rs` and
/// `rp_libraries.rs` read them from there).
fn npm_packages() -> anyhow::Result<()> {
    let dir = crate::root().join("target/npm");
    let installed = ["keycloak-js/lib/keycloak.js", "openid-client/package.json"]
        .iter()
        .all(|p| dir.join("node_modules").join(p).exists());
    if installed {
        return Ok(());
    }
    println!("==> relying-party libraries for the tests: npm install {} into target/npm", NPM_PACKAGES.join(" "));
    std::fs::create_dir_all(&dir).context("create target/npm")?;
    let status = std::process::Command::new("npm")
        .current_dir(&dir)
        .args(["install", "--no-save", "--no-audit", "--no-fund", "--prefix", "."])
        .args(NPM_PACKAGES)
        .status()
        .context("cannot run npm (install Node.js and npm; .ci/run does)")?;
    if !status.success() {
        bail!("npm install {} failed ({status})", NPM_PACKAGES.join(" "));
    }
    Ok(())
}

/// The version of python-keycloak an end-to-end test runs unmodified.
const PYTHON_KEYCLOAK: &str = "python-keycloak==7.1.1";

/// Makes a virtual environment in `target/py` with python-keycloak from PyPI
/// (once; `tests/tests/e2e/keycloak.rs` runs `tests/python/python_keycloak.py` with it).
fn python_keycloak() -> anyhow::Result<()> {
    let venv = crate::root().join("target/py");
    let python = venv.join("bin/python3");
    let ready =
        std::process::Command::new(&python).args(["-c", "import keycloak"]).output().is_ok_and(|o| o.status.success());
    if ready {
        return Ok(());
    }
    println!("==> python-keycloak for an end-to-end test: python3 -m venv target/py; pip install {PYTHON_KEYCLOAK}");
    let run = |c: &mut std::process::Command, what: &str| -> anyhow::Result<()> {
        let status = c.status().with_context(|| format!("cannot run {what}"))?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    };
    run(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    run(
        std::process::Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PYTHON_KEYCLOAK,
        ]),
        "pip install python-keycloak",
    )
}

/// Prints a header, runs `cargo ARGS`, and fails with the step's name if it fails.
fn step(name: &str, args: &[&str]) -> anyhow::Result<()> {
    println!("==> {name}: cargo {}", args.join(" "));
    let status = cargo().args(args).status().with_context(|| format!("step '{name}': cannot run cargo"))?;
    if !status.success() {
        bail!("step '{name}' failed ({status}): cargo {}", args.join(" "));
    }
    Ok(())
}

/// Whether `cargo NAME --version` works, i.e. the `cargo-NAME` plugin is installed.
fn has_subcommand(name: &str) -> bool {
    cargo().args([name, "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}
