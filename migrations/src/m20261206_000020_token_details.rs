//! What introspection (RFC 7662 §2.2) and JWT access tokens (RFC 9068 §2.2)
//! say about a token: when it was issued, its `jti`, its audience (RFC 8707
//! resource indicators). (`access_tokens.session_id`, the `sid`, comes with
//! the sessions migration, m20261206_000030.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

/// Adds the token detail columns.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

const ADDED: &[(&str, &str)] = &[
    ("access_tokens", "issued_at"),
    ("access_tokens", "audience"),
    ("access_tokens", "jti"),
    ("refresh_tokens", "issued_at"),
    ("refresh_tokens", "audience"),
    ("refresh_tokens", "jti"),
];

/// One added column per statement: SQLite's ALTER TABLE adds one at a time.
async fn add(m: &SchemaManager<'_>, table: &'static str, col: ColumnDef) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).add_column(col).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["access_tokens", "refresh_tokens"] {
            // Rows from before this migration read as issued at 0 with no jti.
            add(m, table, ColumnDef::new("issued_at").big_integer().not_null().default(0).to_owned()).await?;
            add(m, table, text_null("audience")).await?;
            add(m, table, ColumnDef::new("jti").string().not_null().default("").to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, col) in ADDED.iter().rev() {
            m.alter_table(Table::alter().table(*table).drop_column(*col).to_owned()).await?;
        }
        Ok(())
    }
}
