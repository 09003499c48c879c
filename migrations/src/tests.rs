//! The migrations run on an empty database, roll back, and run again.
//!
//! This runs on SQLite; `oidc-store`'s tests also migrate a fresh PostgreSQL database.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Database;

use crate::Migrator;

/// Every table the migrations create.
const TABLES: [&str; 18] = [
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
    "role_definitions",
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

/// Roles granted before role definitions existed become defined roles, so
/// their grants stay valid; the built-in registration roles need no definition.
#[tokio::test]
async fn granted_roles_are_defined_by_the_role_definitions_migration() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    let db = Database::connect("sqlite::memory:").await.expect("open an in-memory database");
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261206_000050_role_definitions")
        .expect("the migration is listed");
    let before = <u32 as TryFrom<usize>>::try_from(before).expect("few migrations");
    Migrator::up(&db, Some(before)).await.expect("migrate up to role definitions");
    db.execute_unprepared(
        "INSERT INTO role_assignments (realm, holder_kind, holder_id, role) VALUES \
         ('main', 'user', 'u1', 'reader'), ('main', 'client', 'c1', 'reader'), \
         ('main', 'user', 'u1', 'create-client'), ('other', 'user', 'u2', 'writer')",
    )
    .await
    .expect("grant");
    Migrator::up(&db, None).await.expect("the role definitions migration");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT realm, name FROM role_definitions ORDER BY realm, name",
        ))
        .await
        .expect("select");
    let defined: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.try_get::<String>("", "realm").expect("realm"), r.try_get::<String>("", "name").expect("name")))
        .collect();
    assert_eq!(defined, [("main".to_owned(), "reader".to_owned()), ("other".to_owned(), "writer".to_owned())]);
}
