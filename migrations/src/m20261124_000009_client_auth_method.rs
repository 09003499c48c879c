//! The token endpoint authentication method a client registered (RFC 7591 §2).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

/// Adds `clients.token_endpoint_auth_method`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").add_column(string_null("token_endpoint_auth_method")).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").drop_column("token_endpoint_auth_method").to_owned()).await
    }
}
