//! Tidy checks run as tests: every Rust file opens with a `//!` doc comment,
//! and none ignores a test or leaves a stub.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_file_has_a_module_doc_and_no_stubs_or_ignored_tests() {
    let root = crate::root();
    let mut files = Vec::new();
    for d in ["crates", "migrations", "tests", "xtask"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 20, "found only {} files under {}", files.len(), root.display());
    let forbidden =
        [concat!("#[", "ignore"), concat!("todo", "!("), concat!("unimplemented", "!("), concat!("#[", "should_panic")];
    let mut problems = Vec::new();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{}: cannot read: {e}", f.display()));
                continue;
            }
        };
        if !text.starts_with("//!") {
            problems.push(format!("{}: does not start with a //! doc comment", f.display()));
        }
        for bad in forbidden {
            if text.contains(bad) {
                problems.push(format!("{}: contains {bad}", f.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The crates a crate's normal dependency graph contains, as `cargo tree` lists them.
fn dependency_names(package: &str) -> Vec<String> {
    let out = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(crate::root())
        .args(["tree", "--offline", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// ARCHITECTURE.md's invariants on dependencies, checked on the resolved graph:
/// `oidc-core` does no I/O (no tokio, hyper, SeaORM, sqlx or minijinja), so that
/// other projects can embed it alone; `oidc-store` never pulls hyper.
#[test]
fn dependency_rules_hold() {
    let forbidden_in_core = ["tokio", "hyper", "hyper-util", "sea-orm", "sqlx", "minijinja", "reqwest"];
    let core = dependency_names("oidc-core");
    assert!(core.iter().any(|d| d == "ring"), "cargo tree listed oidc-core's graph: {core:?}");
    let bad: Vec<&String> = core.iter().filter(|d| forbidden_in_core.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "oidc-core must do no I/O but depends on {bad:?}");
    let store = dependency_names("oidc-store");
    assert!(!store.iter().any(|d| d == "hyper"), "oidc-store must not depend on hyper");
}
