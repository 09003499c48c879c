//! Every flow and grant: client grant types and subjects, user attributes,
//! key retirement dates, `acr` and the `claims` request with codes and tokens,
//! brute-force counters and the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_null, text, text_null};

/// Adds the columns and tables of the flows-and-grants release.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

/// One added column per statement: SQLite's ALTER TABLE adds one at a time.
async fn add(m: &SchemaManager<'_>, table: &'static str, col: ColumnDef) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).add_column(col).to_owned()).await
}

async fn drop(m: &SchemaManager<'_>, table: &'static str, col: &'static str) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).drop_column(col).to_owned()).await
}

const ADDED: &[(&str, &str)] = &[
    ("clients", "grant_types"),
    ("clients", "subject_type"),
    ("clients", "sector_identifier_uri"),
    ("users", "attributes"),
    ("signing_keys", "published_until"),
    ("auth_codes", "acr"),
    ("auth_codes", "claims"),
    ("access_tokens", "claims"),
    ("refresh_tokens", "claims"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Existing clients keep what they could do before: the code flow with refresh tokens.
        add(m, "clients", text("grant_types").default("[\"authorization_code\",\"refresh_token\"]").to_owned()).await?;
        add(m, "clients", string("subject_type").default("public").to_owned()).await?;
        add(m, "clients", text_null("sector_identifier_uri")).await?;
        add(m, "users", text("attributes").default("{}").to_owned()).await?;
        add(m, "signing_keys", ColumnDef::new("published_until").big_integer().null().to_owned()).await?;
        add(m, "auth_codes", string_null("acr")).await?;
        add(m, "auth_codes", text_null("claims")).await?;
        add(m, "access_tokens", text_null("claims")).await?;
        add(m, "refresh_tokens", text_null("claims")).await?;
        m.create_table(
            Table::create()
                .table("login_failures")
                .if_not_exists()
                .col(string("realm"))
                .col(string("key"))
                .col(big_integer("count"))
                .col(big_integer("last_failure"))
                .primary_key(Index::create().col("realm").col("key"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_events")
                .if_not_exists()
                .col(ColumnDef::new("id").big_integer().not_null().auto_increment().primary_key())
                .col(string("realm"))
                .col(big_integer("at"))
                .col(string("kind"))
                .col(string_null("user_id"))
                .col(string_null("client_id"))
                .col(text("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("audit_events_realm_at").table("audit_events").col("realm").col("at").to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("audit_events").if_exists().to_owned()).await?;
        m.drop_table(Table::drop().table("login_failures").if_exists().to_owned()).await?;
        for (table, col) in ADDED.iter().rev() {
            drop(m, table, col).await?;
        }
        Ok(())
    }
}
