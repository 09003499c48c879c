//! Client settings that Keycloak's client representation has and the
//! provider now honours: privacy policy URL, default client scopes,
//! description, root URL, web origins, a required PKCE method, and the role
//! scope (`full_scope_allowed`, `role_scope`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string_null, text, text_null};

/// Adds the columns to `clients`; existing clients keep today's behaviour
/// (no default scopes, full role scope).
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

/// The added columns, for `down`.
const COLUMNS: [&str; 8] = [
    "policy_url",
    "default_scopes",
    "description",
    "root_url",
    "web_origins",
    "pkce_method",
    "full_scope_allowed",
    "role_scope",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            string_null("policy_url"),
            text("default_scopes").default("[]").to_owned(),
            text_null("description"),
            string_null("root_url"),
            text("web_origins").default("[]").to_owned(),
            string_null("pkce_method"),
            boolean("full_scope_allowed").default(true).to_owned(),
            text("role_scope").default("[]").to_owned(),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table("clients").add_column(&mut col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in COLUMNS.iter().rev() {
            m.alter_table(Table::alter().table("clients").drop_column(*col).to_owned()).await?;
        }
        Ok(())
    }
}
