//! The resource indicators of an authorization request (RFC 8707 §2), kept
//! with its code so that the tokens it is exchanged for carry that audience.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

/// Adds `auth_codes.resources` (a JSON list; null for none).
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("auth_codes").add_column(text_null("resources")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("auth_codes").drop_column("resources").to_owned()).await
    }
}
