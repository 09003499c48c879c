//! When a refresh token was rotated, and when its one reuse within the
//! reuse interval was spent.

use sea_orm_migration::prelude::*;

/// Adds `refresh_tokens.used_at` and `refresh_tokens.reused_at`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One added column per statement: SQLite's ALTER TABLE adds one at a time.
        let used_at = ColumnDef::new("used_at").big_integer().null().to_owned();
        m.alter_table(Table::alter().table("refresh_tokens").add_column(used_at).to_owned()).await?;
        let reused_at = ColumnDef::new("reused_at").big_integer().null().to_owned();
        m.alter_table(Table::alter().table("refresh_tokens").add_column(reused_at).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["reused_at", "used_at"] {
            m.alter_table(Table::alter().table("refresh_tokens").drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
