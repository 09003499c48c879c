//! Realm roles assigned to users and to clients' service accounts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string;

/// Adds `role_assignments`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("role_assignments")
                .if_not_exists()
                .col(string("realm"))
                .col(string("holder_kind"))
                .col(string("holder_id"))
                .col(string("role"))
                .primary_key(Index::create().col("realm").col("holder_kind").col("holder_id").col("role"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("role_assignments").if_exists().to_owned()).await
    }
}
