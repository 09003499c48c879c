//! Client metadata of OIDC Registration §2 that changes responses:
//! `default_max_age` and `userinfo_signed_response_alg`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer_null, string_null};

/// Adds the two columns to `clients`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").add_column(big_integer_null("default_max_age")).to_owned())
            .await?;
        m.alter_table(
            Table::alter().table("clients").add_column(string_null("userinfo_signed_response_alg")).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("clients").drop_column("userinfo_signed_response_alg").to_owned()).await?;
        m.alter_table(Table::alter().table("clients").drop_column("default_max_age").to_owned()).await
    }
}
