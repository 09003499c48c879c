//! Tests of the ratios table read from the harness's results.

use super::{core_ratios, ratios, renamed, with_wrapper};

/// Two rounds of node and rust-op, one of rust-op-pg, as the harness writes them.
const RESULTS: &str = r#"{"kind":"meta","key":"machine","value":"2 cores"}
{"kind":"idle","provider":"node-oidc-provider","round":1,"rss_kb":87040}
{"kind":"idle","provider":"rust-op","round":1,"rss_kb":15360}
{"kind":"scenario","provider":"node-oidc-provider","scenario":"flow","conns":16,"round":1,"rate":500.0,"p99_ms":80.0,"server_rss_peak_kb":190000,"server_cpu_cores":1.0}
{"kind":"scenario","provider":"node-oidc-provider","scenario":"flow","conns":16,"round":2,"rate":520.0,"p99_ms":82.0,"server_rss_peak_kb":195000,"server_cpu_cores":1.0}
{"kind":"scenario","provider":"node-oidc-provider","scenario":"flow","conns":64,"round":1,"rate":600.0,"p99_ms":140.0,"server_rss_peak_kb":197000,"server_cpu_cores":1.0}
{"kind":"scenario","provider":"rust-op","scenario":"flow","conns":16,"round":1,"rate":1530.0,"p99_ms":30.0,"server_rss_peak_kb":60000,"server_cpu_cores":1.9}
{"kind":"scenario","provider":"rust-op","scenario":"flow","conns":16,"round":2,"rate":1530.0,"p99_ms":30.0,"server_rss_peak_kb":61000,"server_cpu_cores":1.9}
{"kind":"scenario","provider":"rust-op","scenario":"flow","conns":64,"round":1,"rate":1500.0,"p99_ms":150.0,"server_rss_peak_kb":62000,"server_cpu_cores":1.85}
{"kind":"scenario","provider":"rust-op-pg","scenario":"flow","conns":16,"round":1,"rate":900.0,"p99_ms":40.0,"server_rss_peak_kb":50000}
{"kind":"scenario","provider":"rust-op","scenario":"token","conns":16,"skipped":"port busy"}
"#;

#[test]
fn ratios_compare_each_provider_with_node_and_judge_the_targets() {
    let table = ratios(RESULTS);
    // Means over rounds: node 510/s at 16, rust-op 1530/s: 3.00x.
    assert!(table.contains("| flow | 16 | 510.00 | 1530.00 | 3.00x | 900.00 | 1.76x |"), "{table}");
    assert!(table.contains("| flow | 64 | 600.00 | 1500.00 | 2.50x | - | - |"), "{table}");
    assert!(table.contains("- flow on SQLite >= 3x node at every concurrency: NOT met"), "{table}");
    assert!(table.contains("- flow at 64 connections >= at 16 (no collapse): NOT met"), "{table}");
    assert!(table.contains("(150.00 ms vs 140.00 ms): NOT met"), "{table}");
    assert!(table.contains("- flow on PostgreSQL >= 2x node: NOT met"), "{table}");
    assert!(table.contains("- client_credentials token >= 3x node: not measured"), "{table}");
    assert!(table.contains("- server CPU during the flow at 64 connections >= 1.8 cores (1.85): met"), "{table}");
    assert!(table.contains("- idle RSS <= 16 MiB: met"), "{table}");
    assert!(table.contains("peak RSS under the flow load <= 64 MiB (60.55 MiB): met"), "{table}");
}

#[test]
fn ratios_of_an_empty_file_say_nothing_was_measured() {
    let table = ratios("");
    assert!(table.contains("- flow on SQLite >= 3x node at every concurrency: not measured"), "{table}");
    assert!(!table.contains("| flow |"), "{table}");
}

#[test]
fn provider_files_start_the_binary_through_the_wrapper() {
    let provider = "name = \"rust-op-pg\"\n[server]\nstart = \"RUST_OP_PG=1 rust-op/start.sh\"\n";
    let changed = with_wrapper(provider, std::path::Path::new("/w/oidc"));
    assert_eq!(
        changed,
        "name = \"rust-op-pg\"\n[server]\nstart = \"RUST_OP_PG=1 OIDC_BIN=/w/oidc rust-op/start.sh\"\n"
    );
}

/// Two rounds on one core and on two, as `bench --cores` has the harness write them.
const PINNED: &str = r#"{"kind":"scenario","provider":"rust-op-1-core","scenario":"flow","conns":16,"round":1,"rate":900.0,"server_cpu_cores":0.99}
{"kind":"scenario","provider":"rust-op-1-core","scenario":"flow","conns":16,"round":2,"rate":1100.0,"server_cpu_cores":0.99}
{"kind":"scenario","provider":"rust-op-2-cores","scenario":"flow","conns":16,"round":1,"rate":1800.0,"server_cpu_cores":1.6}
{"kind":"scenario","provider":"rust-op-2-cores","scenario":"flow","conns":16,"round":2,"rate":1800.0,"server_cpu_cores":1.6}
{"kind":"scenario","provider":"rust-op-1-core","scenario":"flow","conns":64,"round":1,"rate":1200.0,"server_cpu_cores":0.99}
{"kind":"scenario","provider":"rust-op-2-cores","scenario":"flow","conns":64,"round":1,"rate":1980.0,"server_cpu_cores":1.62}
"#;

#[test]
fn core_ratios_divide_two_cores_by_one_and_judge_the_target() {
    let table = core_ratios(PINNED);
    // Means over rounds: 1000/s on one core, 1800/s on two: 1.80x; at 64, 1.65x.
    assert!(table.contains("| flow | 16 | 1000.00 | 0.99 | 1800.00 | 1.60 | 1.80x |"), "{table}");
    assert!(table.contains("| flow | 64 | 1200.00 | 0.99 | 1980.00 | 1.62 | 1.65x |"), "{table}");
    assert!(table.contains("- flow on 2 cores >= 1.7x 1 core at every concurrency: NOT met"), "{table}");
    let only_16: String = PINNED.lines().filter(|l| l.contains("\"conns\":16")).map(|l| format!("{l}\n")).collect();
    assert!(core_ratios(&only_16).contains("at every concurrency: met"), "{}", core_ratios(&only_16));
    assert!(core_ratios("").contains("at every concurrency: not measured"));
}

#[test]
fn pinned_provider_files_are_renamed_and_noted() {
    let provider = "name = \"rust-op\"\nnotes = \"release build\"\n[server]\nstart = \"rust-op/start.sh\"\n";
    assert_eq!(
        renamed(provider, "rust-op-1-core", "server pinned to CPU 0"),
        "name = \"rust-op-1-core\"\nnotes = \"release build; server pinned to CPU 0\"\n[server]\nstart = \"rust-op/start.sh\"\n"
    );
}
