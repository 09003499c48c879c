//! `cargo xtask`: the project's development tasks.
//!
//! - `cargo xtask ci`: format check, clippy with warnings denied, every test, cargo-deny.
//! - `cargo xtask bench [--seconds N] [--concurrency 1,8,32]`: full code flows per second
//!   against the release binary on a fresh SQLite file.

mod bench;
mod ci;
#[cfg(test)]
mod tidy;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask ci | bench [--seconds N] [--concurrency 1,8,32]");
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
