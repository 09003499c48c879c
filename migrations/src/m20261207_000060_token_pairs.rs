//! SQLite only: the `token_pairs` view, through which an access token and its
//! refresh token are stored in one statement, atomically (issue 12: each
//! statement is a hand-off to the connection's thread; a transaction around
//! two inserts costs four). PostgreSQL does the same with a data-modifying CTE
//! and needs nothing here.
//!
//! An `INSERT INTO token_pairs` names every column of `access_tokens` with an
//! `a_` prefix and every column of `refresh_tokens` with an `r_` prefix; its
//! `INSTEAD OF INSERT` trigger writes both rows, and a failure of either (a
//! taken digest) undoes the statement as a whole. A later migration that adds
//! a column to either table calls [`create_token_pairs`] again;
//! `oidc-store`'s tests fail if it does not.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Creates the view and its trigger on SQLite.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_token_pairs(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_token_pairs(m.get_connection()).await
    }
}

/// The name of the view.
pub const TOKEN_PAIRS: &str = "token_pairs";

async fn drop_token_pairs(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    db.execute_unprepared("DROP TRIGGER IF EXISTS token_pairs_insert").await?;
    db.execute_unprepared("DROP VIEW IF EXISTS token_pairs").await?;
    Ok(())
}

/// The columns of `table` as SQLite has them now, in order.
async fn columns(db: &impl ConnectionTrait, table: &str) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name FROM pragma_table_info(?) ORDER BY cid",
            [table.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get::<String>("", "name")).collect()
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// (Re)creates the view and its trigger from the tables' current columns, on
/// SQLite; nothing on other databases.
pub async fn create_token_pairs(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let tables = [
        ("a", "access_tokens", columns(db, "access_tokens").await?),
        ("r", "refresh_tokens", columns(db, "refresh_tokens").await?),
    ];
    let mut selected = Vec::new();
    let mut inserts = Vec::new();
    for (prefix, table, cols) in &tables {
        if cols.is_empty() {
            return Err(DbErr::Migration(format!("{table} has no columns")));
        }
        selected.extend(cols.iter().map(|c| format!("{prefix}.{} AS {}", quoted(c), quoted(&format!("{prefix}_{c}")))));
        let names: Vec<String> = cols.iter().map(|c| quoted(c)).collect();
        let values: Vec<String> = cols.iter().map(|c| format!("NEW.{}", quoted(&format!("{prefix}_{c}")))).collect();
        inserts.push(format!("INSERT INTO {table} ({}) VALUES ({});", names.join(", "), values.join(", ")));
    }
    // One multi-statement call on one connection, inside a savepoint: other
    // connections load the schema with both the view and its trigger or with
    // neither. A connection that saw the view without the trigger would fail
    // to prepare an insert into it ("cannot modify token_pairs because it is a
    // view"), and SQLite does not re-read a schema on that error as it does
    // on "no such table". `WHERE 0`: the view is only ever written to.
    db.execute_unprepared(&format!(
        "SAVEPOINT token_pairs_schema; \
         DROP TRIGGER IF EXISTS token_pairs_insert; \
         DROP VIEW IF EXISTS token_pairs; \
         CREATE VIEW token_pairs AS SELECT {} FROM access_tokens a, refresh_tokens r WHERE 0; \
         CREATE TRIGGER token_pairs_insert INSTEAD OF INSERT ON token_pairs BEGIN {} END; \
         RELEASE token_pairs_schema;",
        selected.join(", "),
        inserts.join(" ")
    ))
    .await?;
    Ok(())
}
