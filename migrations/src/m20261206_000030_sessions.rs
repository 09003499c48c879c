//! Login sessions as Keycloak keeps them: when each was last used (SSO
//! Session Idle), from which browser and address, which clients it issued
//! tokens to (Front-Channel Logout 1.0 §4, Back-Channel Logout 1.0 §2.7), and
//! which tokens belong to it, so that ending it ends them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, string, string_null, text_null};

/// Adds `login_sessions.{last_used,user_agent,address}`, the table
/// `session_clients`, `access_tokens.session_id` and `refresh_tokens.offline`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

fn add(table: &'static str, col: ColumnDef) -> TableAlterStatement {
    let mut col = col;
    Table::alter().table(table).add_column(&mut col).to_owned()
}

fn index(name: &'static str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(*c);
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(add("login_sessions", big_integer_null("last_used"))).await?;
        m.alter_table(add("login_sessions", text_null("user_agent"))).await?;
        m.alter_table(add("login_sessions", string_null("address"))).await?;
        m.create_index(index("login_sessions_id", "login_sessions", &["realm", "id"])).await?;
        m.create_table(
            Table::create()
                .table("session_clients")
                .if_not_exists()
                .col(string("realm"))
                .col(string("session_id"))
                .col(string("client_id"))
                .col(big_integer("first_at"))
                .primary_key(Index::create().col("realm").col("session_id").col("client_id"))
                .to_owned(),
        )
        .await?;
        m.alter_table(add("access_tokens", string_null("session_id"))).await?;
        m.create_index(index("access_tokens_session", "access_tokens", &["realm", "session_id"])).await?;
        m.alter_table(add("refresh_tokens", boolean("offline").default(false).to_owned())).await?;
        m.create_index(index("refresh_tokens_session", "refresh_tokens", &["realm", "session_id"])).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let drop_index = |name: &'static str, table: &'static str| Index::drop().name(name).table(table).to_owned();
        m.drop_index(drop_index("refresh_tokens_session", "refresh_tokens")).await?;
        m.alter_table(Table::alter().table("refresh_tokens").drop_column("offline").to_owned()).await?;
        m.drop_index(drop_index("access_tokens_session", "access_tokens")).await?;
        m.alter_table(Table::alter().table("access_tokens").drop_column("session_id").to_owned()).await?;
        m.drop_table(Table::drop().table("session_clients").to_owned()).await?;
        m.drop_index(drop_index("login_sessions_id", "login_sessions")).await?;
        for c in ["address", "user_agent", "last_used"] {
            m.alter_table(Table::alter().table("login_sessions").drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
