//! SeaORM migrations of the provider's schema, for SQLite and PostgreSQL.
//!
//! Every table is scoped by realm. Codes, tokens and sessions are stored only
//! as SHA-256 digests of their values. Times are Unix seconds.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_tables;
mod m20261124_000002_flows_and_grants;
mod m20261124_000003_client_registration;
mod m20261124_000004_roles;
mod m20261124_000005_used_assertions;
mod m20261124_000006_client_jwks;
mod m20261124_000007_client_response_options;
mod m20261124_000008_client_jwks_uri;
mod m20261124_000009_client_auth_method;
mod m20261206_000011_code_resources;
mod m20261206_000020_token_details;
mod m20261206_000021_client_access_token_format;
mod m20261206_000022_refresh_reuse;
mod m20261206_000023_expiry_indexes;
mod m20261206_000030_sessions;
mod m20261206_000031_client_logout;
mod m20261206_000040_client_keycloak_settings;
mod m20261206_000050_role_definitions;
mod m20261207_000060_token_pairs;

pub use m20261207_000060_token_pairs::{TOKEN_PAIRS, create_token_pairs};

/// Lists the migrations in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_tables::Migration),
            Box::new(m20261124_000002_flows_and_grants::Migration),
            Box::new(m20261124_000003_client_registration::Migration),
            Box::new(m20261124_000004_roles::Migration),
            Box::new(m20261124_000005_used_assertions::Migration),
            Box::new(m20261124_000006_client_jwks::Migration),
            Box::new(m20261124_000007_client_response_options::Migration),
            Box::new(m20261124_000008_client_jwks_uri::Migration),
            Box::new(m20261124_000009_client_auth_method::Migration),
            Box::new(m20261206_000020_token_details::Migration),
            Box::new(m20261206_000021_client_access_token_format::Migration),
            Box::new(m20261206_000022_refresh_reuse::Migration),
            Box::new(m20261206_000023_expiry_indexes::Migration),
            Box::new(m20261206_000030_sessions::Migration),
            Box::new(m20261206_000031_client_logout::Migration),
            Box::new(m20261206_000040_client_keycloak_settings::Migration),
            Box::new(m20261206_000050_role_definitions::Migration),
            Box::new(m20261206_000011_code_resources::Migration),
            Box::new(m20261207_000060_token_pairs::Migration),
        ]
    }
}

#[cfg(test)]
mod tests;
