//! Dynamic client registration: initial access tokens, each registered
//! client's registration (with the digest of its registration access token),
//! and the registration policies of each realm.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, string, text};

/// Adds the tables of the client registration service.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("initial_access_tokens")
                .if_not_exists()
                .col(string("realm"))
                .col(string("id"))
                .col(string("digest"))
                .col(big_integer("created_at"))
                .col(big_integer_null("expires_at"))
                .col(big_integer("max_uses"))
                .col(big_integer("used"))
                .primary_key(Index::create().col("realm").col("id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("initial_access_tokens_digest")
                .table("initial_access_tokens")
                .col("digest")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("client_registrations")
                .if_not_exists()
                .col(string("realm"))
                .col(string("client_id"))
                .col(string("token_digest"))
                .col(text("metadata"))
                .col(boolean("anonymous"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("realm").col("client_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("registration_policies")
                .if_not_exists()
                .col(string("realm"))
                .col(string("kind"))
                .col(text("config"))
                .primary_key(Index::create().col("realm").col("kind"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["registration_policies", "client_registrations", "initial_access_tokens"] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
