//! Realm role definitions: the roles an operator created, with a description
//! (Keycloak's realm roles, Server Administration Guide "Assigning
//! permissions using roles and groups").

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, text};

/// Adds `role_definitions`, and defines every role already granted (other
/// than the registration service's built-in roles) so existing grants stay valid.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("role_definitions")
                .if_not_exists()
                .col(string("realm"))
                .col(string("name"))
                .col(text("description"))
                .primary_key(Index::create().col("realm").col("name"))
                .to_owned(),
        )
        .await?;
        // Portable SQL (SQLite and PostgreSQL).
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO role_definitions (realm, name, description) \
                 SELECT DISTINCT realm, role, '' FROM role_assignments \
                 WHERE role NOT IN ('create-client', 'manage-clients', 'view-clients')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("role_definitions").if_exists().to_owned()).await
    }
}
