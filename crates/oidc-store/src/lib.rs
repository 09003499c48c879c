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

mod convert;
mod entity;
mod repos;
mod roles;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use migration::{Migrator, MigratorTrait as _};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait as _,
};

/// How long an SQLite connection waits for another one's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to an SQLite file: WAL lets readers run beside the one writer.
const SQLITE_POOL_SIZE: u32 = 4;
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
    db: DatabaseConnection,
    /// Where every statement goes when [`Store::log_statements`] asked for it.
    log: Option<Arc<StatementLog>>,
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
        let mut opts = if url.starts_with("sqlite:") {
            sqlite_options(url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(POSTGRES_POOL_SIZE).min_connections(1);
            opts
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        // Statements are not logged: they would go out at info level, one per query.
        opts.sqlx_logging(false);
        // sqlx pings a pooled connection on every checkout by default: one extra round
        // trip per statement. Only a connection idle for a while may have gone stale.
        opts.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
        let db = Database::connect(opts).await?;
        Ok(Store { db, log: None })
    }

    /// This store with every statement it sends from now on recorded in the
    /// returned log (see [`StatementLog`]).
    #[must_use]
    pub fn log_statements(mut self) -> (Store, Arc<StatementLog>) {
        let log = Arc::new(StatementLog::default());
        let sink = log.clone();
        self.db.set_metric_callback(move |info| sink.push(info.statement.clone()));
        self.log = Some(log.clone());
        (self, log)
    }

    /// Begins a transaction (logged as `BEGIN` when statements are logged).
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.log_marker("BEGIN");
        self.db.begin().await
    }

    /// Commits `txn` (logged as `COMMIT` when statements are logged).
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> Result<(), DbErr> {
        self.log_marker("COMMIT");
        txn.commit().await
    }

    fn log_marker(&self, sql: &str) {
        if let Some(log) = &self.log {
            log.push(Statement::from_string(self.db.get_database_backend(), sql));
        }
    }

    /// Applies every pending migration of the `migration` crate.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// The pool options for an SQLite URL.
fn sqlite_options(url: &str) -> ConnectOptions {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let params = || query.split('&');
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
