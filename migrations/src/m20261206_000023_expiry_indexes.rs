//! Indexes on `expires_at`, so that the periodic cleanup of expired codes,
//! tokens, sessions and consents finds them without scanning the tables.

use sea_orm_migration::prelude::*;

/// Adds one `expires_at` index per table of expiring things.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

const TABLES: [&str; 5] = ["auth_codes", "access_tokens", "refresh_tokens", "login_sessions", "consents"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            let name = format!("{table}_expires_at");
            m.create_index(Index::create().name(name).table(table).col("expires_at").if_not_exists().to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            m.drop_index(Index::drop().name(format!("{table}_expires_at")).table(table).to_owned()).await?;
        }
        Ok(())
    }
}
