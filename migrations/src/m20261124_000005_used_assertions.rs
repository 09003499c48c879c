//! Client assertion ids already used (RFC 7523 §3: a `jti` is accepted once).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

/// Adds `used_assertions`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("used_assertions")
                .if_not_exists()
                .col(string("realm"))
                .col(string("client_id"))
                .col(string("jti"))
                .col(big_integer("expires_at"))
                .primary_key(Index::create().col("realm").col("client_id").col("jti"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("used_assertions_expiry").table("used_assertions").col("expires_at").to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("used_assertions").if_exists().to_owned()).await
    }
}
