//! The `oidc` binary: first start, management commands, and clear errors with
//! a non-zero exit on bad input.
#![allow(clippy::unwrap_used, clippy::disallowed_macros, clippy::disallowed_methods)]

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

fn oidc(db: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oidc"));
    c.arg("--database-url").arg(format!("sqlite://{}", db.display()));
    c.env_remove("OIDC_CONFIG").env_remove("OIDC_REALM").env_remove("OIDC_DATABASE_URL");
    c
}

/// A database file in a directory of its own, removed with everything in it when the test ends.
struct TempDb {
    dir: std::path::PathBuf,
    db: std::path::PathBuf,
}

impl std::ops::Deref for TempDb {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.db
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_db(name: &str) -> TempDb {
    let dir = std::env::temp_dir().join(format!("oidc-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("db.sqlite");
    TempDb { dir, db }
}

fn run(mut c: Command, stdin: Option<&str>) -> (bool, String, String) {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Starts `oidc serve` on a free port; returns the process, its address and what it printed first.
fn serve(db: &std::path::Path) -> (std::process::Child, String, Vec<String>) {
    common::serve(oidc(db))
}

#[test]
fn first_start_creates_realm_and_key_then_serves_discovery() {
    let db = temp_db("serve");
    let (mut child, addr, seen) = serve(&db);
    assert!(seen.iter().any(|l| l == "Created realm 'main'."), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("Created RS256 signing key")), "{seen:?}");
    // A plain HTTP/1.1 GET of the discovery document.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /realms/main/.well-known/openid-configuration HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut s, &mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains(&format!("\"issuer\":\"http://{addr}/realms/main\"")), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    // The key persisted: listing it works and no second key was made.
    let (ok, out, _) = run(
        {
            let mut c = oidc(&db);
            c.args(["key", "list"]);
            c
        },
        None,
    );
    assert!(ok);
    assert_eq!(out.lines().filter(|l| l.contains("RS256")).count(), 1, "{out}");
}

#[test]
fn management_commands_and_their_errors() {
    let db = temp_db("manage");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    // No realm yet: a clear error.
    let (ok, _, err) = run(cmd(&["client", "list"]), None);
    assert!(!ok);
    assert!(err.contains("realm 'main' does not exist"), "{err}");
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    let (ok, _, err) = run(cmd(&["realm", "create", "main"]), None);
    assert!(!ok && err.contains("already exists"), "{err}");

    // Clients: generated id and secret, printed once; validation errors.
    let (ok, out, err) =
        run(cmd(&["client", "create", "--name", "Web", "--redirect-uri", "https://app.example/cb"]), None);
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
    let secret = out.lines().find_map(|l| l.strip_prefix("client_secret:")).unwrap().trim().to_owned();
    assert_eq!(id.len(), 22);
    assert_eq!(secret.len(), 43);
    let (ok, out, _) = run(cmd(&["client", "show", &id]), None);
    assert!(ok && !out.contains(&secret), "show never prints the secret");
    let (ok, _, err) = run(cmd(&["client", "create", "--name", "X", "--redirect-uri", "http://app.example/cb"]), None);
    assert!(!ok && err.contains("https"), "{err}");
    let (ok, _, err) = run(cmd(&["client", "create", "--redirect-uri", "https://a/cb"]), None);
    assert!(!ok && err.contains("--name"), "{err}");
    let (ok, _, err) = run(
        cmd(&[
            "client",
            "create",
            "--name",
            "P",
            "--type",
            "public",
            "--jwt-alg",
            "HS256",
            "--redirect-uri",
            "https://a/cb",
        ]),
        None,
    );
    assert!(!ok && err.contains("HS256"), "{err}");
    let (ok, out, _) = run(
        cmd(&["client", "create", "--name", "Native", "--type", "public", "--redirect-uri", "com.example.app:/cb"]),
        None,
    );
    assert!(ok && !out.contains("client_secret"), "a public client has no secret");
    let (ok, out, _) = run(cmd(&["client", "update", &id, "--rotate-secret"]), None);
    let new_secret = out.lines().find_map(|l| l.strip_prefix("client_secret:")).unwrap().trim().to_owned();
    assert!(ok && new_secret != secret);
    assert!(run(cmd(&["client", "delete", &id]), None).0);
    let (ok, _, err) = run(cmd(&["client", "delete", &id]), None);
    assert!(!ok && err.contains("no client"), "{err}");

    // Users: the password comes from stdin, never from arguments.
    let (ok, out, err) =
        run(cmd(&["user", "create", "alice", "--password-stdin", "--email", "alice@example.com"]), Some("s3cret-pw\n"));
    assert!(ok, "{err}");
    assert!(out.contains("Created user 'alice'"));
    let (ok, _, err) = run(cmd(&["user", "create", "alice", "--no-password"]), None);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(cmd(&["user", "set-password", "alice"]), None);
    assert!(!ok && err.contains("--password-stdin"), "no terminal: {err}");
    let (ok, _, err) = run(cmd(&["user", "create", "bob", "--password-stdin"]), Some(""));
    assert!(!ok && err.contains("empty"), "{err}");
    let (ok, out, _) = run(cmd(&["user", "list"]), None);
    assert!(ok && out.contains("alice@example.com") && !out.contains("bob"));

    // Unknown commands, bad realm names and bad configuration files fail clearly.
    assert!(!run(cmd(&["frobnicate"]), None).0);
    let (ok, _, err) = run(cmd(&["--realm", "no spaces", "user", "list"]), None);
    assert!(!ok && err.contains("invalid realm name"), "{err}");
    let conf = db.with_file_name("bad.toml");
    std::fs::write(&conf, "listen = 5\n").unwrap();
    let (ok, _, err) = run(cmd(&["--config", conf.to_str().unwrap(), "user", "list"]), None);
    assert!(!ok && err.contains("invalid configuration"), "{err}");
}

#[test]
fn key_commands_create_rotate_retire_revoke() {
    let db = temp_db("keys");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    // A client cannot use an algorithm the realm has no key for.
    let ec_client = ["client", "create", "--name", "EC", "--jwt-alg", "ES256", "--redirect-uri", "https://a/cb"];
    let (ok, _, err) = run(cmd(&ec_client), None);
    assert!(!ok && err.contains("oidc key create --alg ES256"), "{err}");
    for alg in ["ES256", "EdDSA", "PS256"] {
        let (ok, out, err) = run(cmd(&["key", "create", "--alg", alg]), None);
        assert!(ok && out.contains(&format!("Created {alg} key")), "{out}{err}");
    }
    assert!(run(cmd(&ec_client), None).0);
    let (ok, _, err) = run(cmd(&["key", "create", "--alg", "HS256"]), None);
    assert!(!ok && err.contains("client's secret"), "{err}");
    let (ok, _, err) = run(cmd(&["key", "create", "--alg", "none"]), None);
    assert!(!ok && err.contains("unsigned"), "{err}");
    let (ok, _, err) = run(cmd(&["key", "create", "--alg", "HS512"]), None);
    assert!(!ok && err.contains("unsupported signing algorithm"), "{err}");

    let list = || run(cmd(&["key", "list"]), None).1;
    let kid_of = |out: &str, alg: &str, state: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(alg) && l.split_whitespace().nth(2) == Some(state))
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
    };
    let before = list();
    let old = kid_of(&before, "RS256", "active").expect("the first RS256 key");
    let (ok, out, err) = run(cmd(&["key", "rotate", "--alg", "RS256", "--keep-published", "600"]), None);
    assert!(ok && out.contains(&format!("retired {old}")), "{out}{err}");
    let after = list();
    assert_eq!(kid_of(&after, "RS256", "retired").as_deref(), Some(old.as_str()), "{after}");
    let new = kid_of(&after, "RS256", "active").expect("a new active RS256 key");
    assert_ne!(new, old);
    let line = after.lines().find(|l| l.starts_with(&old)).unwrap();
    assert_eq!(line.split_whitespace().count(), 5, "a retired key shows until when it is published: {line}");

    let ec = kid_of(&after, "ES256", "active").unwrap();
    assert!(run(cmd(&["key", "retire", &ec]), None).0);
    assert!(run(cmd(&["key", "revoke", &ec]), None).0);
    assert_eq!(kid_of(&list(), "ES256", "revoked").as_deref(), Some(ec.as_str()));
    let (ok, _, err) = run(cmd(&["key", "retire", &ec]), None);
    assert!(!ok && err.contains("revoked"), "{err}");
    let (ok, _, err) = run(cmd(&["key", "revoke", "nope"]), None);
    assert!(!ok && err.contains("no key 'nope'"), "{err}");
    let (ok, _, err) = run(cmd(&["key", "rotate", "--keep-published=-5"]), None);
    assert!(!ok && err.contains("negative"), "{err}");
}

#[test]
fn user_attributes_and_pairwise_clients_from_the_command_line() {
    let db = temp_db("attrs");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    let (ok, _, err) =
        run(cmd(&["user", "create", "carol", "--no-password", "--attr", "department=R&D", "--attr", "level=3"]), None);
    assert!(ok, "{err}");
    let (ok, out, err) = run(cmd(&["user", "set-attr", "carol", "badge={\"id\":7}", "--remove", "level"]), None);
    assert!(ok, "{err}");
    assert!(
        out.contains(r#""badge":{"id":7}"#) && out.contains(r#""department":"R&D""#) && !out.contains("level"),
        "{out}"
    );
    let (ok, _, err) = run(cmd(&["user", "set-attr", "carol", "novalue"]), None);
    assert!(!ok && err.contains("KEY=VALUE"), "{err}");
    let (ok, _, err) = run(cmd(&["user", "set-attr", "carol", "--remove", "nope"]), None);
    assert!(!ok && err.contains("no attribute 'nope'"), "{err}");
    let (ok, _, err) = run(cmd(&["user", "set-attr", "dave", "a=b"]), None);
    assert!(!ok && err.contains("no user 'dave'"), "{err}");

    // A pairwise client needs one redirect host or a sector_identifier_uri.
    let two_hosts = [
        "client",
        "create",
        "--name",
        "P",
        "--subject-type",
        "pairwise",
        "--redirect-uri",
        "https://a.example/cb",
        "--redirect-uri",
        "https://b.example/cb",
    ];
    let (ok, _, err) = run(cmd(&two_hosts), None);
    assert!(!ok && err.contains("sector_identifier_uri"), "{err}");
    let mut with_sector = two_hosts.to_vec();
    with_sector.extend(["--sector-identifier-uri", "https://rp.example/sectors.json"]);
    let (ok, out, err) = run(cmd(&with_sector), None);
    assert!(ok && out.contains("subject_type:   pairwise"), "{out}{err}");
    let (ok, _, err) = run(
        cmd(&["client", "create", "--name", "Q", "--subject-type", "secret", "--redirect-uri", "https://a/cb"]),
        None,
    );
    assert!(!ok && err.contains("unknown subject type"), "{err}");
}

#[test]
fn initial_access_tokens_and_registration_policies_from_the_command_line() {
    let db = temp_db("registration");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    let (ok, out, err) = run(cmd(&["initial-access-token", "create", "--count", "3", "--expires-in", "600"]), None);
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("id:")).unwrap().trim().to_owned();
    let token = out.lines().find_map(|l| l.strip_prefix("token:")).unwrap().trim().to_owned();
    assert_eq!(token.len(), 43);
    let (ok, out, _) = run(cmd(&["initial-access-token", "list"]), None);
    assert!(ok && out.contains(&id) && !out.contains(&token), "the value is never listed: {out}");
    let line = out.lines().find(|l| l.starts_with(&id)).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some("3"), "remaining uses: {line}");
    let (ok, _, err) = run(cmd(&["initial-access-token", "create", "--count", "0"]), None);
    assert!(!ok && err.contains("--count"), "{err}");
    assert!(run(cmd(&["initial-access-token", "delete", &id]), None).0);
    let (ok, _, err) = run(cmd(&["initial-access-token", "delete", &id]), None);
    assert!(!ok && err.contains("no initial access token"), "{err}");

    let (ok, out, _) = run(cmd(&["registration-policy", "show"]), None);
    assert!(ok && out.contains(r#"anonymous: {"#) && out.contains(r#""trusted_hosts":[]"#), "{out}");
    let (ok, out, err) = run(
        cmd(&[
            "registration-policy",
            "set",
            "anonymous",
            "--trusted-host",
            "*.example.com",
            "--max-clients",
            "10",
            "--client-disabled",
            "true",
        ]),
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains(r#""trusted_hosts":["*.example.com"]"#) && out.contains(r#""max_clients":10"#), "{out}");
    let (_, out, _) = run(cmd(&["registration-policy", "show"]), None);
    assert!(out.contains(r#""client_disabled":true"#), "stored: {out}");
    let (ok, _, err) = run(cmd(&["registration-policy", "set", "everyone"]), None);
    assert!(!ok && err.contains("unknown policy set"), "{err}");
}

#[test]
fn role_commands() {
    let db = temp_db("roles");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    assert!(run(cmd(&["user", "create", "ops", "--no-password"]), None).0);
    let (ok, out, err) = run(cmd(&["client", "create", "--name", "Svc", "--grant-type", "client_credentials"]), None);
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
    assert!(run(cmd(&["role", "grant", "create-client", "--user", "ops"]), None).0);
    assert!(run(cmd(&["role", "grant", "manage-clients", "--client", &id]), None).0);
    let (ok, out, _) = run(cmd(&["role", "list"]), None);
    assert!(
        ok && out.contains("create-client") && out.contains("user ops") && out.contains(&format!("client {id}")),
        "{out}"
    );
    let (ok, _, err) = run(cmd(&["role", "grant", "create-client"]), None);
    assert!(!ok && err.contains("--user"), "{err}");
    let (ok, _, err) = run(cmd(&["role", "grant", "bad role", "--user", "ops"]), None);
    assert!(!ok && err.contains("letters, digits"), "{err}");
    let (ok, _, err) = run(cmd(&["role", "grant", "view-clients", "--user", "ghost"]), None);
    assert!(!ok && err.contains("no user 'ghost'"), "{err}");
    assert!(run(cmd(&["role", "revoke", "create-client", "--user", "ops"]), None).0);
    let (ok, _, err) = run(cmd(&["role", "revoke", "create-client", "--user", "ops"]), None);
    assert!(!ok && err.contains("does not have"), "{err}");
}

/// Role definitions (Keycloak Server Administration Guide, "Assigning
/// permissions using roles and groups"): create with a description, list,
/// grant only defined roles (the registration roles are built in), delete
/// with the grants and the role scope mappings ("Role scope mappings").
#[test]
fn role_definitions_create_list_grant_and_delete() {
    let db = temp_db("role-defs");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    assert!(run(cmd(&["user", "create", "alice", "--no-password"]), None).0);
    let (ok, out, err) = run(cmd(&["role", "create", "reader", "--description", "Reads the reports"]), None);
    assert!(ok && out.contains("Created role 'reader'"), "{out}{err}");
    assert!(run(cmd(&["role", "create", "writer"]), None).0);
    let (ok, _, err) = run(cmd(&["role", "create", "reader"]), None);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(cmd(&["role", "create", "manage-clients"]), None);
    assert!(!ok && err.contains("built in"), "{err}");
    let (ok, _, err) = run(cmd(&["role", "create", "no spaces"]), None);
    assert!(!ok && err.contains("must be"), "{err}");
    // Only defined (or built-in) roles can be granted or put in a role scope.
    let (ok, _, err) = run(cmd(&["role", "grant", "auditor", "--user", "alice"]), None);
    assert!(!ok && err.contains("role 'auditor' is not defined"), "{err}");
    assert!(run(cmd(&["role", "grant", "reader", "--user", "alice"]), None).0);
    assert!(run(cmd(&["role", "grant", "view-clients", "--user", "alice"]), None).0);
    let (ok, out, err) = run(
        cmd(&[
            "client",
            "create",
            "--name",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--full-scope-allowed",
            "false",
            "--role-scope",
            "reader",
        ]),
        None,
    );
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
    let (ok, _, err) = run(cmd(&["client", "update", &id, "--role-scope", "auditor"]), None);
    assert!(!ok && err.contains("--role-scope: role 'auditor' is not defined"), "{err}");
    let (ok, out, _) = run(cmd(&["role", "list"]), None);
    assert!(ok, "{out}");
    let line = |name: &str| out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_owned();
    assert!(line("reader").contains("Reads the reports") && line("reader").contains("user alice"), "{out}");
    assert!(line("writer").ends_with(" -"), "a role nobody holds: {out}");
    assert!(line("create-client").contains("(built in)"), "the built-in roles always exist: {out}");
    assert!(line("view-clients").contains("user alice"), "{out}");
    // Deleting a role removes its grants and its place in role scopes.
    let (ok, _, err) = run(cmd(&["role", "delete", "view-clients"]), None);
    assert!(!ok && err.contains("built in"), "{err}");
    let (ok, out, err) = run(cmd(&["role", "delete", "reader"]), None);
    assert!(ok && out.contains("Deleted role 'reader' and its 1 grant(s)"), "{out}{err}");
    let (ok, _, err) = run(cmd(&["role", "delete", "reader"]), None);
    assert!(!ok && err.contains("no role 'reader'"), "{err}");
    let (_, out, _) = run(cmd(&["role", "list"]), None);
    assert!(!out.lines().any(|l| l.starts_with("reader ")), "{out}");
    let (_, shown, _) = run(cmd(&["client", "show", &id]), None);
    let scope_line = shown.lines().find(|l| l.starts_with("role_scope:")).expect("full scope is off");
    assert!(!scope_line.contains("reader"), "{shown}");
}

/// A plain HTTP/1.1 GET with a bearer token; returns the whole response.
fn get_with_bearer(addr: &str, path: &str, token: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"),
    )
}

/// Keycloak's "Generate registration access token" (Securing Applications,
/// "Client registration service"): `oidc client registration-token` prints a
/// new token once, also for a client an operator created; the previous one stops working.
#[test]
fn an_operator_issues_a_registration_access_token() {
    let db = temp_db("rat");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    let (ok, out, err) =
        run(cmd(&["client", "create", "--name", "App", "--redirect-uri", "https://app.example/cb"]), None);
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
    let issue = || {
        let (ok, out, err) = run(cmd(&["client", "registration-token", &id]), None);
        assert!(ok, "{err}");
        out.lines().find_map(|l| l.strip_prefix("registration_access_token:")).unwrap().trim().to_owned()
    };
    let first = issue();
    let second = issue();
    assert_ne!(first, second);
    let (ok, _, err) = run(cmd(&["client", "registration-token", "ghost"]), None);
    assert!(!ok && err.contains("no client 'ghost'"), "{err}");

    let (mut child, addr, _) = serve(&db);
    let path = format!("/realms/main/clients-registrations/default/{id}");
    let stale = get_with_bearer(&addr, &path, &first);
    assert!(stale.starts_with("HTTP/1.1 401"), "the first token was replaced: {stale}");
    let read = get_with_bearer(&addr, &path, &second);
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    assert!(read.contains(&format!("\"clientId\":\"{id}\"")), "{read}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Sends one HTTP/1.1 request on a new connection and returns the whole response.
fn http(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    out
}

/// The peak resident memory of process `pid`, in KiB (`VmHWM` in /proc).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Password checks run on one thread per core with reused Argon2 memory (12 MiB
/// each): 1,000 failed logins through the login form leave the server's peak
/// memory under 100 MiB (it used to grow by about 1 MiB per failed login).
#[test]
fn memory_stays_bounded_across_a_thousand_failed_logins() {
    let db = temp_db("memory");
    let config = db.with_file_name("oidc.toml");
    // Many made-up usernames from one address: no lockout or delay should slow the test down.
    std::fs::write(&config, "[brute_force]\nmax_failures_per_address = 1000000\nmax_failures_per_user = 1000000\n")
        .unwrap();
    let mut cmd = oidc(&db);
    cmd.arg("--config").arg(&config);
    let (mut child, addr, _) = common::serve(cmd);
    let page = http(&addr, &format!("GET /realms/main/account HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    let cookie = page
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = page.split("name=\"csrf_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (addr, cookie, csrf) = (&addr, &cookie, &csrf);
            scope.spawn(move || {
                for i in 0..250 {
                    let body = format!("csrf_token={csrf}&authz=&username=nobody{t}x{i}&password=wrong-{i}");
                    let resp = http(
                        addr,
                        &format!(
                            "POST /realms/main/login-actions/authenticate HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
                             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                    );
                    assert!(resp.contains("Invalid username or password"), "{}", resp.lines().next().unwrap_or(""));
                }
            });
        }
    });
    let peak_mib = peak_rss_kib(child.id()) / 1024;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(peak_mib < 100, "peak resident memory after 1,000 failed logins: {peak_mib} MiB");
    eprintln!("peak resident memory after 1,000 failed logins: {peak_mib} MiB");
}

/// A management command whose reader goes away (`oidc client list | head -1`)
/// stops quietly, with SIGPIPE's status and no panic or backtrace.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let db = temp_db("pipe");
    let mut c = oidc(&db);
    c.args(["realm", "create", "main"]);
    assert!(run(c, None).0);
    for i in 0..3 {
        let mut c = oidc(&db);
        c.args(["client", "create", "--name", &format!("App {i}"), "--redirect-uri", "https://app.example/cb"]);
        assert!(run(c, None).0);
    }
    let mut c = oidc(&db);
    c.args(["client", "list"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // The reader closes its end without reading anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    assert!(matches!(out.status.code(), Some(0 | 141)), "{:?} {stderr}", out.status);
}

#[test]
fn logout_uris_and_user_logout_from_the_command_line() {
    let db = temp_db("logout");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    assert!(run(cmd(&["realm", "create", "main"]), None).0);
    let (ok, out, err) = run(
        cmd(&[
            "client",
            "create",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example/cb",
            "--frontchannel-logout-uri",
            "https://app.example/fc",
            "--backchannel-logout-uri",
            "https://app.example/bc",
            "--backchannel-logout-session-required",
            "true",
        ]),
        None,
    );
    assert!(ok, "{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
    let (_, out, _) = run(cmd(&["client", "show", &id]), None);
    assert!(out.contains("frontchannel:   https://app.example/fc"), "{out}");
    assert!(out.contains("backchannel:    https://app.example/bc (session required: true)"), "{out}");
    // Front-Channel Logout 1.0 §2: the host of a redirect URI; an empty value removes it.
    let (ok, _, err) =
        run(cmd(&["client", "update", &id, "--frontchannel-logout-uri", "https://evil.example/fc"]), None);
    assert!(!ok && err.contains("Front-Channel Logout"), "{err}");
    assert!(run(cmd(&["client", "update", &id, "--backchannel-logout-uri", ""]), None).0);
    let (_, out, _) = run(cmd(&["client", "show", &id]), None);
    assert!(!out.contains("backchannel:"), "{out}");

    assert!(run(cmd(&["user", "create", "alice", "--password-stdin"]), Some("alice-password-1\n")).0);
    let (ok, out, err) = run(cmd(&["user", "logout", "alice"]), None);
    assert!(ok, "{err}");
    assert!(out.contains("Ended 0 session(s) of 'alice'"), "{out}");
    let (ok, _, err) = run(cmd(&["user", "logout", "nobody"]), None);
    assert!(!ok && err.contains("no user 'nobody'"), "{err}");
}

/// Out of file descriptors, the accept loop backs off instead of spinning or
/// dying, and serves again once descriptors are free (issue 8: a flood made
/// "Too many open files" stop the server). The server runs under a tiny
/// open-file limit (`prlimit`), so a few dozen idle connections exhaust it.
#[test]
fn accept_backs_off_when_file_descriptors_run_out_and_recovers() {
    // One multi-threaded runtime, then two pinned threads with their own
    // listeners, runtimes and database connections (about 8 descriptors more).
    accept_backs_off_and_recovers::<28>(1);
    accept_backs_off_and_recovers::<40>(2);
}

fn accept_backs_off_and_recovers<const NOFILE: u32>(threads: usize) {
    use std::io::{BufRead as _, BufReader};
    let db = temp_db("emfile");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={NOFILE}:{NOFILE}")).arg(env!("CARGO_BIN_EXE_oidc"));
    cmd.arg("--database-url").arg(format!("sqlite://{}", db.display()));
    cmd.env_remove("OIDC_CONFIG").env_remove("OIDC_REALM").env_remove("OIDC_DATABASE_URL");
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet", "--threads", &threads.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server printed where it listens").unwrap();
        if let Some(a) = line.strip_prefix("Listening on http://") {
            break a.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut flood: Vec<std::net::TcpStream> =
        (0..80).filter_map(|_| std::net::TcpStream::connect(&addr).ok()).collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    flood.clear();
    // Once the flood is gone the server answers again.
    let started = std::time::Instant::now();
    let health = loop {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        write!(s, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
        if out.starts_with("HTTP/1.1 200") || started.elapsed() > std::time::Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(health.starts_with("HTTP/1.1 200"), "the server serves again: {health:?} {stderr}");
    // About 19 descriptors are the server's own with one thread (27 with two);
    // 16 connections need more than NOFILE allows.
    assert!(stderr.contains("accept failed"), "the flood ran the process out of descriptors: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn cleanup_runs_once_and_reports_what_it_deleted() {
    let db = temp_db("cleanup");
    let cmd = |args: &[&str]| {
        let mut c = oidc(&db);
        c.args(args);
        c
    };
    let (ok, out, err) = run(cmd(&["cleanup", "--batch", "10"]), None);
    assert!(ok, "{err}");
    assert!(out.starts_with("Deleted 0 expired rows"), "{out}");
    let (ok, _, err) = run(cmd(&["cleanup", "--batch", "x"]), None);
    assert!(!ok && err.contains("--batch"), "{err}");
}
