//! A client's `jwks_uri` (RFC 7591 §2): its keys by reference.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

/// Adds `clients.jwks_uri`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").add_column(text_null("jwks_uri")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").drop_column("jwks_uri").to_owned()).await
    }
}
