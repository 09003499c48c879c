//! A client's access token format (opaque or a JWT, RFC 9068) and the
//! algorithm its JWT access tokens are signed with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

/// Adds `clients.access_token_format` and `clients.access_token_signed_response_alg`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One added column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in ["access_token_format", "access_token_signed_response_alg"] {
            m.alter_table(Table::alter().table("clients").add_column(string_null(col)).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["access_token_signed_response_alg", "access_token_format"] {
            m.alter_table(Table::alter().table("clients").drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
