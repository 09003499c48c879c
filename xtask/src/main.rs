//! `cargo xtask`: the project's development tasks.
//!
//! - `cargo xtask ci`: format check, clippy with warnings denied, every test (doc tests
//!   included), and cargo-deny's license, ban and source checks when it is installed.
//! - `cargo xtask bench [--seconds N] [--concurrency 1,8,32]`: full code flows per second
//!   against the release binary on a fresh SQLite file.
//! - `cargo xtask bench --peers`: the side-by-side harness of `../shared/peers` with
//!   node-oidc-provider and this provider, then issue 12's ratios table.
//! - `cargo xtask bench --cores`: the same harness on this provider pinned to one core
//!   and to both (`taskset`), then issue 12's scaling ratio.
//! - `cargo xtask fuzz [--seconds N] [TARGET]`: runs the fuzz targets of `fuzz/` (cargo-fuzz).
//! - `cargo xtask advisories --update PATH`: vendors a newer RustSec database snapshot.
//!
//! The tidy checks (`tidy.rs`) are tests: `cargo test -p xtask`.

// Development tasks print their progress and read the clock for seeds.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

mod advisories;
mod bench;
mod ci;
mod fuzz;
mod peers;
#[cfg(test)]
mod tidy;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("advisories") => advisories::update(&args[1..]),
        Some("bench") if args.get(1).is_some_and(|a| a == "--peers") => peers::run(&args[2..]),
        Some("bench") if args.get(1).is_some_and(|a| a == "--cores") => peers::cores(&args[2..]),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci [--extended] | bench [--seconds N] [--concurrency 1,8,32] | bench --peers | bench --cores \
                 | fuzz [--seconds N] [TARGET] | advisories --update PATH"
            );
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub(crate) fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| ".".into(), std::path::Path::to_path_buf)
}

/// A `cargo` command at the workspace root, in the environment a shell would give it.
///
/// `cargo run` hands xtask the variables of a build (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, ...).
/// Some build scripts watch them (`rerun-if-env-changed`), so passing them on would make every
/// nested build recompile those crates and everything above them, and the next plain build again.
pub(crate) fn cargo() -> std::process::Command {
    let mut c = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_by_cargo_run =
            ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"].iter().any(|p| key.starts_with(p))
                || matches!(key, "CARGO_PRIMARY_PACKAGE" | "OUT_DIR");
        if set_by_cargo_run {
            c.env_remove(key);
        }
    }
    c
}
