//! SeaORM entities: one module per table of the `migration` crate.
//!
//! They are private to this crate; `convert` turns them into `oidc-core`'s
//! types and back. Times are Unix seconds, lists are JSON text, and codes,
//! tokens and sessions are keyed by the digest of their value.

/// `realms`: one row per issuer.
pub(crate) mod realms {
    use sea_orm::entity::prelude::*;

    /// A realm row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "realms")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub secret_key: Vec<u8>,
        pub created_at: i64,
    }

    /// No relations are declared; every query filters by realm explicitly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `signing_keys`: a realm's private keys, by kid.
pub(crate) mod signing_keys {
    use sea_orm::entity::prelude::*;

    /// A signing key row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub alg: String,
        pub private_pkcs8: Vec<u8>,
        pub state: String,
        pub created_at: i64,
        pub published_until: Option<i64>,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `clients`: relying parties.
pub(crate) mod clients {
    use sea_orm::entity::prelude::*;

    /// A client row; `response_types`, the URI lists and `allowed_scopes` are JSON arrays.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub name: String,
        pub client_type: String,
        pub client_secret: Option<String>,
        pub response_types: String,
        pub grant_types: String,
        pub jwt_alg: String,
        pub date_created: i64,
        pub redirect_uris: String,
        pub post_logout_redirect_uris: String,
        pub require_consent: bool,
        pub reuse_consent: bool,
        pub website_url: Option<String>,
        pub terms_url: Option<String>,
        pub contact_email: Option<String>,
        pub logo: Option<String>,
        pub allowed_scopes: String,
        pub enabled: bool,
        pub subject_type: String,
        pub sector_identifier_uri: Option<String>,
        pub jwks: Option<String>,
        pub default_max_age: Option<i64>,
        pub userinfo_signed_response_alg: Option<String>,
        pub jwks_uri: Option<String>,
        pub token_endpoint_auth_method: Option<String>,
        pub access_token_format: Option<String>,
        pub access_token_signed_response_alg: Option<String>,
        pub policy_url: Option<String>,
        pub default_scopes: String,
        pub description: Option<String>,
        pub root_url: Option<String>,
        pub web_origins: String,
        pub pkce_method: Option<String>,
        pub full_scope_allowed: bool,
        pub role_scope: String,
        pub frontchannel_logout_uri: Option<String>,
        pub frontchannel_logout_session_required: bool,
        pub backchannel_logout_uri: Option<String>,
        pub backchannel_logout_session_required: bool,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `users`: end-users with their standard claims, the address flattened.
pub(crate) mod users {
    use sea_orm::entity::prelude::*;

    /// A user row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub username: String,
        pub password_hash: Option<String>,
        pub active: bool,
        pub name: Option<String>,
        pub given_name: Option<String>,
        pub family_name: Option<String>,
        pub middle_name: Option<String>,
        pub nickname: Option<String>,
        pub preferred_username: Option<String>,
        pub profile: Option<String>,
        pub picture: Option<String>,
        pub website: Option<String>,
        pub gender: Option<String>,
        pub birthdate: Option<String>,
        pub zoneinfo: Option<String>,
        pub locale: Option<String>,
        pub email: Option<String>,
        pub email_verified: bool,
        pub phone_number: Option<String>,
        pub phone_number_verified: bool,
        pub address_formatted: Option<String>,
        pub address_street_address: Option<String>,
        pub address_locality: Option<String>,
        pub address_region: Option<String>,
        pub address_postal_code: Option<String>,
        pub address_country: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub attributes: String,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `login_sessions`: sessions at the provider, keyed by the cookie's digest.
pub(crate) mod login_sessions {
    use sea_orm::entity::prelude::*;

    /// A login session row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub id: String,
        pub realm: String,
        pub user_id: String,
        pub auth_time: i64,
        pub expires_at: i64,
        pub last_used: Option<i64>,
        pub user_agent: Option<String>,
        pub address: Option<String>,
    }

    /// The session's user, for reading both in one `LEFT JOIN`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::users::Entity",
            from = "(Column::Realm, Column::UserId)",
            to = "(super::users::Column::Realm, super::users::Column::Id)"
        )]
        User,
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `session_clients`: the clients a login session issued tokens to.
// Read back only as client ids, never as a model, so the derive's items look unreachable to the lint.
#[allow(unreachable_pub)]
pub(crate) mod session_clients {
    use sea_orm::entity::prelude::*;

    /// One client of one session.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub first_at: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `consents`: one row per user and client.
pub(crate) mod consents {
    use sea_orm::entity::prelude::*;

    /// A consent row; `scope` is space-delimited.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub scope: String,
        pub given_at: i64,
        pub expires_at: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `auth_codes`: authorization codes, keyed by digest; `used` once redeemed.
pub(crate) mod auth_codes {
    use sea_orm::entity::prelude::*;

    /// An authorization code row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "auth_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub realm: String,
        pub client_id: String,
        pub user_id: String,
        pub redirect_uri: String,
        pub scope: String,
        pub nonce: Option<String>,
        pub code_challenge: Option<String>,
        pub code_challenge_method: Option<String>,
        pub auth_time: i64,
        pub session_id: Option<String>,
        pub expires_at: i64,
        pub grant_id: String,
        pub used: bool,
        pub acr: Option<String>,
        pub claims: Option<String>,
        pub resources: Option<String>,
    }

    /// The code's login session and user, read with it in one `LEFT JOIN`
    /// when the code is redeemed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::login_sessions::Entity",
            from = "(Column::Realm, Column::SessionId)",
            to = "(super::login_sessions::Column::Realm, super::login_sessions::Column::Id)"
        )]
        Session,
        #[sea_orm(
            belongs_to = "super::users::Entity",
            from = "(Column::Realm, Column::UserId)",
            to = "(super::users::Column::Realm, super::users::Column::Id)"
        )]
        User,
    }

    impl Related<super::login_sessions::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Session.def()
        }
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `access_tokens`: opaque access tokens, keyed by digest.
pub(crate) mod access_tokens {
    use sea_orm::entity::prelude::*;

    /// An access token row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub realm: String,
        pub client_id: String,
        pub user_id: String,
        pub scope: String,
        pub expires_at: i64,
        pub grant_id: String,
        pub claims: Option<String>,
        pub issued_at: i64,
        pub audience: Option<String>,
        pub jti: String,
        pub session_id: Option<String>,
    }

    /// The token's user, for reading both in one `LEFT JOIN`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::users::Entity",
            from = "(Column::Realm, Column::UserId)",
            to = "(super::users::Column::Realm, super::users::Column::Id)"
        )]
        User,
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `refresh_tokens`: refresh tokens, keyed by digest; `used` once rotated.
pub(crate) mod refresh_tokens {
    use sea_orm::entity::prelude::*;

    /// A refresh token row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub realm: String,
        pub client_id: String,
        pub user_id: String,
        pub scope: String,
        pub expires_at: i64,
        pub grant_id: String,
        pub auth_time: i64,
        pub session_id: Option<String>,
        pub used: bool,
        pub claims: Option<String>,
        pub issued_at: i64,
        pub audience: Option<String>,
        pub jti: String,
        pub used_at: Option<i64>,
        pub reused_at: Option<i64>,
        pub offline: bool,
    }

    /// The token's user, for reading both in one `LEFT JOIN`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::users::Entity",
            from = "(Column::Realm, Column::UserId)",
            to = "(super::users::Column::Realm, super::users::Column::Id)"
        )]
        User,
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `login_failures`: failed password checks per key, for brute-force protection.
pub(crate) mod login_failures {
    use sea_orm::entity::prelude::*;

    /// A failure counter row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_failures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub count: i64,
        pub last_failure: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `audit_events`: the audit log.
pub(crate) mod audit_events {
    use sea_orm::entity::prelude::*;

    /// An audit event row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub realm: String,
        pub at: i64,
        pub kind: String,
        pub user_id: Option<String>,
        pub client_id: Option<String>,
        pub detail: String,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `initial_access_tokens`: operator-issued tokens for client registration.
pub(crate) mod initial_access_tokens {
    use sea_orm::entity::prelude::*;

    /// An initial access token row; the token is stored only as its digest.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "initial_access_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub digest: String,
        pub created_at: i64,
        pub expires_at: Option<i64>,
        pub max_uses: i64,
        pub used: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `client_registrations`: how a client was registered and its registration access token.
pub(crate) mod client_registrations {
    use sea_orm::entity::prelude::*;

    /// A registration row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_registrations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub token_digest: String,
        pub metadata: String,
        pub anonymous: bool,
        pub created_at: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registration_policies`: a realm's anonymous and authenticated policy sets, as JSON.
pub(crate) mod registration_policies {
    use sea_orm::entity::prelude::*;

    /// A policy set row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registration_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub config: String,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `role_definitions`: the realm roles an operator defined.
pub(crate) mod role_definitions {
    use sea_orm::entity::prelude::*;

    /// A role definition row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_definitions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `role_assignments`: realm roles of users and of clients' service accounts.
pub(crate) mod role_assignments {
    use sea_orm::entity::prelude::*;

    /// A role assignment row; `holder_kind` is `user` or `client`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_assignments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub holder_kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub holder_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role: String,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `used_assertions`: client assertion ids seen, until they expire.
// Only written, never read back into a core type, so the derive's items look unreachable to the lint.
#[allow(unreachable_pub)]
pub(crate) mod used_assertions {
    use sea_orm::entity::prelude::*;

    /// A used assertion row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "used_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub realm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub expires_at: i64,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
