//! `oidc-core`'s repository traits over SeaORM: SQLite (the embedded default,
//! in WAL mode) and PostgreSQL (production).
//!
//! [`Store`] holds the connection pool and implements every trait of
//! `oidc_core::repo`. Each trait method is one SQL statement, or one short
//! transaction where several rows must change together. Codes, tokens and
//! sessions are stored as digests only. Redeeming a code or a refresh token
//! is a single conditional `UPDATE ... WHERE used = false RETURNING ...`, so
//! that of concurrent redemptions exactly one succeeds.
//!
//! The entities are private: callers see only `oidc-core`'s types. This crate
//! knows nothing of HTTP.

mod batch;
mod convert;
mod entity;
mod repos;
mod roles;

use std::cell::Cell;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use migration::{Migrator, MigratorTrait as _};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait as _,
};

/// How long an SQLite connection waits for another one's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to an SQLite file: WAL lets readers run beside the one writer.
const SQLITE_POOL_SIZE: u32 = 4;
/// Connections to an SQLite file per shard of a thread-per-core server.
const SQLITE_SHARD_POOL_SIZE: u32 = 2;
/// A pooled connection idle this long is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);
/// Connections to PostgreSQL.
const POSTGRES_POOL_SIZE: u32 = 16;

/// A failure to open, migrate or reach the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The database URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL (use sqlite://PATH, sqlite::memory: or postgres://...)")]
    UnsupportedUrl,
}

/// The SeaORM-backed store: implements every repository trait of `oidc-core`.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    /// The pool of threads that entered no shard (and of every thread when there are no shards).
    main: DatabaseConnection,
    /// One pool per shard, for the threads of a thread-per-core server (see [`Store::with_shards`]).
    shards: Arc<Shards>,
    /// Where every statement goes when [`Store::log_statements`] asked for it.
    log: Option<Arc<StatementLog>>,
    /// Group commit of inserts for threads outside the shards (see `batch`).
    batcher: Arc<batch::Batchers>,
    /// The writers' turns on an SQLite file, one per kind of write, shared by the shards (see `batch::WriteTurn`).
    write_turns: batch::WriteTurns,
}

thread_local! {
    /// The shard whose pool this thread's statements use (see [`Store::open_shard`]).
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The per-shard pools of a [`Store`] on an SQLite file, each opened by its shard's thread.
#[derive(Debug, Default)]
struct Shards {
    url: String,
    pools: Vec<OnceLock<DatabaseConnection>>,
    /// Each shard's group commit queues (see `batch`), used with its pool.
    batchers: Vec<Arc<batch::Batchers>>,
}

/// Every SQL statement a [`Store`] sent, in order, with its values: counted at
/// the connection (SeaORM's per-statement callback), plus `BEGIN` and `COMMIT`
/// for each transaction, which SeaORM sends outside that callback. For tests
/// and diagnostics (statements per request, query plans); off by default.
#[derive(Debug, Default)]
pub struct StatementLog {
    entries: Mutex<Vec<Statement>>,
}

impl StatementLog {
    fn push(&self, statement: Statement) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).push(statement);
    }

    /// The statements logged since the last call, oldest first; the log starts empty again.
    pub fn take(&self) -> Vec<Statement> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Store {
    /// Opens a pool on `url`.
    ///
    /// - `sqlite://PATH` (or `sqlite:PATH`): the file is created if missing
    ///   (`?mode=rwc` is added unless the URL has a `mode`), in WAL mode with
    ///   `synchronous=NORMAL` and a 5 s busy timeout.
    /// - `sqlite::memory:`: one connection that is never recycled, since the
    ///   database lives only as long as its connections.
    /// - `postgres://...` or `postgresql://...`.
    ///
    /// The schema is not touched; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let opts = pool_options(url, None)?;
        let db = Database::connect(opts).await?;
        let write_turns = batch::WriteTurns::for_backend(db.get_database_backend());
        let batcher = Arc::new(batch::Batchers::new(&write_turns));
        Ok(Store { main: db, shards: Arc::new(Shards::default()), log: None, batcher, write_turns })
    }

    /// This store prepared for a thread-per-core server with `n` shards: each
    /// shard's thread calls [`Store::open_shard`], which opens a pool of the
    /// shard's own from that thread and sends the thread's statements to it.
    /// sqlx runs each SQLite connection on a thread of its own, started by
    /// the thread that opens the connection and inheriting its CPU affinity,
    /// so a shard thread pinned to a core keeps its statements' hand-offs on
    /// that core; a PostgreSQL connection's socket is driven by the runtime
    /// that opened it, so the shard's own runtime wakes its requests
    /// (docs/PERFORMANCE.md).
    ///
    /// For `sqlite::memory:` (a database that lives in one connection) the
    /// store is returned unchanged, and `open_shard` does nothing.
    #[must_use]
    pub fn with_shards(mut self, url: &str, n: usize) -> Store {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !memory && n >= 2 {
            self.shards = Arc::new(Shards {
                url: url.to_owned(),
                pools: (0..n).map(|_| OnceLock::new()).collect(),
                batchers: (0..n).map(|_| Arc::new(batch::Batchers::new(&self.write_turns))).collect(),
            });
        }
        self
    }

    /// Opens shard `i`'s pool from the calling thread (see
    /// [`Store::with_shards`]) and sends this thread's statements to it from
    /// now on. A store without shards, or without shard `i`, keeps using its
    /// main pool on this thread.
    pub async fn open_shard(&self, i: usize) -> Result<(), StoreError> {
        let Some(slot) = self.shards.pools.get(i) else { return Ok(()) };
        if slot.get().is_none() {
            let opts = pool_options(&self.shards.url, Some(self.shards.pools.len()))?;
            let mut db = Database::connect(opts).await?;
            if let Some(log) = &self.log {
                let sink = log.clone();
                db.set_metric_callback(move |info| sink.push(info.statement.clone()));
            }
            // Another call for the same shard may have won: its pool serves.
            let _ = slot.set(db);
        }
        SHARD.with(|s| s.set(Some(i)));
        Ok(())
    }

    /// The pool for the current thread and its group commit queues: its
    /// shard's once the thread has opened one, the main ones otherwise.
    pub(crate) fn db_and_batcher(&self) -> (&DatabaseConnection, &Arc<batch::Batchers>) {
        let main = (&self.main, &self.batcher);
        if self.shards.pools.is_empty() {
            return main;
        }
        SHARD
            .with(Cell::get)
            .and_then(|i| Some((self.shards.pools.get(i)?.get()?, self.shards.batchers.get(i)?)))
            .unwrap_or(main)
    }

    /// The pool for the current thread (see [`Store::db_and_batcher`]).
    fn db(&self) -> &DatabaseConnection {
        self.db_and_batcher().0
    }

    /// This store with every statement it sends from now on recorded in the
    /// returned log (see [`StatementLog`]).
    #[must_use]
    pub fn log_statements(mut self) -> (Store, Arc<StatementLog>) {
        let log = Arc::new(StatementLog::default());
        let sink = log.clone();
        // Shards opened from now on log too (see `open_shard`).
        self.main.set_metric_callback(move |info| sink.push(info.statement.clone()));
        self.log = Some(log.clone());
        (self, log)
    }

    /// Begins a transaction (logged as `BEGIN` when statements are logged).
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.log_marker("BEGIN");
        self.db().begin().await
    }

    /// Commits `txn` (logged as `COMMIT` when statements are logged).
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> Result<(), DbErr> {
        self.log_marker("COMMIT");
        txn.commit().await
    }

    fn log_marker(&self, sql: &str) {
        if let Some(log) = &self.log {
            log.push(Statement::from_string(self.db().get_database_backend(), sql));
        }
    }

    /// Applies every pending migration of the `migration` crate.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(self.db(), None).await?;
        Ok(())
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        self.db()
    }
}

/// The pool options for `url`: the whole pool, or one of `shards` shards' pools.
fn pool_options(url: &str, shards: Option<usize>) -> Result<ConnectOptions, StoreError> {
    let mut opts = if url.starts_with("sqlite:") {
        let mut opts = sqlite_options(url);
        if shards.is_some() {
            opts.max_connections(SQLITE_SHARD_POOL_SIZE);
        }
        opts
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut opts = ConnectOptions::new(url);
        // Shards split the connections a single pool would have (at least 2 each).
        let size = shards
            .map_or(POSTGRES_POOL_SIZE, |n| (POSTGRES_POOL_SIZE / u32::try_from(n).unwrap_or(u32::MAX).max(1)).max(2));
        opts.max_connections(size).min_connections(1);
        if !names_ssl_mode(url) {
            opts.map_sqlx_postgres_opts(plain_on_loopback);
        }
        opts
    } else {
        return Err(StoreError::UnsupportedUrl);
    };
    // Statements are not logged: they would go out at info level, one per query.
    opts.sqlx_logging(false);
    // sqlx pings a pooled connection on every checkout by default: one extra round
    // trip per statement. Only a connection idle for a while may have gone stale.
    opts.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    Ok(opts)
}

/// Whether `url`'s query, or the environment (`PGSSLMODE`, as libpq and
/// sqlx read it), chooses the TLS mode of PostgreSQL connections.
fn names_ssl_mode(url: &str) -> bool {
    std::env::var_os("PGSSLMODE").is_some()
        || query_params(url).any(|p| {
            let key = p.split_once('=').map_or(p, |(k, _)| k);
            key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
        })
}

/// The `key=value` parameters of `url`'s query, as written.
fn query_params(url: &str) -> impl Iterator<Item = &str> {
    url.split_once('?').map_or("", |(_, q)| q).split('&')
}

/// Connections to a PostgreSQL server on this host (a loopback address, or
/// a Unix socket) go without TLS unless the URL or `PGSSLMODE` asks for it:
/// the traffic never leaves the machine, and sqlx's default (`prefer`)
/// would encrypt every message on both sides, which cost 7-14% of the
/// flow's and client_credentials' throughput on the harness (PERFORMANCE.md,
/// "No TLS on loopback"). A remote server keeps sqlx's default: the link to
/// the database is the operator's to protect (THREAT-MODEL.md, RFC 9700 §4.13).
fn plain_on_loopback(opts: PgConnectOptions) -> PgConnectOptions {
    if is_loopback_host(opts.get_host()) || opts.get_socket().is_some() {
        opts.ssl_mode(PgSslMode::Disable)
    } else {
        opts
    }
}

/// `localhost` or a loopback address (`127.0.0.0/8`, `::1`, bracketed or
/// not). A Unix socket directory is no host: sqlx keeps it apart (`get_socket`).
fn is_loopback_host(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The pool options for an SQLite URL.
fn sqlite_options(url: &str) -> ConnectOptions {
    let params = || query_params(url);
    let memory = url.contains(":memory:") || params().any(|p| p == "mode=memory");
    let url = if memory || params().any(|p| p.starts_with("mode=")) {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    let mut opts = ConnectOptions::new(url);
    if memory {
        // sqlx opens `sqlite::memory:` as a named shared-cache database, so a larger
        // pool would share it, but under shared-cache table locks, and with
        // `cache=private` each connection would get a database of its own. One
        // connection that is never closed keeps one database for the life of the store.
        opts.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        opts.map_sqlx_sqlite_opts(|o| o.busy_timeout(SQLITE_BUSY_TIMEOUT));
    } else {
        // sqlx 0.9 no longer sets a journal mode, so a new file would stay in rollback mode.
        opts.max_connections(SQLITE_POOL_SIZE).min_connections(1);
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    }
    opts
}

#[cfg(test)]
mod tests;
