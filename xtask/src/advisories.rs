//! `cargo deny check advisories` without network access.
//!
//! The machines this project builds on reach package registries but not
//! GitHub, where the RustSec advisory database lives. So a snapshot of the
//! database's `crates/` directory is vendored in `xtask/advisory-db/`
//! (`SNAPSHOT` names its commit and date). The check uses, in order:
//! a clone the machine already has in `$CARGO_HOME/advisory-dbs` (fresher, when
//! someone could fetch it), else the vendored snapshot, unpacked into `target/`
//! as the git repository cargo-deny expects. It always says which database and
//! date it used; it never skips silently.
//!
//! `cargo xtask advisories --update PATH` replaces the snapshot from a clone of
//! the advisory database at PATH (where the network allows one).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::{cargo, root};

/// The directory cargo-deny derives from the default advisory database URL.
const DB_DIR: &str = "advisory-db-3157b0e258782691";

/// Runs `cargo deny --offline check advisories` against the best database at hand.
pub(crate) fn check() -> anyhow::Result<()> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    let installed = cargo_home.join("advisory-dbs").join(DB_DIR);
    let (config, description) = if installed.join(".git").exists() {
        (root().join("deny.toml"), format!("the advisory database in {}", installed.display()))
    } else {
        let snapshot = snapshot_info()?;
        let db_root = root().join("target").join("advisory-dbs");
        unpack(&db_root.join(DB_DIR), &snapshot.date)?;
        let config = root().join("target").join("deny-advisories.toml");
        let base = std::fs::read_to_string(root().join("deny.toml")).context("read deny.toml")?;
        let with_path =
            base.replacen("[advisories]", &format!("[advisories]\ndb-path = {:?}", db_root.display().to_string()), 1);
        std::fs::write(&config, with_path).context("write the advisories configuration")?;
        (config, format!("the vendored snapshot of the RustSec database ({} of {})", snapshot.commit, snapshot.date))
    };
    println!("==> advisories: checking against {description}");
    let config_arg = config.display().to_string();
    let status = cargo()
        .args(["deny", "--offline", "--config", &config_arg, "check", "advisories"])
        .status()
        .context("cannot run cargo deny")?;
    if !status.success() {
        bail!("step 'advisories' failed ({status}) against {description}");
    }
    Ok(())
}

struct Snapshot {
    commit: String,
    date: String,
}

fn snapshot_info() -> anyhow::Result<Snapshot> {
    let text = std::fs::read_to_string(root().join("xtask/advisory-db/SNAPSHOT")).context("read SNAPSHOT")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .with_context(|| format!("SNAPSHOT has no {name}"))
    };
    Ok(Snapshot { commit: field("commit ")?, date: field("date ")? })
}

/// Unpacks the vendored `crates/` into `dir` as a one-commit git repository
/// dated like the snapshot (cargo-deny reads the date of HEAD).
fn unpack(dir: &Path, date: &str) -> anyhow::Result<()> {
    if dir.join(".git").exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let archive = root().join("xtask/advisory-db/crates.tar.gz");
    run(Command::new("tar").arg("xzf").arg(&archive).arg("-C").arg(dir), "unpack the advisory snapshot")?;
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .args(["-c", "user.name=xtask", "-c", "user.email=xtask@localhost", "-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date);
        c
    };
    run(&mut git(&["init", "-q"]), "git init")?;
    run(&mut git(&["add", "-A"]), "git add")?;
    run(&mut git(&["commit", "-q", "-m", "RustSec advisory database snapshot"]), "git commit")?;
    Ok(())
}

fn run(c: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = c.status().with_context(|| format!("{what}: cannot start"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// `cargo xtask advisories --update PATH`: vendors the `crates/` of the clone at PATH.
pub(crate) fn update(args: &[String]) -> anyhow::Result<()> {
    let [flag, path] = args else { bail!("usage: cargo xtask advisories --update PATH-TO-ADVISORY-DB-CLONE") };
    if flag != "--update" {
        bail!("usage: cargo xtask advisories --update PATH-TO-ADVISORY-DB-CLONE");
    }
    let src = PathBuf::from(path);
    let out = |args: &[&str]| -> anyhow::Result<String> {
        let o = Command::new("git").current_dir(&src).args(args).output().context("run git")?;
        if !o.status.success() {
            bail!("git {} failed in {}", args.join(" "), src.display());
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = out(&["rev-parse", "HEAD"])?;
    let date = out(&["show", "-s", "--format=%cI", "HEAD"])?;
    let archive = root().join("xtask/advisory-db/crates.tar.gz");
    run(
        Command::new("tar").arg("czf").arg(&archive).arg("--sort=name").arg("-C").arg(&src).arg("crates"),
        "pack crates/",
    )?;
    std::fs::write(
        root().join("xtask/advisory-db/SNAPSHOT"),
        format!("commit {commit}\ndate {date}\nsource https://github.com/rustsec/advisory-db\n"),
    )?;
    println!("vendored the advisory database at {commit} ({date})");
    Ok(())
}
