//! Store tests, run on SQLite (in memory) and on PostgreSQL (a fresh database
//! per test on the server named by `OIDC_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use oidc_core::model::*;
use oidc_core::pkce::PkceMethod;
use oidc_core::repo::*;
use oidc_core::scope::Scope;
use oidc_core::secret::{ClientSecret, Digest};
use oidc_core::time::UnixTime;
use sea_orm::ConnectionTrait as _;

use crate::Store;

fn pg_server_url() -> String {
    std::env::var("OIDC_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, migrated database on PostgreSQL; dropped by [`PgDb::drop_db`].
struct PgDb {
    admin: Store,
    name: String,
    store: Store,
}

impl PgDb {
    async fn new() -> PgDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("oidc_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let server = pg_server_url();
        let admin = Store::connect(&server).await.expect("PostgreSQL must be reachable at OIDC_TEST_POSTGRES_URL");
        admin.connection().execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        let store = Store::connect(&format!("{base}/{name}")).await.expect("connect to the test database");
        store.migrate().await.expect("migrate");
        PgDb { admin, name, store }
    }

    async fn drop_db(self) {
        self.store.connection().clone().close().await.expect("close");
        self.admin
            .connection()
            .execute_unprepared(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .expect("drop");
    }
}

async fn sqlite() -> Store {
    let s = Store::connect("sqlite::memory:").await.expect("sqlite");
    s.migrate().await.expect("migrate");
    s
}

/// Runs `check` against SQLite, then PostgreSQL.
macro_rules! on_both {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$check(super::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = super::PgDb::new().await;
                super::$check(db.store.clone()).await;
                db.drop_db().await;
            }
        }
    };
}

fn client(id: &str) -> Client {
    Client {
        realm: "r".into(),
        client_id: id.into(),
        name: "App".into(),
        client_type: ClientType::Confidential,
        client_secret: Some(ClientSecret::new("secret-secret-secret".into())),
        response_types: vec![ResponseType::Code, ResponseType::CodeIdToken],
        jwt_alg: JwtAlg::Rs256,
        date_created: UnixTime(10),
        redirect_uris: vec!["https://a/cb".into(), "https://a/cb2".into()],
        post_logout_redirect_uris: vec![],
        require_consent: true,
        reuse_consent: false,
        website_url: Some("https://a".into()),
        terms_url: None,
        contact_email: Some("ops@a".into()),
        logo: None,
        allowed_scopes: vec!["openid".into(), "email".into()],
        enabled: true,
    }
}

fn user(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        realm: "r".into(),
        username: username.into(),
        password_hash: Some(PasswordHash("$argon2id$x".into())),
        active: true,
        claims: StandardClaims {
            name: Some("Alice".into()),
            email: Some("a@x".into()),
            email_verified: true,
            address: Address { locality: Some("Paris".into()), ..Address::default() },
            ..StandardClaims::default()
        },
        created_at: UnixTime(1),
        updated_at: UnixTime(2),
    }
}

fn code(digest: &str, grant: &str) -> CodeRecord {
    CodeRecord {
        digest: Digest(digest.into()),
        realm: "r".into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://a/cb".into(),
        scope: Scope::parse("openid email").unwrap(),
        nonce: Some("n".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some(PkceMethod::S256),
        auth_time: UnixTime(100),
        session_id: Some("sid".into()),
        expires_at: UnixTime(700),
        grant_id: grant.into(),
    }
}

fn tokens(n: &str, grant: &str) -> (AccessTokenRecord, RefreshTokenRecord) {
    (
        AccessTokenRecord {
            digest: Digest(format!("at-{n}")),
            realm: "r".into(),
            client_id: "c1".into(),
            user_id: "u1".into(),
            scope: Scope::parse("openid").unwrap(),
            expires_at: UnixTime(5000),
            grant_id: grant.into(),
        },
        RefreshTokenRecord {
            digest: Digest(format!("rt-{n}")),
            realm: "r".into(),
            client_id: "c1".into(),
            user_id: "u1".into(),
            scope: Scope::parse("openid").unwrap(),
            expires_at: UnixTime(9000),
            grant_id: grant.into(),
            auth_time: UnixTime(100),
            session_id: None,
        },
    )
}

async fn realm_and_keys(s: Store) {
    assert!(s.realm("r").await.unwrap().is_none());
    s.create_realm(&Realm { name: "r".into(), secret_key: vec![1, 2, 3], created_at: UnixTime(5) }).await.unwrap();
    let r = s.realm("r").await.unwrap().unwrap();
    assert_eq!((r.secret_key, r.created_at), (vec![1, 2, 3], UnixTime(5)));
    let dup = s.create_realm(&Realm { name: "r".into(), secret_key: vec![], created_at: UnixTime(5) }).await;
    assert!(matches!(dup, Err(RepoError::Conflict(_))));
    assert_eq!(s.realm_names().await.unwrap(), ["r"]);
    let key = KeyRecord {
        kid: "k1".into(),
        realm: "r".into(),
        alg: "RS256".into(),
        private_pkcs8: vec![9; 40],
        state: KeyState::Active,
        created_at: UnixTime(6),
    };
    s.add_key(&key).await.unwrap();
    s.set_key_state("r", "k1", KeyState::Retired).await.unwrap();
    let keys = s.keys("r").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].state, keys[0].private_pkcs8.len()), (KeyState::Retired, 40));
    assert!(matches!(s.set_key_state("r", "nope", KeyState::Revoked).await, Err(RepoError::NotFound(_))));
}
on_both!(realms_and_keys_roundtrip, realm_and_keys);

async fn clients(s: Store) {
    let c = client("c1");
    s.create_client(&c).await.unwrap();
    assert!(matches!(s.create_client(&c).await, Err(RepoError::Conflict(_))), "duplicate client_id");
    let got = s.client("r", "c1").await.unwrap().unwrap();
    assert_eq!(got.redirect_uris, c.redirect_uris);
    assert_eq!(got.response_types, c.response_types);
    assert_eq!(got.client_secret.unwrap().secret(), "secret-secret-secret");
    assert_eq!(got.allowed_scopes, c.allowed_scopes);
    assert_eq!((got.require_consent, got.reuse_consent, got.enabled), (true, false, true));
    assert!(s.client("other-realm", "c1").await.unwrap().is_none(), "clients are scoped by realm");
    let mut changed = c.clone();
    changed.name = "Renamed".into();
    changed.client_type = ClientType::Public;
    changed.client_secret = None;
    s.update_client(&changed).await.unwrap();
    let got = s.client("r", "c1").await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.client_type, got.client_secret.is_none()),
        ("Renamed", ClientType::Public, true)
    );
    assert!(matches!(s.update_client(&client("zz")).await, Err(RepoError::NotFound(_))));
    s.create_client(&client("c0")).await.unwrap();
    let ids: Vec<String> = s.clients("r").await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, ["c0", "c1"]);
    // Deleting a client removes its tokens too.
    let (at, rt) = tokens("1", "g1");
    s.save_tokens(&at, Some(&rt)).await.unwrap();
    s.delete_client("r", "c1").await.unwrap();
    assert!(s.access_token("r", &at.digest).await.unwrap().is_none());
    assert!(matches!(s.delete_client("r", "c1").await, Err(RepoError::NotFound(_))));
}
on_both!(clients_roundtrip_conflict_and_cascade, clients);

async fn users(s: Store) {
    s.create_user(&user("u1", "alice")).await.unwrap();
    assert!(matches!(s.create_user(&user("u2", "alice")).await, Err(RepoError::Conflict(_))), "duplicate username");
    let u = s.user_by_username("r", "alice").await.unwrap().unwrap();
    assert_eq!(u.id, "u1");
    assert_eq!(u.claims.address.locality.as_deref(), Some("Paris"));
    assert!(u.claims.email_verified);
    assert_eq!(u.updated_at, UnixTime(2));
    s.set_password_hash("r", "u1", &PasswordHash("new".into())).await.unwrap();
    assert_eq!(s.user("r", "u1").await.unwrap().unwrap().password_hash, Some(PasswordHash("new".into())));
    assert_eq!(s.users("r").await.unwrap().len(), 1);
    let session = LoginSession {
        digest: Digest("sd".into()),
        id: "sid".into(),
        realm: "r".into(),
        user_id: "u1".into(),
        auth_time: UnixTime(100),
        expires_at: UnixTime(200),
    };
    s.create_session(&session).await.unwrap();
    assert!(s.session("r", &session.digest, UnixTime(150)).await.unwrap().is_some());
    assert!(
        s.session("r", &session.digest, UnixTime(200)).await.unwrap().is_none(),
        "expired sessions are not returned"
    );
    s.delete_user("r", "u1").await.unwrap();
    assert!(s.session("r", &session.digest, UnixTime(150)).await.unwrap().is_none(), "sessions go with the user");
    assert!(matches!(s.delete_user("r", "u1").await, Err(RepoError::NotFound(_))));
}
on_both!(users_and_sessions, users);

async fn consents(s: Store) {
    let mut c = Consent {
        realm: "r".into(),
        user_id: "u1".into(),
        client_id: "c1".into(),
        scope: Scope::parse("openid").unwrap(),
        given_at: UnixTime(1),
        expires_at: UnixTime(2),
    };
    s.save_consent(&c).await.unwrap();
    c.scope = Scope::parse("openid email").unwrap();
    c.expires_at = UnixTime(99);
    s.save_consent(&c).await.unwrap();
    assert_eq!(s.consent("r", "u1", "c1").await.unwrap(), Some(c.clone()), "upsert replaces");
    assert_eq!(s.consents_of_user("r", "u1").await.unwrap(), vec![c]);
    s.delete_consent("r", "u1", "c1").await.unwrap();
    assert!(s.consent("r", "u1", "c1").await.unwrap().is_none());
}
on_both!(consents_upsert_and_list, consents);

async fn codes(s: Store) {
    s.save_code(&code("d1", "g1")).await.unwrap();
    match s.redeem_code("r", &Digest("d1".into())).await.unwrap() {
        Redeemed::First(c) => {
            assert_eq!(c.code_challenge_method, Some(PkceMethod::S256));
            assert_eq!(c.scope.to_string(), "openid email");
            assert_eq!(c.nonce.as_deref(), Some("n"));
        }
        other => panic!("expected first redemption, got {other:?}"),
    }
    assert!(matches!(s.redeem_code("r", &Digest("d1".into())).await.unwrap(), Redeemed::Replayed(_)));
    assert!(matches!(s.redeem_code("r", &Digest("nope".into())).await.unwrap(), Redeemed::Unknown));
    assert!(matches!(s.redeem_code("other", &Digest("d1".into())).await.unwrap(), Redeemed::Unknown));
}
on_both!(codes_redeem_once, codes);

async fn concurrent_redeem(s: Store) {
    s.save_code(&code("race", "g1")).await.unwrap();
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.redeem_code("r", &Digest("race".into())).await.unwrap() })
        })
        .collect();
    let mut first = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Redeemed::First(_)) {
            first += 1;
        }
    }
    assert_eq!(first, 1, "exactly one of 16 concurrent redemptions wins");
}
on_both!(codes_concurrent_redemption_has_one_winner, concurrent_redeem);

async fn refresh_and_revoke(s: Store) {
    let (at, rt) = tokens("1", "g1");
    s.save_tokens(&at, Some(&rt)).await.unwrap();
    let got = s.access_token("r", &at.digest).await.unwrap().unwrap();
    assert_eq!((got.grant_id.as_str(), got.expires_at), ("g1", UnixTime(5000)));
    assert!(matches!(s.use_refresh_token("r", &rt.digest).await.unwrap(), Rotated::First(_)));
    assert!(matches!(s.use_refresh_token("r", &rt.digest).await.unwrap(), Rotated::Replayed(_)));
    assert!(matches!(s.use_refresh_token("r", &Digest("x".into())).await.unwrap(), Rotated::Unknown));
    let (at2, rt2) = tokens("2", "g1");
    let (at3, _) = tokens("3", "g2");
    s.save_tokens(&at2, Some(&rt2)).await.unwrap();
    s.save_tokens(&at3, None).await.unwrap();
    s.save_code(&code("cg", "g1")).await.unwrap();
    s.revoke_grant("r", "g1").await.unwrap();
    assert!(s.access_token("r", &at2.digest).await.unwrap().is_none(), "access tokens of the grant are gone");
    assert!(
        matches!(s.use_refresh_token("r", &rt2.digest).await.unwrap(), Rotated::Replayed(_)),
        "refresh tokens are spent"
    );
    assert!(
        matches!(s.redeem_code("r", &Digest("cg".into())).await.unwrap(), Redeemed::Replayed(_)),
        "codes are spent"
    );
    assert!(s.access_token("r", &at3.digest).await.unwrap().is_some(), "other grants are untouched");
    // A failed insert inside save_tokens leaves nothing half-written.
    let (at4, _) = tokens("4", "g3");
    let dup_refresh = tokens("2", "g3").1;
    assert!(s.save_tokens(&at4, Some(&dup_refresh)).await.is_err());
    assert!(s.access_token("r", &at4.digest).await.unwrap().is_none(), "the transaction rolled back");
}
on_both!(tokens_rotation_and_grant_revocation, refresh_and_revoke);

#[tokio::test]
async fn migrations_run_on_an_empty_database_and_are_idempotent() {
    let s = Store::connect("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    let dir = std::env::temp_dir().join(format!("oidc-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = Store::connect(&format!("sqlite://{}/db.sqlite", dir.display())).await.unwrap();
    file.migrate().await.unwrap();
    let mode = file
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA journal_mode"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode.try_get_by_index::<String>(0).unwrap(), "wal");
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(Store::connect("mysql://x").await, Err(crate::StoreError::UnsupportedUrl)));
}
