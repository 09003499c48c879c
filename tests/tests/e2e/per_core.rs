//! The thread-per-core server (`[server] threads`, issue 12): several accept
//! loops, each on a thread pinned to a CPU with its own listening socket on
//! the one port and its own SQLite connections, serving one application. A
//! flow's requests land on whichever thread its connection was dealt to;
//! everything a flow needs goes through the one database, and the
//! connection caps hold for the process, not per thread.

use std::sync::Arc;

use oidc_cli::server::{self, PerCore, ServerOptions};
use oidc_core::model::{ClientType, JwtAlg};
use oidc_core::repo::Repositories;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::{Backend, CALLBACK, Env, REALM, SharedDb, authorize, browser, enc, query_param};

const PASSWORD: &str = "wonderland-42";

/// A per-core server with `threads` threads on a fresh SQLite file.
async fn per_core(threads: usize, edit: impl FnOnce(&mut ServerOptions)) -> (SharedDb, Env) {
    let db = SharedDb::new(Backend::SqliteFile).await;
    let store = db.store().await.with_shards(&db.url, threads);
    let mut opts = ServerOptions::new("127.0.0.1:0", oidc_core::config::Settings::default());
    opts.per_core = Some(PerCore { threads, store: store.clone() });
    edit(&mut opts);
    let store: Arc<dyn Repositories> = Arc::new(store);
    let server = server::spawn(opts, store.clone()).await.expect("start the server");
    (db, Env { server, store })
}

/// The name and allowed CPUs of every thread of this process (the test binary
/// runs the server in process).
fn threads() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_owned();
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        out.push((comm, cpus));
    }
    out
}

/// One CPU, as `Cpus_allowed_list` writes it ("1", not "0-1" or "0,1").
fn is_one_cpu(list: &str) -> bool {
    !list.is_empty() && list.chars().all(|c| c.is_ascii_digit())
}

/// RFC 6749 §4.1 and OIDC Core §3.1: full code flows, each over fresh
/// connections, all succeed on a two-thread server; a code is still used
/// once (RFC 6749 §4.1.2) whichever thread its second redemption reaches;
/// and the threads, and the SQLite threads their pools started, are pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flows_succeed_on_every_thread_and_codes_stay_single_use_rfc6749_4_1_2() {
    let (_db, env) = per_core(2, |_| {}).await;
    let (client_id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.require_consent = false;
        })
        .await;
    env.user("alice", PASSWORD).await;
    let auth = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20email&state=st",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let mut flows = Vec::new();
    for _ in 0..16 {
        let (auth, client_id, secret, token_url, userinfo_url) =
            (auth.clone(), client_id.clone(), secret.clone(), env.endpoint("token"), env.endpoint("userinfo"));
        flows.push(tokio::spawn(async move {
            let back = authorize(&browser(), &auth, "alice", PASSWORD).await;
            let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
            let redeem = || {
                // A new client each time: a new connection, maybe another thread.
                browser()
                    .post(&token_url)
                    .basic_auth(&client_id, secret.as_deref())
                    .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
                    .send()
            };
            let r = redeem().await.unwrap();
            assert_eq!(r.status(), 200);
            let tokens: Value = r.json().await.unwrap();
            let access = tokens["access_token"].as_str().unwrap().to_owned();
            let info = browser().get(&userinfo_url).bearer_auth(&access).send().await.unwrap();
            assert_eq!(info.status(), 200);
            let info: Value = info.json().await.unwrap();
            assert_eq!(info["email"], "alice@example.com");
            let again = redeem().await.unwrap();
            assert_eq!(again.status(), 400, "a code is redeemed once");
            let again: Value = again.json().await.unwrap();
            assert_eq!(again["error"], "invalid_grant");
        }));
    }
    for f in flows {
        f.await.expect("flow");
    }
    let threads = threads();
    for i in 0..2 {
        let name = format!("oidc-core-{i}");
        let (_, cpus) = threads.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no thread {name}"));
        assert!(is_one_cpu(cpus), "{name} is pinned to one CPU, not {cpus}");
    }
    // sqlx names its SQLite threads "sqlx-sqlite-worker-N" (15 characters kept).
    assert!(
        threads.iter().any(|(n, cpus)| n.starts_with("sqlx-sqlite") && is_one_cpu(cpus)),
        "a shard's SQLite thread inherited its shard's pin: {threads:?}"
    );
}

/// The per-address cap counts connections for the process: with a cap of 3
/// and two accept loops, 8 connections from one address get 3 answers, not
/// 3 per thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_holds_for_the_process_not_per_thread() {
    let (_db, env) = per_core(2, |o| o.limits.max_connections_per_address = 3).await;
    let path = format!("/realms/{REALM}/.well-known/openid-configuration");
    let mut conns = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(env.server.addr).await.unwrap();
        // Keep-alive requests: answered connections stay open and keep their slot.
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", env.server.addr);
        let _ = s.write_all(req.as_bytes()).await;
        conns.push(s);
    }
    let mut answered = 0;
    for s in &mut conns {
        let mut buf = vec![0u8; 256];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        if buf[..n].starts_with(b"HTTP/1.1 200") {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "three connections of one address are served, the others closed");
}

/// A client at its address's cap that closes its connections and opens new
/// ones at once (a pool being recycled) gets every new one served: the server
/// may see the new connections before it sees the old ones close, and a new
/// connection over the share waits briefly for a slot instead of being closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_replaced_at_the_per_address_cap_are_served() {
    let (_db, env) = per_core(2, |o| o.limits.max_connections_per_address = 8).await;
    let path = format!("/realms/{REALM}/.well-known/openid-configuration");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", env.server.addr);
    async fn answered(s: &mut tokio::net::TcpStream) -> bool {
        let mut buf = vec![0u8; 64];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        buf[..n].starts_with(b"HTTP/1.1 200")
    }
    let mut conns = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(env.server.addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        assert!(answered(&mut s).await, "within the cap");
        conns.push(s);
    }
    for round in 0..5 {
        drop(std::mem::take(&mut conns));
        for _ in 0..8 {
            let mut s = tokio::net::TcpStream::connect(env.server.addr).await.unwrap();
            let _ = s.write_all(req.as_bytes()).await;
            conns.push(s);
        }
        for (i, s) in conns.iter_mut().enumerate() {
            assert!(answered(s).await, "round {round}: replacement connection {i} was not served");
        }
    }
    // The cap still holds: a ninth connection, with all eight open, is closed unanswered.
    let mut extra = tokio::net::TcpStream::connect(env.server.addr).await.unwrap();
    let _ = extra.write_all(req.as_bytes()).await;
    assert!(!answered(&mut extra).await, "over the cap with no connection closing");
}

/// The server's side of the established connections to `port`, as socket
/// inodes, grouped by the epoll instance watching them: one per server
/// thread's runtime (the test's own runtime watches only client sockets).
fn connections_per_reactor(port: u16) -> Vec<usize> {
    let local = format!(":{port:04X}");
    let mut served = std::collections::HashSet::new();
    for line in std::fs::read_to_string("/proc/self/net/tcp").unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // local_address, state 01 (established), inode.
        if f.len() > 9 && f[1].ends_with(&local) && f[3] == "01" {
            served.insert(format!("socket:[{}]", f[9]));
        }
    }
    let mut reactors: Vec<std::collections::BTreeSet<String>> = Vec::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if !std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:[eventpoll]") {
            continue;
        }
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.file_name().to_string_lossy()));
        let watched: std::collections::BTreeSet<String> = info
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("tfd:")?.split_whitespace().next().map(str::to_owned))
            .filter_map(|tfd| std::fs::read_link(format!("/proc/self/fd/{tfd}")).ok())
            .map(|l| l.to_string_lossy().into_owned())
            .filter(|l| served.contains(l))
            .collect();
        if !watched.is_empty() && !reactors.contains(&watched) {
            reactors.push(watched);
        }
    }
    let mut counts: Vec<usize> = reactors.iter().map(std::collections::BTreeSet::len).collect();
    counts.sort_unstable();
    counts
}

/// The kernel spreads connections over the threads' `SO_REUSEPORT` sockets
/// by a hash of their addresses, which often split 16 connections 10 to 6;
/// the accept loops deal them out in turn instead, so each thread serves 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_dealt_evenly_over_the_threads() {
    let (_db, env) = per_core(2, |_| {}).await;
    let path = format!("/realms/{REALM}/.well-known/openid-configuration");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", env.server.addr);
    for burst in 1..=2 {
        let mut conns = Vec::new();
        for _ in 0..16 {
            conns.push(tokio::net::TcpStream::connect(env.server.addr).await.unwrap());
        }
        for s in &mut conns {
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 64];
            let n = s.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "burst {burst}: answered");
        }
        assert_eq!(connections_per_reactor(env.server.addr.port()), vec![8, 8], "burst {burst}");
        // The next burst opens while these close: still even.
        drop(conns);
    }
}
