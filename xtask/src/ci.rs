//! `cargo xtask ci`: what CI runs, in order, failing fast.

use std::process::Command;

use anyhow::{Context as _, bail};

fn step(name: &str, program: &str, args: &[&str]) -> anyhow::Result<()> {
    println!("==> {name}: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(crate::root())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("step '{name}' failed ({status})");
    }
    Ok(())
}

fn has_cargo_subcommand(name: &str) -> bool {
    Command::new("cargo").args([name, "--version"]).output().is_ok_and(|o| o.status.success())
}

/// Runs the CI steps.
pub(crate) fn run() -> anyhow::Result<()> {
    step("format", "cargo", &["fmt", "--all", "--", "--check"])?;
    step("clippy", "cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    step("tests", "cargo", &["test", "--workspace"])?;
    if has_cargo_subcommand("deny") {
        step("licenses, bans, sources", "cargo", &["deny", "--offline", "check", "licenses", "bans", "sources"])?;
    } else {
        println!("==> cargo-deny is not installed: licenses/bans/sources not checked (.ci/run installs it)");
    }
    println!("==> ci passed");
    Ok(())
}
