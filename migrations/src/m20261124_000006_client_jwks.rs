//! A client's own public keys (its JWKS), for `private_key_jwt` and signed
//! request objects.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

/// Adds `clients.jwks`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").add_column(text_null("jwks")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").drop_column("jwks").to_owned()).await
    }
}
