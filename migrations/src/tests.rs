//! The migrations run on an empty database, roll back, and run again.
//!
//! This runs on SQLite; `oidc-store`'s tests also migrate a fresh PostgreSQL database.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Database;

use crate::Migrator;

/// Every table the migrations create.
const TABLES: [&str; 17] = [
    "realms",
    "signing_keys",
    "clients",
    "users",
    "login_sessions",
    "consents",
    "auth_codes",
    "access_tokens",
    "refresh_tokens",
    "login_failures",
    "audit_events",
    "initial_access_tokens",
    "client_registrations",
    "registration_policies",
    "role_assignments",
    "used_assertions",
    "session_clients",
];

#[tokio::test]
async fn all_migrations_run_on_an_empty_database_roll_back_and_rerun() {
    let db = Database::connect("sqlite::memory:").await.expect("open an in-memory database");
    let schema = SchemaManager::new(&db);
    Migrator::up(&db, None).await.expect("migrate up");
    for t in TABLES {
        assert!(schema.has_table(t).await.expect("has_table"), "{t} exists after up");
    }
    assert!(
        schema.has_index("users", "users_realm_username").await.expect("has_index"),
        "usernames are unique per realm"
    );
    for (table, col) in [
        ("clients", "grant_types"),
        ("users", "attributes"),
        ("signing_keys", "published_until"),
        ("login_sessions", "last_used"),
        ("access_tokens", "session_id"),
        ("refresh_tokens", "offline"),
        ("clients", "backchannel_logout_uri"),
    ] {
        assert!(schema.has_column(table, col).await.expect("has_column"), "{table}.{col} added");
    }
    assert!(Migrator::get_pending_migrations(&db).await.expect("pending").is_empty(), "nothing left to apply");
    Migrator::up(&db, None).await.expect("a second up is a no-op");

    Migrator::down(&db, None).await.expect("migrate down");
    for t in TABLES {
        assert!(!schema.has_table(t).await.expect("has_table"), "{t} is gone after down");
    }
    Migrator::up(&db, None).await.expect("migrate up again");
    assert!(schema.has_table("refresh_tokens").await.expect("has_table"));
}
