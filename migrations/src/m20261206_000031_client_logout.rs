//! Where a client hears of logouts: Front-Channel Logout 1.0 §2 and
//! Back-Channel Logout 1.0 §2.2 client metadata.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, text_null};

/// Adds `clients.{frontchannel,backchannel}_logout_{uri,session_required}`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

const COLUMNS: [&str; 4] = [
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in COLUMNS {
            let mut col =
                if name.ends_with("_uri") { text_null(name) } else { boolean(name).default(false).to_owned() };
            m.alter_table(Table::alter().table("clients").add_column(&mut col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in COLUMNS.iter().rev() {
            m.alter_table(Table::alter().table("clients").drop_column(*name).to_owned()).await?;
        }
        Ok(())
    }
}
