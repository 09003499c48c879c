//! What one full code flow costs the database, counted and planned, on SQLite
//! and PostgreSQL (issue 12): the statements a logged-in user's flow sends
//! (authorization request with a session → code → token with an RS256
//! id_token → UserInfo), counted at the connection by the store's
//! [`StatementLog`](oidc_store::StatementLog), and the query plan of each of
//! them over tables holding many rows: index lookups only, no statement whose
//! cost grows with the size of a table.

use std::sync::Arc;

use oidc_cli::server::{self, ServerOptions};
use oidc_core::config::Settings;
use oidc_core::model::{ClientType, JwtAlg};
use oidc_core::repo::Repositories;
use oidc_store::StatementLog;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

use crate::harness::{Backend, CALLBACK, Env, SharedDb, authorize, browser, enc, location, query_param};

/// Statements of one flow today, by step (authorization, token, UserInfo),
/// `BEGIN` and `COMMIT` included. Issue 12's target is at most 6 in all.
/// The token endpoint reads the code with its session and user (one `LEFT
/// JOIN`), then spends it and stores the tokens: on PostgreSQL in one
/// statement (a data-modifying CTE: the conditional `UPDATE` and both
/// `INSERT`s); on SQLite, the conditional `UPDATE`, then one `INSERT` into
/// the `token_pairs` view, whose trigger writes both rows.
fn today(backend: Backend) -> [(&'static str, usize); 3] {
    match backend {
        Backend::SqliteFile => [("authorize", 2), ("token", 3), ("userinfo", 1)],
        Backend::Postgres => [("authorize", 2), ("token", 2), ("userinfo", 1)],
    }
}

/// Rows put in each of the token tables (access and refresh tokens, codes)
/// and a tenth of that in login sessions before the plans are read.
/// `OIDC_TEST_PLAN_ROWS` overrides it (issue 12 asks for 1 million; see
/// `docs/PERFORMANCE.md` for what that costs).
fn plan_rows() -> u64 {
    std::env::var("OIDC_TEST_PLAN_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}

/// A server over `db` whose store logs every statement.
async fn logged_instance(db: &SharedDb) -> (Env, Arc<StatementLog>) {
    let (store, log) = db.store().await.log_statements();
    let store: Arc<dyn Repositories> = Arc::new(store);
    let opts = ServerOptions::new("127.0.0.1:0", Settings::default());
    let server = server::spawn(opts, store.clone()).await.expect("start the server");
    (Env { server, store }, log)
}

/// One steady-state flow of a logged-in user for a client that asks no
/// consent, as the benchmark drives it; returns the statements of each step.
async fn one_flow(env: &Env, log: &StatementLog) -> Vec<(&'static str, Vec<Statement>)> {
    let (client_id, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.settings.require_consent = false;
        })
        .await;
    let secret = secret.expect("a confidential client has a secret");
    env.user("alice", "wonderland-42").await;
    let http = browser();
    let verifier = "a-pkce-verifier-of-the-statement-count-test-0123456789";
    let auth = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope={}&state=s&nonce=n\
         &code_challenge={}&code_challenge_method=S256",
        env.endpoint("auth"),
        enc(CALLBACK),
        enc("openid profile email"),
        oidc_core::pkce::s256_challenge(verifier),
    );
    // Log in and run one flow, so that caches (realm, client, the session's
    // client list) are as warm as in a benchmark's steady state.
    let mut steps = Vec::new();
    for round in 0..2 {
        log.take();
        let back = if round == 0 {
            authorize(&http, &auth, "alice", "wonderland-42").await
        } else {
            let r = http.get(&auth).send().await.unwrap();
            assert_eq!(r.status(), 302, "a logged-in user with no consent to ask gets a code at once");
            location(&r)
        };
        let code = query_param(&back, "code").expect("code");
        steps.push(("authorize", log.take()));
        let r = http
            .post(env.endpoint("token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["id_token"].is_string(), "{body}");
        let at = body["access_token"].as_str().unwrap().to_owned();
        steps.push(("token", log.take()));
        let r = http.get(env.endpoint("userinfo")).bearer_auth(&at).send().await.unwrap();
        assert_eq!(r.status(), 200);
        steps.push(("userinfo", log.take()));
    }
    // The second round is the steady state.
    steps.split_off(3)
}

fn render(steps: &[(&'static str, Vec<Statement>)]) -> String {
    let mut out = String::new();
    for (step, statements) in steps {
        out.push_str(&format!("{step}: {} statement(s)\n", statements.len()));
        for s in statements {
            // The statement's start and its tables are enough to tell which it is.
            let sql = &s.sql;
            let head: String = sql.chars().take(70).collect();
            let tables: Vec<&str> = sql
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .filter(|w| matches!(w[0], "FROM" | "JOIN" | "INTO" | "UPDATE"))
                .map(|w| w[1])
                .collect();
            out.push_str(&format!("    {head}... [{}]\n", tables.join(", ")));
        }
    }
    out
}

/// Issue 12: the statements of one flow, counted (not estimated), step by
/// step; then, with many rows in the token tables, every one of them is planned
/// as index lookups only.
async fn flow_statements_and_plans(backend: Backend) {
    let db = SharedDb::new(backend).await;
    let (env, log) = logged_instance(&db).await;
    let steps = one_flow(&env, &log).await;
    let counts: Vec<(&str, usize)> = steps.iter().map(|(s, v)| (*s, v.len())).collect();
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    eprintln!("{backend:?}, one code flow: {total} statements\n{}", render(&steps));
    // Issue 12's target: at most 6 per flow, on both stores.
    assert!(total <= 6, "{total} statements per flow");
    assert_eq!(
        counts,
        today(backend),
        "statements per step changed; update TODAY and docs/PERFORMANCE.md:\n{}",
        render(&steps)
    );
    // A bound `LIMIT ?` makes SQLite re-prepare the statement at every execution
    // (see oidc-store's repos.rs): lookups by a unique key go without one.
    for (step, statements) in &steps {
        for s in statements {
            assert!(!s.sql.contains(" LIMIT "), "{step}: a bound LIMIT in {}", render(&[(step, vec![s.clone()])]));
        }
    }
    env.server.stop().await.unwrap();

    let store = db.store().await;
    let conn = store.connection();
    let rows = plan_rows();
    let started = std::time::Instant::now();
    fill(conn, rows).await;
    eprintln!("{backend:?}: {rows} rows per token table in {:?}", started.elapsed());
    let backend_kind = conn.get_database_backend();
    // The check sees a scan when there is one: a lookup by a column without an index.
    let unindexed = Statement::from_sql_and_values(
        backend_kind,
        match backend_kind {
            DbBackend::Sqlite => "SELECT digest FROM access_tokens WHERE scope = ?",
            _ => "SELECT digest FROM access_tokens WHERE scope = $1",
        },
        ["email".into()],
    );
    let control = plan(conn, &unindexed).await;
    assert!(control.iter().any(|l| is_full_scan(backend_kind, l)), "the control query scans: {control:?}");
    for (step, statements) in &steps {
        for s in statements.iter().filter(|s| !matches!(s.sql.as_str(), "BEGIN" | "COMMIT")) {
            let plan = plan(conn, s).await;
            let shown = render(&[(step, vec![s.clone()])]);
            eprintln!("{shown}{}", plan.iter().map(|l| format!("        {l}\n")).collect::<String>());
            let full_scan = plan.iter().find(|line| is_full_scan(backend_kind, line));
            assert!(full_scan.is_none(), "{shown}scans a table:\n{}", plan.join("\n"));
        }
    }
}

/// The plan of `s` with its values: `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN`
/// on PostgreSQL (neither runs the statement).
async fn plan(conn: &sea_orm::DatabaseConnection, s: &Statement) -> Vec<String> {
    let backend = conn.get_database_backend();
    let (prefix, column) = match backend {
        DbBackend::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
        _ => ("EXPLAIN", "QUERY PLAN"),
    };
    let values = s.values.clone().map(|v| v.0).unwrap_or_default();
    let explain = Statement::from_sql_and_values(backend, format!("{prefix} {}", s.sql), values);
    let rows = conn.query_all_raw(explain).await.unwrap_or_else(|e| panic!("cannot plan `{}`: {e}", s.sql));
    rows.iter().map(|r| r.try_get::<String>("", column).expect("a plan line")).collect()
}

/// Whether a plan line reads a whole table: SQLite's `SCAN table` (not
/// `SEARCH ... USING INDEX`), PostgreSQL's `Seq Scan`.
fn is_full_scan(backend: DbBackend, line: &str) -> bool {
    match backend {
        DbBackend::Sqlite => line.trim_start().starts_with("SCAN ") && !line.contains("CONSTANT ROW"),
        _ => line.contains("Seq Scan"),
    }
}

/// Until when the filler rows live (2100): unexpired, like the rows a cleanup
/// leaves, so that the planner's statistics do not make `expires_at > now`
/// look selective.
const LIVE: i64 = 4_102_444_800;

/// `rows` rows in each token table and a tenth of that in login sessions and
/// users, then fresh planner statistics.
async fn fill(conn: &sea_orm::DatabaseConnection, rows: u64) {
    let backend = conn.get_database_backend();
    // A text value unique per row `i`, ending in `e`.
    let text = |e: &str| match backend {
        DbBackend::Sqlite => format!("printf('%d-{e}', i)"),
        _ => format!("i::text || '-{e}'"),
    };
    let tables = [
        (
            rows,
            "access_tokens (digest, realm, client_id, user_id, scope, expires_at, grant_id, session_id)",
            format!("{}, 'main', 'filler', 'filler', 'openid', {LIVE}, {}, {}", text("at"), text("g"), text("s")),
        ),
        (
            rows,
            "refresh_tokens (digest, realm, client_id, user_id, scope, expires_at, grant_id, auth_time, session_id, \
             used, offline)",
            format!(
                "{}, 'main', 'filler', 'filler', 'openid', {LIVE}, {}, 0, {}, false, false",
                text("rt"),
                text("g"),
                text("s")
            ),
        ),
        (
            rows,
            "auth_codes (digest, realm, client_id, user_id, redirect_uri, scope, auth_time, session_id, expires_at, \
             grant_id, used)",
            format!(
                "{}, 'main', 'filler', 'filler', 'x', 'openid', 0, {}, {LIVE}, {}, true",
                text("c"),
                text("s"),
                text("g")
            ),
        ),
        (
            (rows / 10).max(1),
            "login_sessions (digest, id, realm, user_id, auth_time, expires_at)",
            format!("{}, {}, 'main', 'filler', 0, {LIVE}", text("sd"), text("s")),
        ),
        (
            (rows / 10).max(1),
            "users (realm, id, username, active, email_verified, phone_number_verified, created_at, updated_at, \
             attributes)",
            format!("'main', {}, {}, true, false, false, 0, 0, '{{}}'", text("u"), text("name")),
        ),
    ];
    for (n, into, select) in tables {
        let sql = match backend {
            DbBackend::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
                 INSERT INTO {into} SELECT {select} FROM n"
            ),
            _ => format!("INSERT INTO {into} SELECT {select} FROM generate_series(1, {n}) AS i"),
        };
        conn.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("cannot fill: {e}\n{sql}"));
    }
    conn.execute_unprepared("ANALYZE").await.expect("ANALYZE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_flow_statements_counted_and_planned_sqlite_issue_12() {
    flow_statements_and_plans(Backend::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_flow_statements_counted_and_planned_postgres_issue_12() {
    flow_statements_and_plans(Backend::Postgres).await;
}
