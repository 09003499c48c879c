//! `oidc-core`'s repository traits over SeaORM: SQLite (the embedded default,
//! in WAL mode) and PostgreSQL (production).
//!
//! Every trait method is one SQL statement, or one short transaction where
//! several rows must change together. Codes, tokens and sessions are stored
//! as digests only. Redeeming a code or a refresh token is a single
//! conditional `UPDATE ... RETURNING`, so that of concurrent redemptions
//! exactly one succeeds.
//!
//! This crate knows nothing of HTTP.

mod convert;
mod repos;

use std::time::Duration;

use migration::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, Statement, Value};

/// A storage error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The database URL is not one this crate supports.
    #[error("unsupported database URL (use sqlite://... or postgres://...)")]
    UnsupportedUrl,
}

/// The SeaORM-backed store; implements every repository trait of `oidc-core`.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `url`: `sqlite://path` (created if missing; WAL mode),
    /// `sqlite::memory:`, or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (url, is_sqlite, memory) = if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let url = if memory || url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (url, true, memory)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_owned(), false, false)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut opts = ConnectOptions::new(url);
        opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(10));
        if is_sqlite {
            // One connection keeps an in-memory database whole; a file gets a small pool
            // (WAL: readers do not block the writer).
            opts.max_connections(if memory { 1 } else { 8 }).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        } else {
            opts.max_connections(16).min_connections(1);
        }
        let db = Database::connect(opts).await?;
        Ok(Store { db })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend(), sql, values)
    }
}

#[cfg(test)]
mod tests;
