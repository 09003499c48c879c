//! Conversions between rows and `oidc-core`'s types. A stored value that does
//! not parse is a backend error, never a panic.

use oidc_core::repo::RepoError;
use oidc_core::scope::Scope;
use sea_orm::{DbErr, QueryResult, SqlErr, TryGetable};

/// A corrupt stored value.
#[derive(Debug, thiserror::Error)]
#[error("corrupt value in column {column}: {reason}")]
pub(crate) struct Corrupt {
    column: &'static str,
    reason: String,
}

pub(crate) fn corrupt(column: &'static str, reason: impl Into<String>) -> RepoError {
    RepoError::Backend(Box::new(Corrupt { column, reason: reason.into() }))
}

/// Maps a database error: unique violations become `Conflict`.
pub(crate) fn db(e: DbErr) -> RepoError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(m)) => RepoError::Conflict(m),
        _ => RepoError::Backend(Box::new(e)),
    }
}

/// Reads column `col`.
pub(crate) fn get<T: TryGetable>(row: &QueryResult, col: &'static str) -> Result<T, RepoError> {
    row.try_get::<T>("", col).map_err(db)
}

/// Reads a JSON list of strings.
pub(crate) fn get_list(row: &QueryResult, col: &'static str) -> Result<Vec<String>, RepoError> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|e| corrupt(col, e.to_string()))
}

/// Writes a JSON list of strings.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::Array(items.iter().map(|s| serde_json::Value::String(s.as_ref().to_owned())).collect())
        .to_string()
}

/// Reads a scope column.
pub(crate) fn get_scope(row: &QueryResult, col: &'static str) -> Result<Scope, RepoError> {
    let text: String = get(row, col)?;
    Scope::parse(&text).map_err(|e| corrupt(col, e))
}

/// Reads a column and parses it with `FromStr`.
pub(crate) fn get_parsed<T: std::str::FromStr>(row: &QueryResult, col: &'static str) -> Result<T, RepoError>
where
    T::Err: std::fmt::Display,
{
    let text: String = get(row, col)?;
    text.parse::<T>().map_err(|e| corrupt(col, e.to_string()))
}
