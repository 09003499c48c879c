//! Store tests, written once and run on SQLite and on PostgreSQL.
//!
//! Each test gets a fresh database: `sqlite::memory:`, a temporary SQLite
//! file (for the WAL and concurrency tests), or a new database named
//! `oidc_test_<pid>_<n>` on the PostgreSQL server of `OIDC_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped afterwards
//! even when the test fails.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use migration::{Migrator, MigratorTrait as _};
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::model::{
    AccessTokenRecord, Address, AuditEvent, Client, ClientSettings, ClientType, CodeRecord, Consent, GrantType, JwtAlg,
    KeyRecord, KeyState, LoginSession, PasswordHash, Realm, RefreshTokenRecord, ResponseType, StandardClaims, User,
};
use oidc_core::pkce::PkceMethod;
use oidc_core::registration::{ClientRegistration, InitialAccessToken, PolicyKind};
use oidc_core::repo::{
    AuditRepo as _, CleanupRepo as _, ClientRepo as _, CodeContext, CodeRepo as _, ConsentRepo as _, KeyRepo as _,
    RealmRepo as _, Redeemed, Registered, RegistrationRepo as _, ReplayRepo as _, RepoError, RoleHolder, RoleRepo as _,
    Rotated, SessionRepo as _, ThrottleRepo as _, TokenRepo as _, UserRepo as _,
};
use oidc_core::scope::Scope;
use oidc_core::secret::{ClientSecret, Digest};
use oidc_core::subject::SubjectType;
use oidc_core::throttle::FailureCount;
use oidc_core::time::UnixTime;
use sea_orm::{ConnectionTrait as _, Database, DatabaseConnection, DbBackend, EntityTrait as _, Statement};

use crate::entity::{
    access_tokens, auth_codes, clients, consents, login_sessions, realms, refresh_tokens, signing_keys, users,
};
use crate::{Store, StoreError, is_loopback_host, names_ssl_mode, plain_on_loopback};
use sea_orm::sqlx::postgres::PgConnectOptions;

// ---------------------------------------------------------------------------
// Databases.

/// Where a test runs.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// `sqlite::memory:`.
    SqliteMemory,
    /// A new file in the temporary directory.
    SqliteFile,
    /// A new database on the PostgreSQL server.
    Postgres,
}

/// Makes database and file names unique within this process.
static SEQ: AtomicU32 = AtomicU32::new(0);

fn postgres_server_url() -> String {
    std::env::var("OIDC_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `db`, keeping any query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// What to remove when a test is over.
enum Cleanup {
    Nothing,
    Files(Vec<PathBuf>),
    DropDatabase { admin: DatabaseConnection, name: String },
}

/// A fresh database and the store opened on its URL.
struct TestDb {
    store: Store,
    cleanup: Cleanup,
}

impl TestDb {
    /// Creates an empty database on `backend` and connects a [`Store`] to its URL.
    async fn open(backend: Backend) -> TestDb {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let (url, cleanup) = match backend {
            Backend::SqliteMemory => ("sqlite::memory:".to_owned(), Cleanup::Nothing),
            Backend::SqliteFile => {
                let path = std::env::temp_dir().join(format!("oidc_store_test_{}_{n}.sqlite", std::process::id()));
                let files =
                    ["", "-wal", "-shm"].iter().map(|s| PathBuf::from(format!("{}{s}", path.display()))).collect();
                (format!("sqlite://{}", path.display()), Cleanup::Files(files))
            }
            Backend::Postgres => {
                let server = postgres_server_url();
                let admin = Database::connect(server.as_str()).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL must be reachable at {server} (set OIDC_TEST_POSTGRES_URL): {e}")
                });
                let name = format!("oidc_test_{}_{n}", std::process::id());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                (with_database(&server, &name), Cleanup::DropDatabase { admin, name })
            }
        };
        let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        TestDb { store, cleanup }
    }

    /// Closes the store and removes the database.
    async fn close(self) {
        let _ = self.store.main.close().await;
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Files(files) => {
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
            }
            Cleanup::DropDatabase { admin, name } => {
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .expect("drop the test database");
                let _ = admin.close().await;
            }
        }
    }
}

/// Runs `check` on a fresh database of `backend`, migrated if `migrate`, and
/// removes the database afterwards whether or not `check` panicked.
async fn run_with<F, Fut>(backend: Backend, migrate: bool, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::open(backend).await;
    if migrate {
        db.store.migrate().await.expect("migrate");
    }
    let outcome = tokio::spawn(check(db.store.clone())).await;
    db.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// Runs `check` on a fresh, migrated database of `backend`.
async fn run<F, Fut>(backend: Backend, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, true, check).await;
}

/// Declares a module named after `check` with one test per backend
/// (`sqlite`, `postgres`, and `sqlite_file` when asked for).
macro_rules! on_backends {
    ($check:ident) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Backend::SqliteMemory, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Backend::Postgres, super::$check).await;
            }
        }
    };
    ($check:ident, with_sqlite_file) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Backend::SqliteMemory, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_file() {
                super::run(super::Backend::SqliteFile, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Backend::Postgres, super::$check).await;
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Fixtures.

fn realm(name: &str) -> Realm {
    Realm { name: name.into(), secret_key: vec![0, 1, 2, 255], created_at: UnixTime(5) }
}

fn key(kid: &str, created_at: i64) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        realm: "r".into(),
        alg: "RS256".into(),
        private_pkcs8: vec![0x30, 0x82, 0, 255, 7],
        state: KeyState::Active,
        created_at: UnixTime(created_at),
        published_until: None,
    }
}

fn client(realm: &str, id: &str) -> Client {
    let mut settings = ClientSettings::new(
        "App",
        ClientType::Confidential,
        vec!["https://a.example/cb".into(), "https://a.example/cb?x=\"1\"".into()],
    );
    settings.response_types = vec![ResponseType::Code, ResponseType::CodeIdTokenToken];
    settings.grant_types = vec![GrantType::AuthorizationCode, GrantType::ClientCredentials];
    settings.post_logout_redirect_uris = vec!["https://a.example/bye".into()];
    settings.reuse_consent = false;
    settings.website_url = Some("https://a.example".into());
    settings.contact_email = Some("ops@a.example".into());
    settings.allowed_scopes = vec!["openid".into(), "email".into()];
    settings.subject_type = SubjectType::Pairwise;
    settings.sector_identifier_uri = Some("https://a.example/sector.json".into());
    settings.jwks = Some(r#"{"keys":[]}"#.into());
    settings.default_max_age = Some(300);
    settings.userinfo_signed_response_alg = Some(JwtAlg::Es256);
    settings.token_endpoint_auth_method = Some(oidc_core::model::TokenAuthMethod::ClientSecretPost);
    settings.policy_url = Some("https://a.example/privacy".into());
    settings.default_scopes = vec!["email".into()];
    settings.description = Some("An app".into());
    settings.root_url = Some("https://a.example".into());
    settings.web_origins = vec!["+".into(), "https://b.example".into()];
    settings.logout = oidc_core::model::ClientLogout {
        frontchannel_uri: Some("https://a.example/fc".into()),
        frontchannel_session_required: true,
        backchannel_uri: Some("https://a.example/bc".into()),
        backchannel_session_required: false,
    };
    settings.pkce_method = Some(oidc_core::pkce::PkceMethod::S256);
    settings.full_scope_allowed = false;
    settings.role_scope = vec!["reader".into()];
    settings.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
    settings.access_token_signed_response_alg = Some(JwtAlg::Es256);
    Client {
        realm: realm.into(),
        client_id: id.into(),
        client_secret: Some(ClientSecret::new("secret-secret-secret".into())),
        date_created: UnixTime(10),
        settings,
    }
}

fn user(realm: &str, id: &str, username: &str) -> User {
    User {
        id: id.into(),
        realm: realm.into(),
        username: username.into(),
        password_hash: Some(PasswordHash("$argon2id$v=19$x".into())),
        active: true,
        claims: StandardClaims {
            name: Some("Alice Liddell".into()),
            given_name: Some("Alice".into()),
            family_name: Some("Liddell".into()),
            middle_name: None,
            nickname: Some("al".into()),
            preferred_username: Some("alice".into()),
            profile: Some("https://a.example/alice".into()),
            picture: None,
            website: Some("https://alice.example".into()),
            gender: Some("female".into()),
            birthdate: Some("1852-05-04".into()),
            zoneinfo: Some("Europe/London".into()),
            locale: Some("en-GB".into()),
            email: Some("alice@a.example".into()),
            email_verified: true,
            phone_number: Some("+44 1865 000000".into()),
            phone_number_verified: false,
            address: Address {
                formatted: Some("Christ Church, Oxford".into()),
                street_address: Some("St Aldates".into()),
                locality: Some("Oxford".into()),
                region: None,
                postal_code: Some("OX1 1DP".into()),
                country: Some("UK".into()),
            },
        },
        created_at: UnixTime(1),
        updated_at: UnixTime(2),
        attributes: [("department".to_owned(), serde_json::json!("R&D")), ("level".to_owned(), serde_json::json!(3))]
            .into_iter()
            .collect(),
    }
}

fn session(digest: &str, user_id: &str, expires_at: i64) -> LoginSession {
    LoginSession {
        digest: Digest(digest.into()),
        id: format!("sid-{digest}"),
        realm: "r".into(),
        user_id: user_id.into(),
        auth_time: UnixTime(100),
        expires_at: UnixTime(expires_at),
        last_used: UnixTime(100),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome".into()),
        address: Some("192.0.2.7".into()),
    }
}

fn consent(user_id: &str, client_id: &str, scope: &str) -> Consent {
    Consent {
        realm: "r".into(),
        user_id: user_id.into(),
        client_id: client_id.into(),
        scope: Scope::parse(scope).expect("scope"),
        given_at: UnixTime(1),
        expires_at: UnixTime(2),
    }
}

fn code(digest: &str, client_id: &str, user_id: &str, grant: &str) -> CodeRecord {
    CodeRecord {
        digest: Digest(digest.into()),
        realm: "r".into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        redirect_uri: "https://a.example/cb".into(),
        scope: Scope::parse("openid email").expect("scope"),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some(PkceMethod::S256),
        auth_time: UnixTime(100),
        session_id: Some("sid".into()),
        expires_at: UnixTime(700),
        grant_id: grant.into(),
        acr: Some("1".into()),
        claims: Some(r#"{"userinfo":{"email":null}}"#.into()),
        resources: vec!["https://api.example/".into(), "urn:example:ledger".into()],
    }
}

fn access(digest: &str, client_id: &str, user_id: &str, grant: &str) -> AccessTokenRecord {
    AccessTokenRecord {
        digest: Digest(digest.into()),
        realm: "r".into(),
        client_id: client_id.into(),
        user_id: (!user_id.is_empty()).then(|| user_id.into()),
        scope: Scope::parse("openid profile").expect("scope"),
        expires_at: UnixTime(5000),
        grant_id: grant.into(),
        claims: Some(r#"{"userinfo":{"email":null}}"#.into()),
        issued_at: UnixTime(1000),
        session_id: Some("sid".into()),
        audience: vec!["https://api.example".into()],
        jti: format!("j-{digest}"),
    }
}

fn refresh(digest: &str, client_id: &str, user_id: &str, grant: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: Digest(digest.into()),
        realm: "r".into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        scope: Scope::parse("openid offline_access").expect("scope"),
        expires_at: UnixTime(9000),
        grant_id: grant.into(),
        auth_time: UnixTime(100),
        session_id: Some("sid".into()),
        claims: None,
        issued_at: UnixTime(1000),
        audience: Vec::new(),
        jti: format!("j-{digest}"),
        offline: true,
    }
}

/// The `Debug` text of a record: every field, secrets redacted.
/// Redeems a code as the token endpoint does, keeping only the outcome.
async fn redeem(
    s: &Store,
    realm: RealmName<'_>,
    digest: &Digest,
    client_id: ClientId<'_>,
) -> Result<Redeemed, RepoError> {
    Ok(s.redeem_code_with_context(realm, digest, client_id, UnixTime(0)).await?.0)
}

fn dbg(v: &impl std::fmt::Debug) -> String {
    format!("{v:?}")
}

fn is_conflict<T>(r: Result<T, RepoError>) -> bool {
    matches!(r, Err(RepoError::Conflict(_)))
}

fn is_not_found<T>(r: Result<T, RepoError>) -> bool {
    matches!(r, Err(RepoError::NotFound(_)))
}

fn is_backend<T>(r: Result<T, RepoError>) -> bool {
    matches!(r, Err(RepoError::Backend(_)))
}

// ---------------------------------------------------------------------------
// Schema.

/// Every table exists after the migrations, with the columns the entities read.
async fn migrations_create_every_table_on_an_empty_database(s: Store) {
    let db = s.connection();
    assert!(!Migrator::get_pending_migrations(db).await.expect("pending").is_empty(), "the database starts empty");
    s.migrate().await.expect("migrate an empty database");
    assert!(Migrator::get_pending_migrations(db).await.expect("pending").is_empty(), "every migration applied");
    s.migrate().await.expect("migrating again is a no-op");
    // Selecting every entity column fails if a table or column is missing.
    assert!(realms::Entity::find().all(db).await.expect("realms").is_empty());
    assert!(signing_keys::Entity::find().all(db).await.expect("signing_keys").is_empty());
    assert!(clients::Entity::find().all(db).await.expect("clients").is_empty());
    assert!(users::Entity::find().all(db).await.expect("users").is_empty());
    assert!(login_sessions::Entity::find().all(db).await.expect("login_sessions").is_empty());
    assert!(consents::Entity::find().all(db).await.expect("consents").is_empty());
    assert!(auth_codes::Entity::find().all(db).await.expect("auth_codes").is_empty());
    assert!(access_tokens::Entity::find().all(db).await.expect("access_tokens").is_empty());
    assert!(refresh_tokens::Entity::find().all(db).await.expect("refresh_tokens").is_empty());
}

mod migrations_create_every_table_on_an_empty_database {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::run_with(super::Backend::SqliteMemory, false, super::migrations_create_every_table_on_an_empty_database)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_file() {
        super::run_with(super::Backend::SqliteFile, false, super::migrations_create_every_table_on_an_empty_database)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::run_with(super::Backend::Postgres, false, super::migrations_create_every_table_on_an_empty_database)
            .await;
    }
}

// ---------------------------------------------------------------------------
// Connecting.

#[tokio::test]
async fn sqlite_file_url_without_mode_is_created_in_wal_mode() {
    let path = std::env::temp_dir().join(format!("oidc_store_wal_{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("a missing file is created");
    store.migrate().await.expect("migrate");
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode"))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "wal");
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA synchronous"))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(row.try_get_by_index::<i64>(0).expect("integer"), 1, "synchronous = NORMAL");
    let _ = store.main.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn sqlite_memory_is_one_database_for_the_whole_pool() {
    let store = Store::connect("sqlite::memory:").await.expect("connect");
    store.migrate().await.expect("migrate");
    // Many tasks at once: each would see an empty database if they used different ones.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.create_realm(&realm(&format!("r{i}"))).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("create realm");
    }
    assert_eq!(store.realm_names().await.expect("names").len(), 8);
    let other = Store::connect("sqlite::memory:").await.expect("connect");
    other.migrate().await.expect("migrate");
    assert!(other.realm_names().await.expect("names").is_empty(), "each store has its own memory database");
}

#[tokio::test]
async fn unsupported_url_is_an_error() {
    assert!(matches!(Store::connect("mysql://localhost/x").await, Err(StoreError::UnsupportedUrl)));
}

#[test]
fn loopback_hosts_are_told_apart_from_remote_ones() {
    for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in ["10.0.0.1", "db", "db.example.com", "localhost.example.com", "[2001:db8::1]", ""] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[test]
fn a_url_that_names_its_tls_mode_keeps_it() {
    if std::env::var_os("PGSSLMODE").is_some() {
        return; // the environment chooses for every URL
    }
    assert!(names_ssl_mode("postgres://u@127.0.0.1/db?sslmode=require"));
    assert!(names_ssl_mode("postgres://u@127.0.0.1/db?application_name=x&ssl-mode=verify-full"));
    assert!(!names_ssl_mode("postgres://u@127.0.0.1/db"));
    assert!(!names_ssl_mode("postgres://u@127.0.0.1/db?application_name=sslmode"));
    let parse = |url: &str| url.parse::<PgConnectOptions>().expect("options");
    let mode = |url: &str| format!("{:?}", plain_on_loopback(parse(url)).get_ssl_mode());
    assert_eq!(mode("postgres://u@127.0.0.1:5432/db"), "Disable");
    assert_eq!(mode("postgres://u@localhost/db"), "Disable");
    assert_eq!(mode("postgres://u@[::1]:5432/db"), "Disable");
    assert_eq!(mode("postgres://u@db.example.com/db?host=/var/run/postgresql"), "Disable");
    assert_eq!(mode("postgres://u@db.example.com/db"), "Prefer");
}

/// The pool's own connections to a PostgreSQL server on this host go
/// without TLS unless the URL asks for it; with `sslmode=require` they use
/// it (when the server offers TLS).
#[tokio::test]
async fn postgres_on_loopback_connects_without_tls_unless_asked() {
    let server = postgres_server_url();
    if std::env::var_os("PGSSLMODE").is_some() || names_ssl_mode(&server) {
        return; // the operator's choice, kept as it is
    }
    let ssl = |url: String| async move {
        let store = Store::connect(&url).await.expect("connect");
        let row = store
            .main
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT ssl, current_setting('ssl') = 'on' AS offered FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await
            .expect("query")
            .expect("a row");
        (row.try_get::<bool>("", "ssl").expect("ssl"), row.try_get::<bool>("", "offered").expect("offered"))
    };
    let plain = ssl(server.clone()).await;
    let loopback = server.parse::<PgConnectOptions>().is_ok_and(|o| is_loopback_host(o.get_host()));
    if loopback {
        assert!(!plain.0, "a loopback connection without sslmode went over TLS");
    }
    let sep = if server.contains('?') { '&' } else { '?' };
    let required = ssl(format!("{server}{sep}sslmode=require")).await;
    if required.1 {
        assert!(required.0, "sslmode=require was not kept");
    }
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "t"), "postgres://u@h:5432/t");
    assert_eq!(with_database("postgres://u@h/postgres?sslmode=disable", "t"), "postgres://u@h/t?sslmode=disable");
    assert_eq!(with_database("postgres://u@h", "t"), "postgres://u@h/t");
}

// ---------------------------------------------------------------------------
// Realms and keys.

/// Realms round-trip; a duplicate name is `Conflict`; names come sorted.
async fn realms_roundtrip_and_conflict(s: Store) {
    assert!(s.realm(RealmName::new("r")).await.expect("realm").is_none());
    s.create_realm(&realm("r")).await.expect("create");
    s.create_realm(&realm("a")).await.expect("create");
    let r = s.realm(RealmName::new("r")).await.expect("realm").expect("stored");
    assert_eq!((r.name.as_str(), r.secret_key, r.created_at), ("r", vec![0, 1, 2, 255], UnixTime(5)));
    assert!(is_conflict(s.create_realm(&realm("r")).await), "duplicate realm");
    assert_eq!(s.realm_names().await.expect("names"), ["a", "r"]);
}
on_backends!(realms_roundtrip_and_conflict);

/// Keys round-trip in creation order; state changes; a missing kid is `NotFound`.
async fn keys_roundtrip_state_and_not_found(s: Store) {
    s.add_key(&key("k2", 7)).await.expect("add");
    s.add_key(&key("k1", 6)).await.expect("add");
    assert!(is_conflict(s.add_key(&key("k1", 9)).await), "duplicate kid");
    s.set_key_state(RealmName::new("r"), "k1", KeyState::Retired, Some(UnixTime(99))).await.expect("set state");
    let keys = s.keys(RealmName::new("r")).await.expect("keys");
    let got: Vec<_> = keys.iter().map(|k| (k.kid.as_str(), k.state, k.created_at.secs(), k.published_until)).collect();
    assert_eq!(got, [("k1", KeyState::Retired, 6, Some(UnixTime(99))), ("k2", KeyState::Active, 7, None)]);
    assert_eq!((keys[0].alg.as_str(), keys[0].private_pkcs8.as_slice()), ("RS256", &[0x30, 0x82, 0, 255, 7][..]));
    assert!(s.keys(RealmName::new("other")).await.expect("keys").is_empty(), "keys are scoped by realm");
    assert!(is_not_found(s.set_key_state(RealmName::new("r"), "nope", KeyState::Revoked, None).await));
    assert!(
        is_not_found(s.set_key_state(RealmName::new("other"), "k1", KeyState::Revoked, None).await),
        "scoped by realm"
    );
}
on_backends!(keys_roundtrip_state_and_not_found);

// ---------------------------------------------------------------------------
// Clients.

/// A client round-trips every field; clients are listed by client_id.
async fn clients_roundtrip_every_field(s: Store) {
    let c = client("r", "c1");
    s.create_client(&c).await.expect("create");
    let got = s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("client").expect("stored");
    assert_eq!(dbg(&got), dbg(&c));
    assert_eq!(got.client_secret.as_ref().map(ClientSecret::secret), Some("secret-secret-secret"));
    let mut public = client("r", "c0");
    public.client_type = ClientType::Public;
    public.client_secret = None;
    public.response_types = vec![ResponseType::IdToken];
    public.jwt_alg = JwtAlg::Hs256;
    public.redirect_uris = vec![];
    public.allowed_scopes = vec![];
    public.enabled = false;
    s.create_client(&public).await.expect("create");
    let got = s.client(RealmName::new("r"), ClientId::new("c0")).await.expect("client").expect("stored");
    assert_eq!(dbg(&got), dbg(&public));
    let ids: Vec<String> =
        s.clients(RealmName::new("r")).await.expect("clients").into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, ["c0", "c1"]);
    assert!(
        s.client(RealmName::new("other"), ClientId::new("c1")).await.expect("client").is_none(),
        "clients are scoped by realm"
    );
}
on_backends!(clients_roundtrip_every_field);

/// A duplicate client_id is `Conflict` in its realm, and allowed in another.
async fn clients_duplicate_client_id_is_conflict(s: Store) {
    s.create_client(&client("r", "c1")).await.expect("create");
    assert!(is_conflict(s.create_client(&client("r", "c1")).await), "duplicate client_id");
    s.create_client(&client("r2", "c1")).await.expect("the same client_id in another realm");
}
on_backends!(clients_duplicate_client_id_is_conflict);

/// `update_client` replaces every field; a missing client is `NotFound`.
async fn clients_update_replaces_and_missing_is_not_found(s: Store) {
    s.create_client(&client("r", "c1")).await.expect("create");
    let mut changed = client("r", "c1");
    changed.name = "Renamed".into();
    changed.client_type = ClientType::Public;
    changed.client_secret = None;
    changed.redirect_uris = vec!["https://b.example/cb".into()];
    changed.require_consent = false;
    changed.terms_url = Some("https://b.example/terms".into());
    s.update_client(&changed).await.expect("update");
    assert_eq!(
        dbg(&s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("client").expect("stored")),
        dbg(&changed)
    );
    assert!(is_not_found(s.update_client(&client("r", "zz")).await));
    assert!(is_not_found(s.update_client(&client("r2", "c1")).await), "scoped by realm");
}
on_backends!(clients_update_replaces_and_missing_is_not_found);

/// `delete_client` removes the client's codes, tokens and consents, and
/// nothing of other clients; deleting a missing client is `NotFound`.
async fn clients_delete_removes_codes_tokens_and_consents(s: Store) {
    s.create_client(&client("r", "c1")).await.expect("create");
    s.create_client(&client("r", "c2")).await.expect("create");
    s.save_code(&code("code1", "c1", "u1", "g1")).await.expect("code");
    s.save_tokens(&access("at1", "c1", "u1", "g1"), Some(&refresh("rt1", "c1", "u1", "g1"))).await.expect("tokens");
    s.save_consent(&consent("u1", "c1", "openid")).await.expect("consent");
    s.save_code(&code("code2", "c2", "u1", "g2")).await.expect("code");
    s.save_tokens(&access("at2", "c2", "u1", "g2"), Some(&refresh("rt2", "c2", "u1", "g2"))).await.expect("tokens");
    s.save_consent(&consent("u1", "c2", "openid")).await.expect("consent");

    s.delete_client(RealmName::new("r"), ClientId::new("c1")).await.expect("delete");
    assert!(s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("client").is_none());
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("code1".into()), ClientId::new("c1")).await.expect("redeem"),
        Redeemed::Unknown
    ));
    assert!(s.access_token(RealmName::new("r"), &Digest("at1".into())).await.expect("token").is_none());
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::Unknown
    ));
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("consent").is_none());

    assert!(
        s.client(RealmName::new("r"), ClientId::new("c2")).await.expect("client").is_some(),
        "the other client stays"
    );
    assert!(s.access_token(RealmName::new("r"), &Digest("at2".into())).await.expect("token").is_some());
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c2")).await.expect("consent").is_some());
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("code2".into()), ClientId::new("c2")).await.expect("redeem"),
        Redeemed::First(_)
    ));

    assert!(is_not_found(s.delete_client(RealmName::new("r"), ClientId::new("c1")).await), "deleting a missing client");
}
on_backends!(clients_delete_removes_codes_tokens_and_consents);

/// A stored value `oidc-core` cannot parse is a `Backend` error, not a panic.
async fn corrupt_stored_values_are_backend_errors(s: Store) {
    s.create_client(&client("r", "c1")).await.expect("create");
    s.create_client(&client("r", "c2")).await.expect("create");
    s.add_key(&key("k1", 1)).await.expect("add key");
    s.save_code(&code("code1", "c1", "u1", "g1")).await.expect("code");
    let db = s.connection();
    for sql in [
        "UPDATE clients SET client_type = 'bogus' WHERE client_id = 'c1'",
        "UPDATE clients SET response_types = 'not json' WHERE client_id = 'c2'",
        "UPDATE signing_keys SET state = 'lost'",
        "UPDATE auth_codes SET code_challenge_method = 'S512'",
    ] {
        db.execute_unprepared(sql).await.expect(sql);
    }
    assert!(is_backend(s.client(RealmName::new("r"), ClientId::new("c1")).await), "unknown client_type");
    assert!(is_backend(s.client(RealmName::new("r"), ClientId::new("c2")).await), "response_types is not JSON");
    assert!(is_backend(s.clients(RealmName::new("r")).await), "a corrupt row fails the list");
    assert!(is_backend(s.keys(RealmName::new("r")).await), "unknown key state");
    assert!(
        is_backend(redeem(&s, RealmName::new("r"), &Digest("code1".into()), ClientId::new("c1")).await),
        "unknown PKCE method"
    );
    let e = s.client(RealmName::new("r"), ClientId::new("c1")).await.expect_err("corrupt");
    assert!(e.to_string().contains("clients.client_type"), "the error names the column: {e}");
}
on_backends!(corrupt_stored_values_are_backend_errors);

// ---------------------------------------------------------------------------
// Users and sessions.

/// A user round-trips every claim; found by id and by username; listed by username.
async fn users_roundtrip_every_claim(s: Store) {
    let u = user("r", "u1", "alice");
    s.create_user(&u).await.expect("create");
    let mut bare = user("r", "u0", "bob");
    bare.password_hash = None;
    bare.active = false;
    bare.claims = StandardClaims::default();
    s.create_user(&bare).await.expect("create");
    let got = s.user(RealmName::new("r"), UserId::new("u1")).await.expect("user").expect("stored");
    assert_eq!(dbg(&got), dbg(&u));
    assert_eq!(got.claims, u.claims);
    assert_eq!(got.password_hash, u.password_hash);
    let got = s.user_by_username(RealmName::new("r"), "bob").await.expect("user").expect("stored");
    assert_eq!(dbg(&got), dbg(&bare));
    assert_eq!(got.claims, StandardClaims::default());
    let names: Vec<String> =
        s.users(RealmName::new("r")).await.expect("users").into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(
        s.user(RealmName::new("other"), UserId::new("u1")).await.expect("user").is_none(),
        "users are scoped by realm"
    );
    assert!(s.user_by_username(RealmName::new("r"), "carol").await.expect("user").is_none());
}
on_backends!(users_roundtrip_every_claim);

/// A duplicate username or id is `Conflict` in its realm, and allowed in another.
async fn users_duplicate_username_is_conflict(s: Store) {
    s.create_user(&user("r", "u1", "alice")).await.expect("create");
    assert!(is_conflict(s.create_user(&user("r", "u2", "alice")).await), "duplicate username");
    assert!(is_conflict(s.create_user(&user("r", "u1", "alice2")).await), "duplicate id");
    s.create_user(&user("r2", "u1", "alice")).await.expect("the same username in another realm");
}
on_backends!(users_duplicate_username_is_conflict);

/// `set_password_hash` replaces the hash; a missing user is `NotFound`.
async fn users_set_password_hash(s: Store) {
    s.create_user(&user("r", "u1", "alice")).await.expect("create");
    s.set_password_hash(RealmName::new("r"), UserId::new("u1"), &PasswordHash("new-hash".into())).await.expect("set");
    let got = s.user(RealmName::new("r"), UserId::new("u1")).await.expect("user").expect("stored");
    assert_eq!(got.password_hash, Some(PasswordHash("new-hash".into())));
    assert_eq!(got.claims, user("r", "u1", "alice").claims, "the claims are untouched");
    assert!(is_not_found(
        s.set_password_hash(RealmName::new("r"), UserId::new("nope"), &PasswordHash("x".into())).await
    ));
}
on_backends!(users_set_password_hash);

/// `delete_user` removes the user's sessions, codes, tokens and consents,
/// and nothing of other users; deleting a missing user is `NotFound`.
async fn users_delete_removes_sessions_codes_tokens_and_consents(s: Store) {
    s.create_user(&user("r", "u1", "alice")).await.expect("create");
    s.create_user(&user("r", "u2", "bob")).await.expect("create");
    for u in ["u1", "u2"] {
        s.create_session(&session(&format!("s-{u}"), u, 1000)).await.expect("session");
        s.save_code(&code(&format!("code-{u}"), "c1", u, &format!("g-{u}"))).await.expect("code");
        let (at, rt) = (access(&format!("at-{u}"), "c1", u, "g"), refresh(&format!("rt-{u}"), "c1", u, "g"));
        s.save_tokens(&at, Some(&rt)).await.expect("tokens");
        s.save_consent(&consent(u, "c1", "openid")).await.expect("consent");
    }
    s.delete_user(RealmName::new("r"), UserId::new("u1")).await.expect("delete");
    let now = UnixTime(500);
    assert!(s.user(RealmName::new("r"), UserId::new("u1")).await.expect("user").is_none());
    assert!(s.session(RealmName::new("r"), &Digest("s-u1".into()), now).await.expect("session").is_none());
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("code-u1".into()), ClientId::new("c1")).await.expect("redeem"),
        Redeemed::Unknown
    ));
    assert!(s.access_token(RealmName::new("r"), &Digest("at-u1".into())).await.expect("token").is_none());
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt-u1".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::Unknown
    ));
    assert!(s.consents_of_user(RealmName::new("r"), UserId::new("u1")).await.expect("consents").is_empty());

    assert!(
        s.session(RealmName::new("r"), &Digest("s-u2".into()), now).await.expect("session").is_some(),
        "other users stay"
    );
    assert!(s.access_token(RealmName::new("r"), &Digest("at-u2".into())).await.expect("token").is_some());
    assert_eq!(s.consents_of_user(RealmName::new("r"), UserId::new("u2")).await.expect("consents").len(), 1);

    assert!(is_not_found(s.delete_user(RealmName::new("r"), UserId::new("u1")).await), "deleting a missing user");
}
on_backends!(users_delete_removes_sessions_codes_tokens_and_consents);

/// A session is returned only before it expires and in its realm;
/// deleting it (twice) succeeds.
async fn sessions_expired_are_not_returned(s: Store) {
    let x = session("sd", "u1", 200);
    s.create_session(&x).await.expect("create");
    assert!(is_conflict(s.create_session(&x).await), "duplicate digest");
    let got = s.session(RealmName::new("r"), &x.digest, UnixTime(199)).await.expect("session").expect("unexpired");
    assert_eq!(dbg(&got), dbg(&x));
    assert!(
        s.session(RealmName::new("r"), &x.digest, UnixTime(200)).await.expect("session").is_none(),
        "expired at expires_at"
    );
    assert!(
        s.session(RealmName::new("r"), &x.digest, UnixTime(10_000)).await.expect("session").is_none(),
        "long expired"
    );
    assert!(
        s.session(RealmName::new("other"), &x.digest, UnixTime(150)).await.expect("session").is_none(),
        "scoped by realm"
    );
    assert!(s.session(RealmName::new("r"), &Digest("nope".into()), UnixTime(150)).await.expect("session").is_none());
    s.delete_session(RealmName::new("other"), &x.digest).await.expect("deleting in another realm is a no-op");
    assert!(s.session(RealmName::new("r"), &x.digest, UnixTime(150)).await.expect("session").is_some());
    s.delete_session(RealmName::new("r"), &x.digest).await.expect("delete");
    assert!(s.session(RealmName::new("r"), &x.digest, UnixTime(150)).await.expect("session").is_none());
    s.delete_session(RealmName::new("r"), &x.digest).await.expect("logging out twice succeeds");
}
on_backends!(sessions_expired_are_not_returned);

/// Sessions by public id and by user, touched (SSO Session Idle), with the
/// clients they issued to (Back-Channel Logout 1.0 §2.7).
async fn sessions_by_id_by_user_touched_and_their_clients(s: Store) {
    let a = session("sa", "u1", 500);
    let mut b = session("sb", "u1", 600);
    b.auth_time = UnixTime(300);
    s.create_session(&a).await.expect("create");
    s.create_session(&b).await.expect("create");
    s.create_session(&session("sc", "u2", 600)).await.expect("create");
    let got = s.session_by_id(RealmName::new("r"), &a.id, UnixTime(150)).await.expect("by id").expect("found");
    assert_eq!(dbg(&got), dbg(&a), "every column round-trips");
    assert!(s.session_by_id(RealmName::new("r"), &a.id, UnixTime(500)).await.expect("by id").is_none(), "expired");
    assert!(
        s.session_by_id(RealmName::new("other"), &a.id, UnixTime(150)).await.expect("by id").is_none(),
        "scoped by realm"
    );
    let mine: Vec<String> = s
        .sessions_of_user(RealmName::new("r"), UserId::new("u1"), UnixTime(150))
        .await
        .expect("of user")
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(mine, vec![b.id.clone(), a.id.clone()], "newest first, other users' left out");
    s.touch_session(RealmName::new("r"), &a.id, UnixTime(400), UnixTime(900)).await.expect("touch");
    let t = s
        .session_by_id(RealmName::new("r"), &a.id, UnixTime(600))
        .await
        .expect("by id")
        .expect("extended by the touch");
    assert_eq!((t.last_used, t.expires_at), (UnixTime(400), UnixTime(900)));
    for c in ["c2", "c1", "c2"] {
        s.add_session_client(RealmName::new("r"), &a.id, ClientId::new(c), UnixTime(if c == "c2" { 10 } else { 20 }))
            .await
            .expect("add client");
    }
    assert_eq!(
        s.session_clients(RealmName::new("r"), &a.id).await.expect("clients"),
        vec!["c2", "c1"],
        "once each, by first use"
    );
    assert!(s.session_clients(RealmName::new("r"), &b.id).await.expect("clients").is_empty());
}
on_backends!(sessions_by_id_by_user_touched_and_their_clients);

/// Ending a session removes it, its clients, its access tokens and its
/// refresh tokens but offline ones, and spends its codes, in one go.
async fn ending_a_session_ends_its_tokens_but_not_offline_ones(s: Store) {
    let x = session("se", "u1", 5000);
    s.create_session(&x).await.expect("create");
    s.add_session_client(RealmName::new("r"), &x.id, ClientId::new("c1"), UnixTime(1)).await.expect("add client");
    let mut at = access("at1", "c1", "u1", "g1");
    at.session_id = Some(x.id.clone());
    let mut online = refresh("rt1", "c1", "u1", "g1");
    online.session_id = Some(x.id.clone());
    online.offline = false;
    s.save_tokens(&at, Some(&online)).await.expect("tokens");
    let mut offline = refresh("rt2", "c1", "u1", "g2");
    offline.session_id = Some(x.id.clone());
    s.save_tokens(&access("at2", "c1", "u1", "g2"), Some(&offline)).await.expect("offline tokens");
    let mut c = code("cd1", "c1", "u1", "g3");
    c.session_id = Some(x.id.clone());
    s.save_code(&c).await.expect("code");
    let other = access("at3", "c1", "u1", "g4");
    s.save_tokens(&other, None).await.expect("a token of another session");
    assert!(s.unused_refresh_token(RealmName::new("r"), &online.digest).await.expect("read").is_some());

    s.end_session(RealmName::new("r"), &x.id).await.expect("end");
    assert!(s.session_by_id(RealmName::new("r"), &x.id, UnixTime(1)).await.expect("by id").is_none());
    assert!(s.session_clients(RealmName::new("r"), &x.id).await.expect("clients").is_empty());
    assert!(
        s.access_token(RealmName::new("r"), &at.digest).await.expect("read").is_none(),
        "the session's access token"
    );
    assert!(
        s.unused_refresh_token(RealmName::new("r"), &online.digest).await.expect("read").is_none(),
        "its refresh token"
    );
    let kept = s
        .unused_refresh_token(RealmName::new("r"), &offline.digest)
        .await
        .expect("read")
        .expect("offline tokens outlive it");
    assert!(kept.offline);
    assert!(
        matches!(
            redeem(&s, RealmName::new("r"), &c.digest, ClientId::new("c1")).await.expect("redeem"),
            Redeemed::Replayed(_)
        ),
        "code spent"
    );
    assert!(
        s.access_token(RealmName::new("r"), &other.digest).await.expect("read").is_some(),
        "other sessions' tokens stay"
    );
    s.end_session(RealmName::new("r"), &x.id).await.expect("ending twice succeeds");
    // A used refresh token is not "unused".
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &offline.digest, ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::First(_)
    ));
    assert!(s.unused_refresh_token(RealmName::new("r"), &offline.digest).await.expect("read").is_none());
}
on_backends!(ending_a_session_ends_its_tokens_but_not_offline_ones);

// ---------------------------------------------------------------------------
// Consents.

/// Saving a consent twice replaces it; consents are listed by client; withdrawal removes one.
async fn consents_save_is_an_upsert(s: Store) {
    let mut c = consent("u1", "c1", "openid");
    s.save_consent(&c).await.expect("save");
    c.scope = Scope::parse("openid email").expect("scope");
    c.given_at = UnixTime(50);
    c.expires_at = UnixTime(99);
    s.save_consent(&c).await.expect("save again");
    assert_eq!(
        s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("consent"),
        Some(c.clone()),
        "the upsert replaced it"
    );
    let c0 = consent("u1", "c0", "openid profile");
    s.save_consent(&c0).await.expect("save");
    s.save_consent(&consent("u2", "c1", "openid")).await.expect("save");
    assert_eq!(
        s.consents_of_user(RealmName::new("r"), UserId::new("u1")).await.expect("consents"),
        vec![c0, c.clone()]
    );
    assert!(
        s.consent(RealmName::new("other"), UserId::new("u1"), ClientId::new("c1")).await.expect("consent").is_none(),
        "scoped by realm"
    );
    s.delete_consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("withdraw");
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("consent").is_none());
    assert_eq!(s.consents_of_user(RealmName::new("r"), UserId::new("u1")).await.expect("consents").len(), 1);
    assert!(
        s.consent(RealmName::new("r"), UserId::new("u2"), ClientId::new("c1")).await.expect("consent").is_some(),
        "other users' consents stay"
    );
    s.delete_consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1"))
        .await
        .expect("withdrawing twice succeeds");
}
on_backends!(consents_save_is_an_upsert);

// ---------------------------------------------------------------------------
// Codes.

/// The first redemption returns every field; later ones are replays;
/// an unknown digest or another realm is `Unknown`.
async fn codes_redeem_first_replayed_unknown(s: Store) {
    let c = code("d1", "c1", "u1", "g1");
    s.save_code(&c).await.expect("save");
    assert!(is_conflict(s.save_code(&c).await), "duplicate digest");
    let mut plain = code("d2", "c1", "u1", "g2");
    plain.nonce = None;
    plain.code_challenge = None;
    plain.code_challenge_method = None;
    plain.session_id = None;
    s.save_code(&plain).await.expect("save");
    match redeem(&s, RealmName::new("r"), &c.digest, ClientId::new("c1")).await.expect("redeem") {
        Redeemed::First(got) => assert_eq!(dbg(&got), dbg(&c)),
        other => panic!("expected the first redemption, got {other:?}"),
    }
    match redeem(&s, RealmName::new("r"), &c.digest, ClientId::new("c1")).await.expect("redeem") {
        Redeemed::Replayed(got) => assert_eq!(got.grant_id, "g1", "a replay names the grant to revoke"),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &c.digest, ClientId::new("c1")).await.expect("redeem"),
        Redeemed::Replayed(_)
    ));
    match redeem(&s, RealmName::new("r"), &plain.digest, ClientId::new("c1")).await.expect("redeem") {
        Redeemed::First(got) => assert_eq!(dbg(&got), dbg(&plain)),
        other => panic!("expected the first redemption, got {other:?}"),
    }
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("nope".into()), ClientId::new("c1")).await.expect("redeem"),
        Redeemed::Unknown
    ));
    s.save_code(&code("d3", "c1", "u1", "g3")).await.expect("save");
    assert!(
        matches!(
            redeem(&s, RealmName::new("other"), &Digest("d3".into()), ClientId::new("c1")).await.expect("redeem"),
            Redeemed::Unknown
        ),
        "codes are scoped by realm"
    );
    assert!(
        matches!(
            redeem(&s, RealmName::new("r"), &Digest("d3".into()), ClientId::new("c1")).await.expect("redeem"),
            Redeemed::First(_)
        ),
        "a redemption in another realm does not spend the code"
    );
}
on_backends!(codes_redeem_first_replayed_unknown);

/// Redeemed as the token endpoint does, a code comes with its unexpired
/// login session and its user from one joined read; replays, other clients'
/// and unknown codes come with nothing (RFC 6749 §4.1.3, OIDC Core §11).
/// RFC 6749 §4.1.2: a refused presentation spends the code alone
/// (`spend_code`): once, by its own client only, and nothing else changes.
async fn codes_spent_alone_once_by_their_own_client(s: Store) {
    s.save_code(&code("d1", "c1", "u1", "g1")).await.expect("save");
    let spend = |d: &'static str, client: &'static str| {
        let s = &s;
        async move { s.spend_code(RealmName::new("r"), &Digest(d.into()), ClientId::new(client)).await.expect("spend") }
    };
    let d1 = Digest("d1".into());
    let read = || s.code_with_context(RealmName::new("r"), &d1, ClientId::new("c1"), UnixTime(200));
    assert!(!spend("d1", "c2").await, "another client's presentation spends nothing");
    assert!(!spend("nope", "c1").await, "an unknown code");
    assert!(matches!(read().await.expect("read"), (Redeemed::First(_), _)), "still unused");
    let other_realm = s.spend_code(RealmName::new("x"), &Digest("d1".into()), ClientId::new("c1")).await;
    assert!(!other_realm.expect("spend"), "a code of another realm");
    assert!(spend("d1", "c1").await, "its own client spends it");
    assert!(!spend("d1", "c1").await, "once");
    assert!(matches!(read().await.expect("read"), (Redeemed::Replayed(_), _)), "now used");
}
on_backends!(codes_spent_alone_once_by_their_own_client);

async fn codes_redeemed_with_their_session_and_user(s: Store) {
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    let live = session("s1", "u1", 500);
    s.create_session(&live).await.expect("session");
    let mut c = code("d1", "c1", "u1", "g1");
    c.session_id = Some(live.id.clone());
    s.save_code(&c).await.expect("save");
    let redeem = |d: &'static str, client: &'static str, now: i64| {
        let s = &s;
        async move {
            s.redeem_code_with_context(RealmName::new("r"), &Digest(d.into()), ClientId::new(client), UnixTime(now))
                .await
                .expect("redeem")
        }
    };
    assert!(matches!(
        redeem("d1", "c2", 200).await,
        (Redeemed::OtherClient, CodeContext { session: None, user: None })
    ));
    match redeem("d1", "c1", 200).await {
        (Redeemed::First(got), found) => {
            assert_eq!(dbg(&got), dbg(&c));
            assert_eq!(dbg(&found.session), dbg(&Some(live.clone())));
            assert_eq!(found.user.expect("the user").username, "alice");
        }
        other => panic!("expected the first redemption, got {other:?}"),
    }
    assert!(matches!(
        redeem("d1", "c1", 200).await,
        (Redeemed::Replayed(_), CodeContext { session: None, user: None })
    ));
    assert!(matches!(redeem("nope", "c1", 200).await, (Redeemed::Unknown, _)));

    // A session expired at `now` is not found; neither is a deleted user.
    let mut late = code("d2", "c1", "u1", "g2");
    late.session_id = Some(live.id.clone());
    s.save_code(&late).await.expect("save");
    match redeem("d2", "c1", 500).await {
        (Redeemed::First(_), found) => assert!(found.session.is_none() && found.user.is_some()),
        other => panic!("expected the first redemption, got {other:?}"),
    }
    let mut orphan = code("d3", "c1", "u9", "g3");
    orphan.session_id = None;
    s.save_code(&orphan).await.expect("save");
    match redeem("d3", "c1", 200).await {
        (Redeemed::First(_), found) => assert!(found.session.is_none() && found.user.is_none()),
        other => panic!("expected the first redemption, got {other:?}"),
    }
}
on_backends!(codes_redeemed_with_their_session_and_user);

/// Another client presenting a code or refresh token changes nothing: the
/// owner's first use is still the first (RFC 6749 §4.1.3, §6).
async fn codes_and_refresh_tokens_of_another_client_are_not_spent(s: Store) {
    s.save_code(&code("d1", "c1", "u1", "g1")).await.expect("save");
    s.save_tokens(&access("at1", "c1", "u1", "g2"), Some(&refresh("rt1", "c1", "u1", "g2"))).await.expect("save");
    for _ in 0..2 {
        assert!(matches!(
            redeem(&s, RealmName::new("r"), &Digest("d1".into()), ClientId::new("c2")).await.expect("redeem"),
            Redeemed::OtherClient
        ));
        assert!(matches!(
            s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c2"), UnixTime(100), 0)
                .await
                .expect("use"),
            Rotated::OtherClient
        ));
    }
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("d1".into()), ClientId::new("c1")).await.expect("redeem"),
        Redeemed::First(_)
    ));
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::First(_)
    ));
    // Once spent, another client's presentation is still no replay of the owner's.
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("d1".into()), ClientId::new("c2")).await.expect("redeem"),
        Redeemed::OtherClient
    ));
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c2"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::OtherClient
    ));
}
on_backends!(codes_and_refresh_tokens_of_another_client_are_not_spent);

/// Within the reuse interval after its rotation a refresh token may be used
/// once more by its client; after that, or after the interval, it is a replay.
async fn refresh_tokens_may_be_reused_once_within_the_interval(s: Store) {
    for d in ["rt1", "rt2", "rt3"] {
        s.save_tokens(&access(&format!("at-{d}"), "c1", "u1", "g1"), Some(&refresh(d, "c1", "u1", "g1")))
            .await
            .expect("save");
    }
    let rt = |d: &str| Digest(d.into());
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &rt("rt1"), ClientId::new("c1"), UnixTime(100), 10)
            .await
            .expect("use"),
        Rotated::First(_)
    ));
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &rt("rt1"), ClientId::new("c2"), UnixTime(105), 10)
            .await
            .expect("use"),
        Rotated::OtherClient
    ));
    match s
        .use_refresh_token(RealmName::new("r"), &rt("rt1"), ClientId::new("c1"), UnixTime(105), 10)
        .await
        .expect("use")
    {
        Rotated::Reused(got) => assert_eq!(got.grant_id, "g1"),
        other => panic!("expected the one reuse, got {other:?}"),
    }
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &rt("rt1"), ClientId::new("c1"), UnixTime(106), 10)
            .await
            .expect("use"),
        Rotated::Replayed(_)
    ));
    // Past the interval: a replay.
    s.use_refresh_token(RealmName::new("r"), &rt("rt2"), ClientId::new("c1"), UnixTime(100), 10).await.expect("use");
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &rt("rt2"), ClientId::new("c1"), UnixTime(110), 10)
            .await
            .expect("use"),
        Rotated::Replayed(_)
    ));
    // No interval: every second use is a replay.
    s.use_refresh_token(RealmName::new("r"), &rt("rt3"), ClientId::new("c1"), UnixTime(100), 0).await.expect("use");
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &rt("rt3"), ClientId::new("c1"), UnixTime(101), 0).await.expect("use"),
        Rotated::Replayed(_)
    ));
}
on_backends!(refresh_tokens_may_be_reused_once_within_the_interval);

/// Of 16 concurrent redemptions of one code exactly one is `First`; the rest are replays.
async fn codes_concurrent_redemptions_have_one_winner(s: Store) {
    let s = Arc::new(s);
    for round in 0..3 {
        let digest = Digest(format!("race-{round}"));
        s.save_code(&code(&digest.0, "c1", "u1", "g1")).await.expect("save");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (s, d) = (s.clone(), digest.clone());
                tokio::spawn(async move { redeem(&s, RealmName::new("r"), &d, ClientId::new("c1")).await })
            })
            .collect();
        let (mut first, mut replayed) = (0, 0);
        for t in tasks {
            match t.await.expect("join").expect("redeem") {
                Redeemed::First(_) => first += 1,
                Redeemed::Replayed(_) => replayed += 1,
                Redeemed::Unknown | Redeemed::OtherClient => panic!("the code exists and is c1's"),
            }
        }
        assert_eq!((first, replayed), (1, 15), "exactly one of 16 concurrent redemptions wins (round {round})");
    }
}
on_backends!(codes_concurrent_redemptions_have_one_winner, with_sqlite_file);

/// Concurrent redemptions of many codes are decided together (group commit of
/// the spends, one `UPDATE` for a batch): each of 12 codes is presented at
/// once by its own client twice and by another client once, among unknown
/// codes. Each code has exactly one `First`, one replay and one `OtherClient`
/// (which does not spend it, RFC 6749 §4.1.2: only the client it was issued
/// to may redeem it); unknown codes stay unknown and are not created.
async fn concurrent_redemptions_of_many_codes_are_each_decided_alone(s: Store) {
    let s = Arc::new(s);
    for i in 0..12 {
        s.save_code(&code(&format!("many-{i}"), "c1", "u1", "g1")).await.expect("save");
    }
    let mut tasks = Vec::new();
    for i in 0..12 {
        for (who, client) in [(0, "c1"), (1, "c2"), (2, "c1")] {
            let (s, d) = (s.clone(), Digest(format!("many-{i}")));
            tasks.push((
                i,
                who,
                tokio::spawn(async move { redeem(&s, RealmName::new("r"), &d, ClientId::new(client)).await }),
            ));
        }
        let (s, d) = (s.clone(), Digest(format!("unknown-{i}")));
        tasks.push((i, 3, tokio::spawn(async move { redeem(&s, RealmName::new("r"), &d, ClientId::new("c1")).await })));
    }
    let mut per_code = vec![(0, 0, 0); 12];
    for (i, who, t) in tasks {
        match (who, t.await.expect("join").expect("redeem")) {
            (0 | 2, Redeemed::First(r)) => {
                assert_eq!(r.digest.0, format!("many-{i}"));
                per_code[i].0 += 1;
            }
            (0 | 2, Redeemed::Replayed(_)) => per_code[i].1 += 1,
            (1, Redeemed::OtherClient) => per_code[i].2 += 1,
            (3, Redeemed::Unknown) => {}
            (who, other) => panic!("code {i}, caller {who}: unexpected {other:?}"),
        }
    }
    assert!(per_code.iter().all(|c| *c == (1, 1, 1)), "one first, one replay, one other client each: {per_code:?}");
    for i in 0..12 {
        let again = redeem(&s, RealmName::new("r"), &Digest(format!("many-{i}")), ClientId::new("c1")).await;
        assert!(matches!(again.expect("redeem"), Redeemed::Replayed(_)), "code {i} stays spent");
        let unknown = redeem(&s, RealmName::new("r"), &Digest(format!("unknown-{i}")), ClientId::new("c1")).await;
        assert!(matches!(unknown.expect("redeem"), Redeemed::Unknown), "unknown code {i} was not created");
    }
}
on_backends!(concurrent_redemptions_of_many_codes_are_each_decided_alone, with_sqlite_file);

/// The token endpoint reads a code without spending it, then spends it with
/// the tokens it issued (RFC 6749 §4.1.2): a read changes nothing; 12 codes,
/// each redeemed at once twice by its client and once by another, among
/// unknown codes, with a token pair (or an access token alone) per call.
/// Each code is spent exactly once and only the winner's tokens are stored;
/// a loser's, another client's and an unknown code's tokens are not, and
/// nothing else is spent or created.
async fn redemptions_with_tokens_store_only_the_winners(s: Store) {
    let s = Arc::new(s);
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    for i in 0..12 {
        s.save_code(&code(&format!("rw-{i}"), "c1", "u1", &format!("g{i}"))).await.expect("save");
    }
    // Reads, twice, spend nothing.
    let read = |d: String, client: &'static str| {
        let s = s.clone();
        async move {
            s.code_with_context(RealmName::new("r"), &Digest(d), ClientId::new(client), UnixTime(0))
                .await
                .expect("read")
        }
    };
    for _ in 0..2 {
        assert!(matches!(read("rw-0".into(), "c1").await, (Redeemed::First(_), CodeContext { user: Some(_), .. })));
    }
    assert!(matches!(read("rw-0".into(), "c2").await, (Redeemed::OtherClient, _)));
    assert!(matches!(read("nope".into(), "c1").await, (Redeemed::Unknown, _)));

    // One caller's tokens cannot be stored (its access token's digest is taken).
    s.save_code(&code("rw-bad", "c1", "u1", "gx")).await.expect("save");
    s.save_tokens(&access("at-taken", "c1", "u1", "gx"), None).await.expect("token");
    let bad = {
        let s = s.clone();
        tokio::spawn(async move {
            let (at, rt) = (access("at-taken", "c1", "u1", "gx"), refresh("rt-bad", "c1", "u1", "gx"));
            s.redeem_code_with_tokens(
                RealmName::new("r"),
                &Digest("rw-bad".into()),
                ClientId::new("c1"),
                &at,
                Some(&rt),
            )
            .await
        })
    };
    let mut tasks = Vec::new();
    for i in 0..12 {
        for (who, client) in [(0, "c1"), (1, "c2"), (2, "c1"), (3, "c1")] {
            // Caller 3 presents an unknown code; odd codes go without a refresh token.
            let d = if who == 3 { format!("rw-unknown-{i}") } else { format!("rw-{i}") };
            let (s, tag) = (s.clone(), format!("rw-{i}-{who}"));
            tasks.push((
                i,
                who,
                tokio::spawn(async move {
                    let at = access(&format!("at-{tag}"), client, "u1", &format!("g{i}"));
                    let rt = refresh(&format!("rt-{tag}"), client, "u1", &format!("g{i}"));
                    let rt = (i % 2 == 0).then_some(&rt);
                    s.redeem_code_with_tokens(RealmName::new("r"), &Digest(d), ClientId::new(client), &at, rt).await
                }),
            ));
        }
    }
    let mut won = vec![Vec::new(); 12];
    for (i, who, t) in tasks {
        if t.await.expect("join").expect("redeem") {
            won[i].push(who);
        }
    }
    // The bad one fails alone and stores nothing; PostgreSQL's one statement
    // also leaves its code unused, SQLite's spend has committed before.
    assert!(bad.await.expect("join").is_err(), "a taken digest is an error, not a lost race");
    let rt = s.refresh_token_with_user(RealmName::new("r"), &Digest("rt-bad".into())).await.expect("read");
    assert!(rt.is_none(), "nothing of the failed redemption is stored");
    let unused = matches!(read("rw-bad".into(), "c1").await, (Redeemed::First(_), _));
    assert_eq!(unused, s.connection().get_database_backend() == DbBackend::Postgres);
    for (i, winners) in won.iter().enumerate() {
        assert!(winners == &[0] || winners == &[2], "code {i}: exactly one of its client's calls wins: {winners:?}");
        for who in 0..4 {
            let tag = format!("rw-{i}-{who}");
            let stored = winners.contains(&who);
            let at = s.access_token(RealmName::new("r"), &Digest(format!("at-{tag}"))).await.expect("read");
            assert_eq!(at.is_some(), stored, "code {i}, caller {who}: access token stored only for the winner");
            let rt = s.refresh_token_with_user(RealmName::new("r"), &Digest(format!("rt-{tag}"))).await.expect("read");
            assert_eq!(rt.is_some(), stored && i % 2 == 0, "code {i}, caller {who}: refresh token");
        }
        assert!(matches!(read(format!("rw-{i}"), "c1").await, (Redeemed::Replayed(_), _)), "code {i} is spent");
        assert!(matches!(read(format!("rw-unknown-{i}"), "c1").await, (Redeemed::Unknown, _)), "not created");
    }
    // A spent code stores nothing more, even for its own client.
    let late = access("at-late", "c1", "u1", "g0");
    let spent = Digest("rw-0".into());
    let again = s.redeem_code_with_tokens(RealmName::new("r"), &spent, ClientId::new("c1"), &late, None);
    assert!(!again.await.expect("redeem"));
    assert!(s.access_token(RealmName::new("r"), &Digest("at-late".into())).await.expect("read").is_none());
}
on_backends!(redemptions_with_tokens_store_only_the_winners, with_sqlite_file);

/// The hot lookups (a session with its user at the authorization endpoint, an
/// access token with its user at UserInfo) of concurrent requests are read
/// together (one statement per batch): each caller still gets exactly its own
/// row, or none when it is unknown, in another realm or (sessions) expired at
/// its own time, also when the same key is asked for twice in one batch.
async fn concurrent_lookups_each_get_their_own_row(s: Store) {
    let s = Arc::new(s);
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    s.create_user(&user("r", "u2", "bob")).await.expect("user");
    for i in 0..10 {
        let owner = if i % 2 == 0 { "u1" } else { "u2" };
        s.create_session(&session(&format!("ls-{i}"), owner, 1000 + i)).await.expect("session");
        s.save_tokens(&access(&format!("la-{i}"), "c1", owner, "g1"), None).await.expect("token");
    }
    let mut tasks = Vec::new();
    for round in 0..2 {
        for i in 0..10i64 {
            let s1 = s.clone();
            // At 1000 + i the session expires (expires_at is exclusive); round 1 asks before that.
            let now = if round == 0 { 1000 + i } else { 999 };
            tasks.push(tokio::spawn(async move {
                let d = Digest(format!("ls-{i}"));
                let mine = s1.session_with_user(RealmName::new("r"), &d, UnixTime(now)).await.expect("session");
                let other = s1.session_with_user(RealmName::new("x"), &d, UnixTime(0)).await.expect("session");
                let unknown =
                    s1.session_with_user(RealmName::new("r"), &Digest(format!("ls-none-{i}")), UnixTime(0)).await;
                assert!(other.is_none() && unknown.expect("session").is_none(), "session {i}: realm and key");
                match (round, mine) {
                    (0, None) => {}
                    (1, Some((got, Some(u)))) => {
                        assert_eq!(got.digest.0, format!("ls-{i}"));
                        assert_eq!(u.id, if i % 2 == 0 { "u1" } else { "u2" });
                    }
                    (_, got) => panic!("session {i}, round {round}: {got:?}"),
                }
            }));
            let s2 = s.clone();
            tasks.push(tokio::spawn(async move {
                let d = Digest(format!("la-{i}"));
                let (t, u) = s2.access_token_with_user(RealmName::new("r"), &d).await.expect("token").expect("stored");
                assert_eq!(
                    (t.digest.0.as_str(), u.expect("user").id.as_str()),
                    (d.0.as_str(), if i % 2 == 0 { "u1" } else { "u2" })
                );
                assert!(s2.access_token_with_user(RealmName::new("x"), &d).await.expect("token").is_none());
                let unknown = Digest(format!("la-none-{i}"));
                assert!(s2.access_token_with_user(RealmName::new("r"), &unknown).await.expect("token").is_none());
            }));
        }
    }
    for t in tasks {
        t.await.expect("every lookup got its own answer");
    }
}
on_backends!(concurrent_lookups_each_get_their_own_row, with_sqlite_file);

// ---------------------------------------------------------------------------
// Tokens.

/// Tokens round-trip; a refresh token rotates once, then is a replay;
/// an unknown digest is `Unknown`.
async fn tokens_roundtrip_and_refresh_rotation(s: Store) {
    let (at, rt) = (access("at1", "c1", "u1", "g1"), refresh("rt1", "c1", "u1", "g1"));
    s.save_tokens(&at, Some(&rt)).await.expect("save");
    let got = s.access_token(RealmName::new("r"), &at.digest).await.expect("token").expect("stored");
    assert_eq!(dbg(&got), dbg(&at));
    assert!(s.access_token(RealmName::new("other"), &at.digest).await.expect("token").is_none(), "scoped by realm");
    match s
        .use_refresh_token(RealmName::new("r"), &rt.digest, ClientId::new("c1"), UnixTime(100), 0)
        .await
        .expect("use")
    {
        Rotated::First(got) => assert_eq!(dbg(&got), dbg(&rt)),
        other => panic!("expected the first use, got {other:?}"),
    }
    match s
        .use_refresh_token(RealmName::new("r"), &rt.digest, ClientId::new("c1"), UnixTime(100), 0)
        .await
        .expect("use")
    {
        Rotated::Replayed(got) => assert_eq!(got.grant_id, "g1"),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("x".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::Unknown
    ));
    // The rotation's new pair, without a refresh token this time.
    let at2 = access("at2", "c1", "u1", "g1");
    s.save_tokens(&at2, None).await.expect("save an access token alone");
    assert!(s.access_token(RealmName::new("r"), &at2.digest).await.expect("token").is_some());
    let mut rt3 = refresh("rt3", "c1", "u1", "g1");
    rt3.session_id = None;
    s.save_tokens(&access("at3", "c1", "u1", "g1"), Some(&rt3)).await.expect("save");
    match s
        .use_refresh_token(RealmName::new("other"), &rt3.digest, ClientId::new("c1"), UnixTime(100), 0)
        .await
        .expect("use")
    {
        Rotated::Unknown => {}
        other => panic!("refresh tokens are scoped by realm, got {other:?}"),
    }
    match s
        .use_refresh_token(RealmName::new("r"), &rt3.digest, ClientId::new("c1"), UnixTime(100), 0)
        .await
        .expect("use")
    {
        Rotated::First(got) => assert_eq!(dbg(&got), dbg(&rt3)),
        other => panic!("expected the first use, got {other:?}"),
    }
}
on_backends!(tokens_roundtrip_and_refresh_rotation);

/// Of 16 concurrent uses of one refresh token exactly one is `First`.
async fn tokens_concurrent_refresh_has_one_winner(s: Store) {
    s.save_tokens(&access("at", "c1", "u1", "g1"), Some(&refresh("rt", "c1", "u1", "g1"))).await.expect("save");
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.use_refresh_token(RealmName::new("r"), &Digest("rt".into()), ClientId::new("c1"), UnixTime(100), 0)
                    .await
            })
        })
        .collect();
    let mut first = 0;
    for t in tasks {
        if let Rotated::First(_) = t.await.expect("join").expect("use") {
            first += 1;
        }
    }
    assert_eq!(first, 1, "exactly one of 16 concurrent refreshes wins");
}
on_backends!(tokens_concurrent_refresh_has_one_winner, with_sqlite_file);

/// `save_tokens` writes both tokens or neither.
async fn tokens_save_is_all_or_nothing(s: Store) {
    s.save_tokens(&access("at1", "c1", "u1", "g1"), Some(&refresh("rt1", "c1", "u1", "g1"))).await.expect("save");
    let r = s.save_tokens(&access("at2", "c1", "u1", "g2"), Some(&refresh("rt1", "c1", "u1", "g2"))).await;
    assert!(is_conflict(r), "the refresh token's digest is taken");
    assert!(
        s.access_token(RealmName::new("r"), &Digest("at2".into())).await.expect("token").is_none(),
        "the access token rolled back"
    );
    assert!(is_conflict(s.save_tokens(&access("at1", "c1", "u1", "g3"), None).await), "duplicate access token");
    let r = s.save_tokens(&access("at1", "c1", "u1", "g4"), Some(&refresh("rt4", "c1", "u1", "g4"))).await;
    assert!(is_conflict(r), "the access token's digest is taken");
    assert!(
        matches!(
            s.use_refresh_token(RealmName::new("r"), &Digest("rt4".into()), ClientId::new("c1"), UnixTime(100), 0)
                .await
                .expect("use"),
            Rotated::Unknown
        ),
        "the refresh token was not written"
    );
}
on_backends!(tokens_save_is_all_or_nothing);

/// SQLite stores a token pair through the `token_pairs` view: it must name
/// every column of both token tables, or a column added later would be lost
/// (a migration that adds one calls `migration::create_token_pairs` again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_token_pairs_view_has_every_token_column() {
    run(Backend::SqliteMemory, |s: Store| async move {
        let names = |sql: &'static str| {
            let s = &s;
            async move {
                let rows = s.main.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.expect("pragma");
                rows.iter().map(|r| r.try_get::<String>("", "name").expect("name")).collect::<Vec<_>>()
            }
        };
        let mut expected: Vec<String> = names("SELECT name FROM pragma_table_info('access_tokens') ORDER BY cid")
            .await
            .into_iter()
            .map(|c| format!("a_{c}"))
            .collect();
        expected.extend(
            names("SELECT name FROM pragma_table_info('refresh_tokens') ORDER BY cid")
                .await
                .into_iter()
                .map(|c| format!("r_{c}")),
        );
        let mut view = names("SELECT name FROM pragma_table_info('token_pairs') ORDER BY cid").await;
        assert!(expected.len() > 20, "{expected:?}");
        expected.sort();
        view.sort();
        assert_eq!(view, expected);
    })
    .await;
}

/// `revoke_grant` removes the grant's access and refresh tokens and spends
/// its codes, leaving other grants and realms alone.
async fn tokens_revoke_grant_removes_its_tokens(s: Store) {
    s.save_tokens(&access("at1", "c1", "u1", "g1"), Some(&refresh("rt1", "c1", "u1", "g1"))).await.expect("save");
    s.save_tokens(&access("at2", "c1", "u1", "g1"), Some(&refresh("rt2", "c1", "u1", "g1"))).await.expect("save");
    s.save_tokens(&access("at3", "c1", "u1", "g2"), Some(&refresh("rt3", "c1", "u1", "g2"))).await.expect("save");
    s.save_code(&code("code1", "c1", "u1", "g1")).await.expect("code");
    let mut elsewhere = access("at4", "c1", "u1", "g1");
    elsewhere.realm = "r2".into();
    s.save_tokens(&elsewhere, None).await.expect("save");

    s.revoke_grant(RealmName::new("r"), "g1").await.expect("revoke");
    for d in ["at1", "at2"] {
        assert!(
            s.access_token(RealmName::new("r"), &Digest(d.into())).await.expect("token").is_none(),
            "{d} is revoked"
        );
    }
    for d in ["rt1", "rt2"] {
        assert!(
            matches!(
                s.use_refresh_token(RealmName::new("r"), &Digest(d.into()), ClientId::new("c1"), UnixTime(100), 0)
                    .await
                    .expect("use"),
                Rotated::Unknown
            ),
            "{d} is revoked"
        );
    }
    assert!(
        matches!(
            redeem(&s, RealmName::new("r"), &Digest("code1".into()), ClientId::new("c1")).await.expect("redeem"),
            Redeemed::Replayed(_)
        ),
        "the grant's code is spent"
    );
    assert!(
        s.access_token(RealmName::new("r"), &Digest("at3".into())).await.expect("token").is_some(),
        "other grants stay"
    );
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt3".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::First(_)
    ));
    assert!(
        s.access_token(RealmName::new("r2"), &Digest("at4".into())).await.expect("token").is_some(),
        "other realms stay"
    );
    s.revoke_grant(RealmName::new("r"), "g1").await.expect("revoking twice succeeds");
    s.revoke_grant(RealmName::new("r"), "nope").await.expect("revoking an unknown grant succeeds");
}
on_backends!(tokens_revoke_grant_removes_its_tokens);

/// Introspection and revocation (RFC 7662, RFC 7009) read a refresh token in
/// any state with its user, and delete one access token alone.
async fn tokens_read_for_introspection_and_revoke_one_access_token(s: Store) {
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    let (at, rt) = (access("at1", "c1", "u1", "g1"), refresh("rt1", "c1", "u1", "g1"));
    s.save_tokens(&at, Some(&rt)).await.expect("save");
    s.save_tokens(&access("at2", "c1", "u1", "g1"), None).await.expect("save");
    let (got, used, u) =
        s.refresh_token_with_user(RealmName::new("r"), &rt.digest).await.expect("read").expect("found");
    assert_eq!((dbg(&got), used, u.map(|u| u.username)), (dbg(&rt), false, Some("alice".into())));
    assert!(
        s.refresh_token_with_user(RealmName::new("r2"), &rt.digest).await.expect("read").is_none(),
        "scoped by realm"
    );
    s.use_refresh_token(RealmName::new("r"), &rt.digest, ClientId::new("c1"), UnixTime(100), 0).await.expect("rotate");
    let (_, used, _) = s.refresh_token_with_user(RealmName::new("r"), &rt.digest).await.expect("read").expect("found");
    assert!(used, "a rotated refresh token reads as used");
    assert!(
        !s.revoke_access_token(RealmName::new("r2"), &at.digest).await.expect("revoke"),
        "other realms are not touched"
    );
    assert!(s.revoke_access_token(RealmName::new("r"), &at.digest).await.expect("revoke"));
    assert!(!s.revoke_access_token(RealmName::new("r"), &at.digest).await.expect("revoke twice"));
    assert!(s.access_token(RealmName::new("r"), &at.digest).await.expect("read").is_none());
    assert!(
        s.access_token(RealmName::new("r"), &Digest("at2".into())).await.expect("read").is_some(),
        "only that token goes"
    );
}
on_backends!(tokens_read_for_introspection_and_revoke_one_access_token);

async fn client_credentials_tokens_have_no_user(s: Store) {
    s.save_tokens(&access("cc1", "c1", "", "g9"), None).await.expect("save");
    let got = s.access_token(RealmName::new("r"), &Digest("cc1".into())).await.expect("read").expect("found");
    assert_eq!(got.user_id, None);
    assert_eq!(got.client_id, "c1");
}
on_backends!(client_credentials_tokens_have_no_user);

async fn failures_count_reset_after_the_window_and_clear(s: Store) {
    assert_eq!(s.failures(RealmName::new("r"), "user:alice").await.expect("read"), None);
    for (i, t) in [100, 110, 120].into_iter().enumerate() {
        let c = s.record_failure(RealmName::new("r"), "user:alice", UnixTime(t), 900).await.expect("record");
        assert_eq!(c, FailureCount { count: i as i64 + 1, last_failure: UnixTime(t) });
    }
    assert_eq!(s.failures(RealmName::new("r"), "user:alice").await.expect("read").map(|c| c.count), Some(3));
    assert_eq!(s.failures(RealmName::new("r2"), "user:alice").await.expect("read"), None, "counts are per realm");
    // More than the window after the last failure, the count starts again.
    let c = s.record_failure(RealmName::new("r"), "user:alice", UnixTime(1021), 900).await.expect("record");
    assert_eq!(c.count, 1);
    s.clear_failures(RealmName::new("r"), "user:alice").await.expect("clear");
    assert_eq!(s.failures(RealmName::new("r"), "user:alice").await.expect("read"), None);
    s.clear_failures(RealmName::new("r"), "user:nobody").await.expect("clearing nothing succeeds");
}
on_backends!(failures_count_reset_after_the_window_and_clear);

async fn failures_concurrent_records_all_count(s: Store) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.record_failure(RealmName::new("r"), "addr:10.0.0.1", UnixTime(50), 900).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("record");
    }
    assert_eq!(s.failures(RealmName::new("r"), "addr:10.0.0.1").await.expect("read").map(|c| c.count), Some(16));
}
on_backends!(failures_concurrent_records_all_count, with_sqlite_file);

/// Attempts counted before the password check (brute-force protection, RFC 6749 §10.7):
/// of 16 concurrent swaps from the same value exactly one wins, from "no count" too.
async fn failures_swap_has_one_winner_per_value(s: Store) {
    let first = FailureCount { count: 1, last_failure: UnixTime(50) };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.swap_failures(RealmName::new("r"), "user:eve", None, &first).await }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.expect("join").expect("swap"));
    }
    assert_eq!(wins, 1);
    let second = FailureCount { count: 2, last_failure: UnixTime(51) };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.swap_failures(RealmName::new("r"), "user:eve", Some(&first), &second).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.expect("join").expect("swap"));
    }
    assert_eq!(wins, 1);
    assert_eq!(s.failures(RealmName::new("r"), "user:eve").await.expect("read"), Some(second));
    // A stale expectation changes nothing.
    assert!(!s.swap_failures(RealmName::new("r"), "user:eve", Some(&first), &second).await.expect("swap"));
    // A refund takes one back, never below zero, and only for that realm and key.
    s.refund_failure(RealmName::new("r"), "user:eve").await.expect("refund");
    assert_eq!(s.failures(RealmName::new("r"), "user:eve").await.expect("read").map(|c| c.count), Some(1));
    for _ in 0..3 {
        s.refund_failure(RealmName::new("r"), "user:eve").await.expect("refund");
    }
    assert_eq!(s.failures(RealmName::new("r"), "user:eve").await.expect("read").map(|c| c.count), Some(0));
    s.refund_failure(RealmName::new("r2"), "user:nobody").await.expect("refunding nothing succeeds");
}
on_backends!(failures_swap_has_one_winner_per_value, with_sqlite_file);

async fn audit_events_newest_first_per_realm(s: Store) {
    for (i, kind) in ["consent.given", "consent.declined", "login.failed"].into_iter().enumerate() {
        let e = AuditEvent {
            realm: "r".into(),
            at: UnixTime(i as i64),
            kind: kind.into(),
            user_id: Some("u1".into()),
            client_id: (i < 2).then(|| "c1".into()),
            detail: "{\"scope\":\"openid\"}".into(),
        };
        s.record_event(&e).await.expect("record");
    }
    let mut other = s.events(RealmName::new("r"), 10).await.expect("events")[0].clone();
    other.realm = "r2".into();
    s.record_event(&other).await.expect("record");
    let got = s.events(RealmName::new("r"), 2).await.expect("events");
    assert_eq!(got.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["login.failed", "consent.declined"]);
    assert_eq!(got[1].client_id.as_deref(), Some("c1"));
    assert_eq!(got[0].client_id, None);
    assert_eq!(s.events(RealmName::new("r2"), 10).await.expect("events").len(), 1);
}
on_backends!(audit_events_newest_first_per_realm);

async fn withdrawing_consent_revokes_the_clients_tokens_for_the_user(s: Store) {
    s.save_consent(&consent("u1", "c1", "openid")).await.expect("consent");
    s.save_tokens(&access("at1", "c1", "u1", "g1"), Some(&refresh("rt1", "c1", "u1", "g1"))).await.expect("save");
    s.save_tokens(&access("at2", "c2", "u1", "g2"), Some(&refresh("rt2", "c2", "u1", "g2"))).await.expect("save");
    s.save_tokens(&access("at3", "c1", "u2", "g3"), None).await.expect("save");
    s.delete_consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("withdraw");
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("read").is_none());
    assert!(s.access_token(RealmName::new("r"), &Digest("at1".into())).await.expect("read").is_none(), "revoked");
    assert!(matches!(
        s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c1"), UnixTime(100), 0)
            .await
            .expect("use"),
        Rotated::Unknown
    ));
    assert!(
        s.access_token(RealmName::new("r"), &Digest("at2".into())).await.expect("read").is_some(),
        "other clients keep theirs"
    );
    assert!(
        s.access_token(RealmName::new("r"), &Digest("at3".into())).await.expect("read").is_some(),
        "other users keep theirs"
    );
}
on_backends!(withdrawing_consent_revokes_the_clients_tokens_for_the_user);

async fn joins_read_the_session_or_token_with_its_user(s: Store) {
    let alice = user("r", "u1", "alice");
    s.create_user(&alice).await.expect("user");
    let mut elsewhere = user("r2", "u1", "alice");
    elsewhere.username = "alice-r2".into();
    s.create_user(&elsewhere).await.expect("same id in another realm");
    s.create_session(&session("s1", "u1", 500)).await.expect("session");
    s.create_session(&session("s2", "ghost", 500)).await.expect("session of a deleted user");
    let (sess, u) = s
        .session_with_user(RealmName::new("r"), &Digest("s1".into()), UnixTime(10))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(sess.user_id, "u1");
    assert_eq!(dbg(&u.expect("user")), dbg(&alice), "the user of the same realm");
    let (_, u) = s
        .session_with_user(RealmName::new("r"), &Digest("s2".into()), UnixTime(10))
        .await
        .expect("read")
        .expect("found");
    assert!(u.is_none());
    assert!(
        s.session_with_user(RealmName::new("r"), &Digest("s1".into()), UnixTime(500)).await.expect("read").is_none(),
        "expired"
    );

    s.save_tokens(&access("at1", "c1", "u1", "g1"), None).await.expect("token");
    s.save_tokens(&access("at2", "c1", "", "g2"), None).await.expect("client_credentials token");
    let (t, u) =
        s.access_token_with_user(RealmName::new("r"), &Digest("at1".into())).await.expect("read").expect("found");
    assert_eq!(t.user_id.as_deref(), Some("u1"));
    assert_eq!(u.expect("user").username, "alice");
    let (t, u) =
        s.access_token_with_user(RealmName::new("r"), &Digest("at2".into())).await.expect("read").expect("found");
    assert_eq!((t.user_id, u.map(|u| u.id)), (None, None));
    assert!(s.access_token_with_user(RealmName::new("r"), &Digest("nope".into())).await.expect("read").is_none());
}
on_backends!(joins_read_the_session_or_token_with_its_user);

async fn users_update_keeps_the_password_and_round_trips_attributes(s: Store) {
    let mut u = user("r", "u1", "alice");
    u.password_hash = Some(PasswordHash("$argon2id$v=19$stub".into()));
    s.create_user(&u).await.expect("create");
    u.attributes.insert("department".into(), serde_json::json!({"name": "Ops", "floor": 2}));
    u.claims.email = Some("new@example.com".into());
    u.active = false;
    u.password_hash = None;
    s.update_user(&u).await.expect("update");
    let got = s.user(RealmName::new("r"), UserId::new("u1")).await.expect("read").expect("found");
    assert_eq!(got.attributes["department"]["floor"], 2);
    assert_eq!(got.claims.email.as_deref(), Some("new@example.com"));
    assert!(!got.active);
    assert_eq!(got.password_hash, Some(PasswordHash("$argon2id$v=19$stub".into())), "update_user keeps the hash");
    let mut ghost = user("r", "nobody", "ghost");
    ghost.id = "nobody".into();
    assert!(is_not_found(s.update_user(&ghost).await));
    s.create_user(&user("r", "u2", "bob")).await.expect("create");
    let mut clash = s.user(RealmName::new("r"), UserId::new("u2")).await.expect("read").expect("found");
    clash.username = "alice".into();
    assert!(is_conflict(s.update_user(&clash).await), "usernames stay unique");
}
on_backends!(users_update_keeps_the_password_and_round_trips_attributes);

// ---------------------------------------------------------------------------
// Dynamic registration.

fn initial(id: &str, max_uses: i64, expires_at: Option<i64>) -> InitialAccessToken {
    InitialAccessToken {
        id: id.into(),
        realm: "r".into(),
        digest: Digest(format!("iat-{id}")),
        created_at: UnixTime(1),
        expires_at: expires_at.map(UnixTime),
        max_uses,
        used: 0,
    }
}

fn registration(client_id: &str, token: &str) -> ClientRegistration {
    ClientRegistration {
        realm: "r".into(),
        client_id: client_id.into(),
        token_digest: Digest(token.into()),
        metadata: r#"{"client_name":"App"}"#.into(),
        anonymous: false,
        created_at: UnixTime(10),
    }
}

async fn initial_tokens_count_expire_and_refuse_without_leaving_rows(s: Store) {
    s.create_initial_token(&initial("t1", 1, Some(100))).await.expect("create");
    s.create_initial_token(&initial("t2", 5, Some(100))).await.expect("create");
    assert_eq!(s.initial_tokens(RealmName::new("r")).await.expect("list").len(), 2);
    let d1 = Digest("iat-t1".into());
    let r = s.register_client(&client("r", "c1"), &registration("c1", "rat1"), Some(&d1), UnixTime(50), None).await;
    assert_eq!(r.expect("register"), Registered::Created);
    // Used up: refused, and nothing is stored.
    let r = s.register_client(&client("r", "c2"), &registration("c2", "rat2"), Some(&d1), UnixTime(50), None).await;
    assert_eq!(r.expect("register"), Registered::TokenRefused);
    assert!(s.client(RealmName::new("r"), ClientId::new("c2")).await.expect("read").is_none());
    assert!(s.registration(RealmName::new("r"), ClientId::new("c2")).await.expect("read").is_none());
    // Expired, unknown, or of another realm: refused.
    let d2 = Digest("iat-t2".into());
    let expired = s.register_client(&client("r", "c3"), &registration("c3", "x"), Some(&d2), UnixTime(100), None).await;
    assert_eq!(expired.expect("register"), Registered::TokenRefused);
    let unknown = s
        .register_client(&client("r", "c4"), &registration("c4", "y"), Some(&Digest("nope".into())), UnixTime(1), None)
        .await;
    assert_eq!(unknown.expect("register"), Registered::TokenRefused);
    let listed = s.initial_tokens(RealmName::new("r")).await.expect("list");
    assert_eq!(listed.iter().map(|t| (t.id.as_str(), t.used)).collect::<Vec<_>>(), [("t1", 1), ("t2", 0)]);
    // A failing insert (duplicate client_id) rolls the use back.
    let dup = s.register_client(&client("r", "c1"), &registration("c1", "z"), Some(&d2), UnixTime(1), None).await;
    assert!(is_conflict(dup));
    assert_eq!(s.initial_tokens(RealmName::new("r")).await.expect("list")[1].used, 0, "the use was not counted");
    s.delete_initial_token(RealmName::new("r"), "t1").await.expect("delete");
    assert!(is_not_found(s.delete_initial_token(RealmName::new("r"), "t1").await));
    assert_eq!(s.client_count(RealmName::new("r")).await.expect("count"), 1);
}
on_backends!(initial_tokens_count_expire_and_refuse_without_leaving_rows);

async fn concurrent_registrations_never_exceed_the_token_count(s: Store) {
    s.create_initial_token(&initial("k", 3, None)).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("cc{i}");
            s.register_client(
                &client("r", &id),
                &registration(&id, &format!("rat{i}")),
                Some(&Digest("iat-k".into())),
                UnixTime(5),
                None,
            )
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.expect("join").expect("register") == Registered::Created {
            created += 1;
        }
    }
    assert_eq!(created, 3);
    assert_eq!(s.client_count(RealmName::new("r")).await.expect("count"), 3, "exactly the token's count of clients");
}
on_backends!(concurrent_registrations_never_exceed_the_token_count, with_sqlite_file);

/// Issue 8: with a limit of 12 clients, concurrent registrations ended with 23.
/// The count and the insert now happen under one lock of the realm's row.
async fn concurrent_registrations_never_exceed_max_clients(s: Store) {
    s.create_realm(&realm("r")).await.expect("realm");
    s.create_client(&client("r", "existing")).await.expect("an operator's client counts too");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("mc{i}");
            s.register_client(&client("r", &id), &registration(&id, &format!("rat{i}")), None, UnixTime(5), Some(12))
                .await
        }));
    }
    let mut outcomes = (0, 0);
    for t in tasks {
        match t.await.expect("join").expect("register") {
            Registered::Created => outcomes.0 += 1,
            Registered::LimitReached => outcomes.1 += 1,
            Registered::TokenRefused => panic!("no token was given"),
        }
    }
    assert_eq!(outcomes, (11, 19));
    assert_eq!(s.client_count(RealmName::new("r")).await.expect("count"), 12, "exactly the limit");
}
on_backends!(concurrent_registrations_never_exceed_max_clients, with_sqlite_file);

/// `initial_token` finds a token by digest in its realm; `set_registration_token`
/// replaces a registration's token or creates a registration for an operator's client.
async fn initial_token_lookup_and_new_registration_tokens(s: Store) {
    s.create_initial_token(&initial("t1", 2, Some(100))).await.expect("create");
    let found = s.initial_token(RealmName::new("r"), &Digest("iat-t1".into())).await.expect("read").expect("found");
    assert_eq!((found.id.as_str(), found.max_uses), ("t1", 2));
    assert!(s.initial_token(RealmName::new("other"), &Digest("iat-t1".into())).await.expect("read").is_none());
    assert!(s.initial_token(RealmName::new("r"), &Digest("nope".into())).await.expect("read").is_none());
    s.create_client(&client("r", "op")).await.expect("an operator's client");
    s.set_registration_token(&registration("op", "fresh")).await.expect("set");
    assert_eq!(
        s.registration(RealmName::new("r"), ClientId::new("op")).await.expect("read").expect("created").token_digest,
        Digest("fresh".into())
    );
    let mut again = registration("op", "newer");
    again.metadata = "ignored".into();
    s.set_registration_token(&again).await.expect("set");
    let got = s.registration(RealmName::new("r"), ClientId::new("op")).await.expect("read").expect("kept");
    assert_eq!((got.token_digest, got.metadata.as_str()), (Digest("newer".into()), r#"{"client_name":"App"}"#));
}
on_backends!(initial_token_lookup_and_new_registration_tokens);

async fn registration_tokens_rotate_once_and_updates_need_the_current_one(s: Store) {
    s.register_client(&client("r", "c1"), &registration("c1", "rat1"), None, UnixTime(1), None)
        .await
        .expect("register");
    let got = s.registration(RealmName::new("r"), ClientId::new("c1")).await.expect("read").expect("found");
    assert_eq!(got.token_digest, Digest("rat1".into()));
    assert!(
        s.rotate_registration_token(
            RealmName::new("r"),
            ClientId::new("c1"),
            &Digest("rat1".into()),
            &Digest("rat2".into())
        )
        .await
        .expect("rotate")
    );
    assert!(
        !s.rotate_registration_token(
            RealmName::new("r"),
            ClientId::new("c1"),
            &Digest("rat1".into()),
            &Digest("rat3".into())
        )
        .await
        .expect("rotate"),
        "the old token is spent"
    );
    let mut changed = client("r", "c1");
    changed.name = "Renamed".into();
    assert!(
        !s.update_registered_client(&changed, "{}", &Digest("rat1".into()), &Digest("x".into())).await.expect("update")
    );
    assert_eq!(
        s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("read").expect("found").name,
        "App",
        "a refused update changes nothing"
    );
    assert!(
        s.update_registered_client(
            &changed,
            r#"{"client_name":"Renamed"}"#,
            &Digest("rat2".into()),
            &Digest("rat4".into())
        )
        .await
        .expect("update")
    );
    assert_eq!(s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("read").expect("found").name, "Renamed");
    assert_eq!(
        s.registration(RealmName::new("r"), ClientId::new("c1")).await.expect("read").expect("found").metadata,
        r#"{"client_name":"Renamed"}"#
    );
    // Deleting the client deletes its registration.
    s.delete_client(RealmName::new("r"), ClientId::new("c1")).await.expect("delete");
    assert!(s.registration(RealmName::new("r"), ClientId::new("c1")).await.expect("read").is_none());
}
on_backends!(registration_tokens_rotate_once_and_updates_need_the_current_one);

async fn policies_are_stored_per_realm_and_kind(s: Store) {
    assert_eq!(s.policies(RealmName::new("r"), PolicyKind::Anonymous).await.expect("read"), None);
    s.set_policies(RealmName::new("r"), PolicyKind::Anonymous, r#"{"max_clients":5}"#).await.expect("set");
    s.set_policies(RealmName::new("r"), PolicyKind::Anonymous, r#"{"max_clients":6}"#).await.expect("replace");
    assert_eq!(
        s.policies(RealmName::new("r"), PolicyKind::Anonymous).await.expect("read").as_deref(),
        Some(r#"{"max_clients":6}"#)
    );
    assert_eq!(s.policies(RealmName::new("r"), PolicyKind::Authenticated).await.expect("read"), None);
    assert_eq!(s.policies(RealmName::new("r2"), PolicyKind::Anonymous).await.expect("read"), None);
}
on_backends!(policies_are_stored_per_realm_and_kind);

async fn roles_are_granted_revoked_and_go_with_their_holder(s: Store) {
    let alice = RoleHolder::User("u1".into());
    let svc = RoleHolder::Client("c1".into());
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    s.create_client(&client("r", "c1")).await.expect("client");
    s.grant_role(RealmName::new("r"), &alice, "manage-clients").await.expect("grant");
    s.grant_role(RealmName::new("r"), &alice, "create-client").await.expect("grant");
    s.grant_role(RealmName::new("r"), &alice, "create-client").await.expect("granting twice is fine");
    s.grant_role(RealmName::new("r"), &svc, "create-client").await.expect("grant");
    assert_eq!(s.roles(RealmName::new("r"), &alice).await.expect("roles"), ["create-client", "manage-clients"]);
    assert_eq!(s.roles(RealmName::new("r2"), &alice).await.expect("roles"), Vec::<String>::new(), "per realm");
    assert_eq!(s.role_assignments(RealmName::new("r")).await.expect("all").len(), 3);
    s.revoke_role(RealmName::new("r"), &alice, "manage-clients").await.expect("revoke");
    assert!(is_not_found(s.revoke_role(RealmName::new("r"), &alice, "manage-clients").await));
    s.delete_user(RealmName::new("r"), UserId::new("u1")).await.expect("delete user");
    s.delete_client(RealmName::new("r"), ClientId::new("c1")).await.expect("delete client");
    assert!(s.role_assignments(RealmName::new("r")).await.expect("all").is_empty(), "roles go with their holder");
}
on_backends!(roles_are_granted_revoked_and_go_with_their_holder);

/// Keycloak Server Administration Guide, "Assigning permissions using roles
/// and groups": realm roles are defined per realm; deleting one removes its
/// grants and its place in clients' role scope mappings ("Role scope mappings").
async fn roles_are_defined_listed_and_deleted_with_their_grants(s: Store) {
    let def = |name: &str, description: &str| oidc_core::roles::RoleDef {
        name: name.into(),
        description: description.into(),
    };
    s.define_role(RealmName::new("r"), &def("writer", "Writes")).await.expect("define");
    s.define_role(RealmName::new("r"), &def("reader", "Reads")).await.expect("define");
    s.define_role(RealmName::new("r2"), &def("reader", "Reads elsewhere")).await.expect("same name in another realm");
    assert!(matches!(s.define_role(RealmName::new("r"), &def("reader", "Again")).await, Err(RepoError::Conflict(_))));
    assert_eq!(
        s.role_definitions(RealmName::new("r")).await.expect("list"),
        [def("reader", "Reads"), def("writer", "Writes")]
    );
    // A client whose role scope maps reader and writer, and holders of reader.
    let mut c = client("r", "c1");
    c.role_scope = vec!["reader".into(), "writer".into()];
    s.create_client(&c).await.expect("client");
    let mut other = client("r", "c2");
    other.role_scope = vec!["writer".into()];
    s.create_client(&other).await.expect("client");
    let alice = RoleHolder::User("u1".into());
    s.grant_role(RealmName::new("r"), &alice, "reader").await.expect("grant");
    s.grant_role(RealmName::new("r"), &alice, "writer").await.expect("grant");
    s.grant_role(RealmName::new("r"), &RoleHolder::Client("c1".into()), "reader").await.expect("grant");
    s.grant_role(RealmName::new("r2"), &alice, "reader").await.expect("grant in r2");
    s.delete_role(RealmName::new("r"), "reader").await.expect("delete");
    assert!(is_not_found(s.delete_role(RealmName::new("r"), "reader").await));
    assert_eq!(s.role_definitions(RealmName::new("r")).await.expect("list"), [def("writer", "Writes")]);
    assert_eq!(s.roles(RealmName::new("r"), &alice).await.expect("roles"), ["writer"], "the grants went with it");
    assert_eq!(s.role_assignments(RealmName::new("r")).await.expect("all").len(), 1);
    let c1 = s.client(RealmName::new("r"), ClientId::new("c1")).await.expect("read").expect("c1");
    assert_eq!(c1.role_scope, ["writer"], "the role left the role scope");
    let c2 = s.client(RealmName::new("r"), ClientId::new("c2")).await.expect("read").expect("c2");
    assert_eq!(c2.role_scope, ["writer"], "other role scopes are untouched");
    assert_eq!(s.roles(RealmName::new("r2"), &alice).await.expect("roles"), ["reader"], "other realms are untouched");
    assert_eq!(s.role_definitions(RealmName::new("r2")).await.expect("list").len(), 1);
}
on_backends!(roles_are_defined_listed_and_deleted_with_their_grants);

async fn assertion_ids_are_accepted_once_until_they_expire(s: Store) {
    assert!(
        s.use_once(RealmName::new("r"), ClientId::new("c1"), "j1", UnixTime(100), UnixTime(10)).await.expect("use")
    );
    assert!(
        !s.use_once(RealmName::new("r"), ClientId::new("c1"), "j1", UnixTime(100), UnixTime(20)).await.expect("use"),
        "a replay"
    );
    assert!(
        s.use_once(RealmName::new("r"), ClientId::new("c2"), "j1", UnixTime(100), UnixTime(20)).await.expect("use"),
        "per client"
    );
    assert!(
        s.use_once(RealmName::new("r"), ClientId::new("c1"), "j1", UnixTime(200), UnixTime(100)).await.expect("use"),
        "forgotten once expired"
    );
}
on_backends!(assertion_ids_are_accepted_once_until_they_expire);

/// Expired codes, tokens (used or not), sessions with the clients they served,
/// consents, assertion ids and stale failed-password counters go, in bounded
/// batches, in every realm; live ones stay.
async fn cleanup_deletes_expired_rows_in_batches_and_keeps_live_ones(s: Store) {
    let now = UnixTime(6000);
    s.create_user(&user("r", "u1", "alice")).await.expect("user");
    // Expired (at or before now) and live (after now) of each kind.
    for (i, expires) in [(1, 100), (2, 6000), (3, 7000)] {
        let mut c = code(&format!("code{i}"), "c1", "u1", "g1");
        c.expires_at = UnixTime(expires);
        s.save_code(&c).await.expect("code");
        let mut at = access(&format!("at{i}"), "c1", "u1", "g1");
        at.expires_at = UnixTime(expires);
        let mut rt = refresh(&format!("rt{i}"), "c1", "u1", "g1");
        rt.expires_at = UnixTime(expires);
        s.save_tokens(&at, Some(&rt)).await.expect("tokens");
        s.create_session(&session(&format!("s{i}"), "u1", expires)).await.expect("session");
        s.add_session_client(RealmName::new("r"), &format!("sid-s{i}"), ClientId::new("c1"), UnixTime(50))
            .await
            .expect("session client");
        let mut consent = consent("u1", &format!("c{i}"), "openid");
        consent.expires_at = UnixTime(expires);
        s.save_consent(&consent).await.expect("consent");
        s.use_once(RealmName::new("r"), ClientId::new("c1"), &format!("j{i}"), UnixTime(expires), UnixTime(0))
            .await
            .expect("jti");
    }
    let mut elsewhere = access("at-r2", "c1", "u1", "g9");
    elsewhere.realm = "r2".into();
    elsewhere.expires_at = UnixTime(50);
    s.save_tokens(&elsewhere, None).await.expect("tokens");
    s.use_refresh_token(RealmName::new("r"), &Digest("rt1".into()), ClientId::new("c1"), UnixTime(10), 0)
        .await
        .expect("a used one expires too");

    // Failed-password counters: two stale (last failure before the horizon), one recent.
    for (key, at) in [("user:old1", 10), ("addr:old2", 20), ("user:recent", 5900)] {
        s.record_failure(RealmName::new("r"), key, UnixTime(at), 900).await.expect("failure");
    }
    let horizon = UnixTime(5000);

    let first = s.delete_expired(now, horizon, 1).await.expect("cleanup");
    assert_eq!(first.counts(), [1; 7], "one batch of one row per table");
    let second = s.delete_expired(now, horizon, 1).await.expect("cleanup");
    assert_eq!(second.access_tokens, 1);
    let mut rest = s.delete_expired(now, horizon, 100).await.expect("cleanup");
    rest.add(first);
    rest.add(second);
    assert_eq!(rest.counts(), [2, 3, 2, 2, 2, 2, 2], "every expired row, the other realm's too");
    assert_eq!(s.delete_expired(now, horizon, 100).await.expect("cleanup").total(), 0, "nothing left to delete");
    // The record of the clients an ended session served went with it; a live session keeps its own.
    assert!(s.session_clients(RealmName::new("r"), "sid-s1").await.expect("clients").is_empty());
    assert_eq!(s.session_clients(RealmName::new("r"), "sid-s3").await.expect("clients"), vec!["c1".to_owned()]);
    assert!(s.failures(RealmName::new("r"), "user:old1").await.expect("failures").is_none());
    assert!(
        s.failures(RealmName::new("r"), "user:recent").await.expect("failures").is_some(),
        "a recent counter stays"
    );

    // The live ones stay.
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("code3".into()), ClientId::new("c1")).await.expect("code"),
        Redeemed::First(_)
    ));
    assert!(matches!(
        redeem(&s, RealmName::new("r"), &Digest("code1".into()), ClientId::new("c1")).await.expect("code"),
        Redeemed::Unknown
    ));
    assert!(s.access_token(RealmName::new("r"), &Digest("at3".into())).await.expect("at").is_some());
    assert!(s.access_token(RealmName::new("r"), &Digest("at2".into())).await.expect("at").is_none());
    assert!(s.refresh_token_with_user(RealmName::new("r"), &Digest("rt3".into())).await.expect("rt").is_some());
    assert!(s.refresh_token_with_user(RealmName::new("r"), &Digest("rt1".into())).await.expect("rt").is_none());
    assert!(s.session(RealmName::new("r"), &Digest("s3".into()), UnixTime(0)).await.expect("session").is_some());
    assert!(s.session(RealmName::new("r"), &Digest("s1".into()), UnixTime(0)).await.expect("session").is_none());
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c3")).await.expect("consent").is_some());
    assert!(s.consent(RealmName::new("r"), UserId::new("u1"), ClientId::new("c1")).await.expect("consent").is_none());
    assert!(
        !s.use_once(RealmName::new("r"), ClientId::new("c1"), "j3", UnixTime(9000), UnixTime(0)).await.expect("jti"),
        "a live jti is kept"
    );
}
on_backends!(cleanup_deletes_expired_rows_in_batches_and_keeps_live_ones);

/// Access tokens saved by concurrent grants (client_credentials issues no
/// refresh token): on SQLite they go in together (group commit, `batch`), and
/// each caller still gets its own outcome: every new token is stored and
/// readable once its call returns, and a row that cannot be stored (a digest
/// already taken) fails alone, without taking the others of its batch along.
async fn concurrent_access_tokens_are_each_stored_or_refused_alone(s: Store) {
    s.save_tokens(&access("taken", "c1", "", "g0"), None).await.expect("first token");
    let mut calls = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        calls.push(tokio::spawn(async move {
            let digest = if i == 20 { "taken".to_owned() } else { format!("cc{i}") };
            let saved = s.save_tokens(&access(&digest, "c1", "", &format!("g{i}")), None).await;
            (i, saved)
        }));
    }
    for call in calls {
        let (i, saved) = call.await.expect("task");
        if i == 20 {
            assert!(saved.is_err(), "a taken digest is refused");
            continue;
        }
        saved.unwrap_or_else(|e| panic!("token {i}: {e}"));
        let stored = s.access_token(RealmName::new("r"), &Digest(format!("cc{i}"))).await.expect("read");
        assert_eq!(stored.map(|t| t.grant_id), Some(format!("g{i}")), "token {i} is stored when its call returns");
    }
    let first = s.access_token(RealmName::new("r"), &Digest("taken".into())).await.expect("read").expect("kept");
    assert_eq!(first.grant_id, "g0", "the refused row changed nothing");
}
on_backends!(concurrent_access_tokens_are_each_stored_or_refused_alone, with_sqlite_file);

/// The same for a token response's access and refresh token (one row of the
/// `token_pairs` view on SQLite) and for authorization codes: concurrent
/// saves each succeed or fail alone, and a pair is stored whole or not at all.
async fn concurrent_token_pairs_and_codes_are_each_stored_or_refused_alone(s: Store) {
    s.save_tokens(&access("at-taken", "c1", "u1", "g0"), Some(&refresh("rt-first", "c1", "u1", "g0")))
        .await
        .expect("pair");
    s.save_code(&code("code-taken", "c1", "u1", "g0")).await.expect("code");
    let mut calls = Vec::new();
    for i in 0..30 {
        let s = s.clone();
        calls.push(tokio::spawn(async move {
            // Pair 10 reuses a taken access-token digest with a new refresh token: neither may be stored.
            let at = if i == 10 { "at-taken".to_owned() } else { format!("at-{i}") };
            let pair = s
                .save_tokens(
                    &access(&at, "c1", "u1", &format!("g{i}")),
                    Some(&refresh(&format!("rt-{i}"), "c1", "u1", &format!("g{i}"))),
                )
                .await;
            let c = if i == 20 { "code-taken".to_owned() } else { format!("code-{i}") };
            let code = s.save_code(&code(&c, "c1", "u1", &format!("g{i}"))).await;
            (i, pair, code)
        }));
    }
    let r = RealmName::new("r");
    for call in calls {
        let (i, pair, code) = call.await.expect("task");
        let refresh_row = s.unused_refresh_token(r, &Digest(format!("rt-{i}"))).await.expect("read");
        if i == 10 {
            assert!(pair.is_err(), "a taken access-token digest is refused");
            assert!(refresh_row.is_none(), "and the pair's refresh token is not stored either");
        } else {
            pair.unwrap_or_else(|e| panic!("pair {i}: {e}"));
            assert!(s.access_token(r, &Digest(format!("at-{i}"))).await.expect("read").is_some(), "access {i}");
            assert!(refresh_row.is_some(), "refresh {i}");
        }
        if i == 20 {
            assert!(code.is_err(), "a taken code digest is refused");
        } else {
            code.unwrap_or_else(|e| panic!("code {i}: {e}"));
            let redeemed = redeem(&s, r, &Digest(format!("code-{i}")), ClientId::new("c1")).await.expect("redeem");
            assert!(matches!(redeemed, Redeemed::First(_)), "code {i} is stored when its call returns");
        }
    }
    let first = s.access_token(r, &Digest("at-taken".into())).await.expect("read").expect("kept");
    assert_eq!(first.grant_id, "g0", "the refused pair changed nothing");
}
on_backends!(concurrent_token_pairs_and_codes_are_each_stored_or_refused_alone, with_sqlite_file);
