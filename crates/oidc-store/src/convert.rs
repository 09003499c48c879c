//! Conversions between entity rows and `oidc-core`'s types, and from `DbErr`
//! to `RepoError`.
//!
//! Writing never fails. Reading parses every enum, list and scope column;
//! a stored value that does not parse is a [`Corrupt`] error, which becomes
//! `RepoError::Backend`, never a panic.

use std::fmt::Display;
use std::str::FromStr;

use oidc_core::model::{
    AccessTokenRecord, Address, AuditEvent, Client, ClientSettings, CodeRecord, Consent, KeyRecord, LoginSession,
    PasswordHash, Realm, RefreshTokenRecord, StandardClaims, User,
};
use oidc_core::repo::{RepoError, RepoResult, RoleHolder};
use oidc_core::roles::RoleDef;
use oidc_core::scope::Scope;
use oidc_core::secret::{ClientSecret, Digest};
use oidc_core::time::UnixTime;
use sea_orm::{DbErr, SqlErr};

use oidc_core::registration::{ClientRegistration, InitialAccessToken, PolicyKind};
use oidc_core::throttle::FailureCount;

use crate::entity::{
    access_tokens, audit_events, auth_codes, client_registrations, clients, consents, initial_access_tokens,
    login_failures, login_sessions, realms, refresh_tokens, registration_policies, role_assignments, role_definitions,
    signing_keys, used_assertions, users,
};

/// A stored value that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("corrupt value in {table}.{column}: {reason}")]
pub(crate) struct Corrupt {
    table: &'static str,
    column: &'static str,
    reason: String,
}

impl Corrupt {
    fn new(table: &'static str, column: &'static str, reason: impl Display) -> Corrupt {
        Corrupt { table, column, reason: reason.to_string() }
    }
}

impl From<Corrupt> for RepoError {
    fn from(e: Corrupt) -> RepoError {
        RepoError::Backend(Box::new(e))
    }
}

/// Maps a database error: a unique violation is `Conflict`, anything else `Backend`.
pub(crate) fn db_err(e: DbErr) -> RepoError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(m)) => RepoError::Conflict(m),
        _ => RepoError::Backend(Box::new(e)),
    }
}

/// `.repo()` turns a SeaORM result into a repository result with [`db_err`].
pub(crate) trait OrRepo<T> {
    /// The result with its error mapped by [`db_err`].
    fn repo(self) -> RepoResult<T>;
}

impl<T> OrRepo<T> for Result<T, DbErr> {
    fn repo(self) -> RepoResult<T> {
        self.map_err(db_err)
    }
}

/// A JSON array of strings.
fn to_json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::Array(items.iter().map(|s| serde_json::Value::String(s.as_ref().to_owned())).collect())
        .to_string()
}

/// Parses a JSON array of strings.
fn json_list(table: &'static str, column: &'static str, text: &str) -> Result<Vec<String>, Corrupt> {
    serde_json::from_str(text).map_err(|e| Corrupt::new(table, column, e))
}

/// Parses a column with `FromStr`.
fn parsed<T: FromStr>(table: &'static str, column: &'static str, text: &str) -> Result<T, Corrupt>
where
    T::Err: Display,
{
    text.parse().map_err(|e| Corrupt::new(table, column, e))
}

/// Parses a space-delimited scope.
fn scope(table: &'static str, column: &'static str, text: &str) -> Result<Scope, Corrupt> {
    Scope::parse(text).map_err(|e| Corrupt::new(table, column, e))
}

impl From<&Realm> for realms::Model {
    fn from(r: &Realm) -> Self {
        realms::Model { name: r.name.clone(), secret_key: r.secret_key.clone(), created_at: r.created_at.secs() }
    }
}

impl From<realms::Model> for Realm {
    fn from(m: realms::Model) -> Self {
        Realm { name: m.name, secret_key: m.secret_key, created_at: UnixTime(m.created_at) }
    }
}

impl From<&KeyRecord> for signing_keys::Model {
    fn from(k: &KeyRecord) -> Self {
        signing_keys::Model {
            realm: k.realm.clone(),
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            private_pkcs8: k.private_pkcs8.clone(),
            state: k.state.as_str().to_owned(),
            created_at: k.created_at.secs(),
            published_until: k.published_until.map(UnixTime::secs),
        }
    }
}

impl TryFrom<signing_keys::Model> for KeyRecord {
    type Error = RepoError;

    fn try_from(m: signing_keys::Model) -> RepoResult<Self> {
        Ok(KeyRecord {
            state: parsed("signing_keys", "state", &m.state)?,
            kid: m.kid,
            realm: m.realm,
            alg: m.alg,
            private_pkcs8: m.private_pkcs8,
            created_at: UnixTime(m.created_at),
            published_until: m.published_until.map(UnixTime),
        })
    }
}

impl From<&Client> for clients::Model {
    fn from(c: &Client) -> Self {
        let response_types: Vec<&str> = c.response_types.iter().map(|r| r.as_str()).collect();
        clients::Model {
            realm: c.realm.clone(),
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            client_type: c.client_type.as_str().to_owned(),
            client_secret: c.client_secret.as_ref().map(|s| s.secret().to_owned()),
            response_types: to_json_list(&response_types),
            grant_types: to_json_list(&c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
            jwt_alg: c.jwt_alg.as_str().to_owned(),
            date_created: c.date_created.secs(),
            redirect_uris: to_json_list(&c.redirect_uris),
            post_logout_redirect_uris: to_json_list(&c.post_logout_redirect_uris),
            require_consent: c.require_consent,
            reuse_consent: c.reuse_consent,
            website_url: c.website_url.clone(),
            terms_url: c.terms_url.clone(),
            contact_email: c.contact_email.clone(),
            logo: c.logo.clone(),
            allowed_scopes: to_json_list(&c.allowed_scopes),
            enabled: c.enabled,
            subject_type: c.subject_type.as_str().to_owned(),
            sector_identifier_uri: c.sector_identifier_uri.clone(),
            jwks: c.jwks.clone(),
            default_max_age: c.default_max_age,
            userinfo_signed_response_alg: c.userinfo_signed_response_alg.map(|a| a.as_str().to_owned()),
            jwks_uri: c.jwks_uri.clone(),
            token_endpoint_auth_method: c.token_endpoint_auth_method.map(|m| m.as_str().to_owned()),
            access_token_format: c.access_token_format.map(|f| f.as_str().to_owned()),
            access_token_signed_response_alg: c.access_token_signed_response_alg.map(|a| a.as_str().to_owned()),
            policy_url: c.policy_url.clone(),
            default_scopes: to_json_list(&c.default_scopes),
            description: c.description.clone(),
            root_url: c.root_url.clone(),
            web_origins: to_json_list(&c.web_origins),
            pkce_method: c.pkce_method.map(|m| m.as_str().to_owned()),
            full_scope_allowed: c.full_scope_allowed,
            role_scope: to_json_list(&c.role_scope),
            frontchannel_logout_uri: c.logout.frontchannel_uri.clone(),
            frontchannel_logout_session_required: c.logout.frontchannel_session_required,
            backchannel_logout_uri: c.logout.backchannel_uri.clone(),
            backchannel_logout_session_required: c.logout.backchannel_session_required,
        }
    }
}

/// Parses an optional column with `FromStr`.
fn parsed_opt<T: FromStr>(table: &'static str, column: &'static str, v: Option<&str>) -> Result<Option<T>, Corrupt>
where
    T::Err: Display,
{
    v.map(|a| parsed(table, column, a)).transpose()
}

impl TryFrom<clients::Model> for Client {
    type Error = RepoError;

    fn try_from(m: clients::Model) -> RepoResult<Self> {
        const T: &str = "clients";
        let response_types = json_list(T, "response_types", &m.response_types)?
            .iter()
            .map(|r| parsed(T, "response_types", r))
            .collect::<Result<Vec<_>, _>>()?;
        let grant_types = json_list(T, "grant_types", &m.grant_types)?
            .iter()
            .map(|g| parsed(T, "grant_types", g))
            .collect::<Result<Vec<_>, _>>()?;
        let settings = ClientSettings {
            name: m.name,
            client_type: parsed(T, "client_type", &m.client_type)?,
            response_types,
            grant_types,
            jwt_alg: parsed(T, "jwt_alg", &m.jwt_alg)?,
            redirect_uris: json_list(T, "redirect_uris", &m.redirect_uris)?,
            post_logout_redirect_uris: json_list(T, "post_logout_redirect_uris", &m.post_logout_redirect_uris)?,
            require_consent: m.require_consent,
            reuse_consent: m.reuse_consent,
            website_url: m.website_url,
            terms_url: m.terms_url,
            policy_url: m.policy_url,
            contact_email: m.contact_email,
            logo: m.logo,
            allowed_scopes: json_list(T, "allowed_scopes", &m.allowed_scopes)?,
            default_scopes: json_list(T, "default_scopes", &m.default_scopes)?,
            enabled: m.enabled,
            subject_type: parsed(T, "subject_type", &m.subject_type)?,
            sector_identifier_uri: m.sector_identifier_uri,
            jwks: m.jwks,
            default_max_age: m.default_max_age,
            userinfo_signed_response_alg: parsed_opt(
                T,
                "userinfo_signed_response_alg",
                m.userinfo_signed_response_alg.as_deref(),
            )?,
            jwks_uri: m.jwks_uri,
            token_endpoint_auth_method: parsed_opt(
                T,
                "token_endpoint_auth_method",
                m.token_endpoint_auth_method.as_deref(),
            )?,
            access_token_format: parsed_opt(T, "access_token_format", m.access_token_format.as_deref())?,
            access_token_signed_response_alg: parsed_opt(
                T,
                "access_token_signed_response_alg",
                m.access_token_signed_response_alg.as_deref(),
            )?,
            description: m.description,
            root_url: m.root_url,
            web_origins: json_list(T, "web_origins", &m.web_origins)?,
            pkce_method: parsed_opt(T, "pkce_method", m.pkce_method.as_deref())?,
            full_scope_allowed: m.full_scope_allowed,
            role_scope: json_list(T, "role_scope", &m.role_scope)?,
            logout: oidc_core::model::ClientLogout {
                frontchannel_uri: m.frontchannel_logout_uri,
                frontchannel_session_required: m.frontchannel_logout_session_required,
                backchannel_uri: m.backchannel_logout_uri,
                backchannel_session_required: m.backchannel_logout_session_required,
            },
        };
        Ok(Client {
            realm: m.realm,
            client_id: m.client_id,
            client_secret: m.client_secret.map(ClientSecret::new),
            date_created: UnixTime(m.date_created),
            settings,
        })
    }
}

impl From<&User> for users::Model {
    fn from(u: &User) -> Self {
        let c = u.claims.clone();
        let a = c.address;
        users::Model {
            realm: u.realm.clone(),
            id: u.id.clone(),
            username: u.username.clone(),
            password_hash: u.password_hash.as_ref().map(|h| h.0.clone()),
            active: u.active,
            name: c.name,
            given_name: c.given_name,
            family_name: c.family_name,
            middle_name: c.middle_name,
            nickname: c.nickname,
            preferred_username: c.preferred_username,
            profile: c.profile,
            picture: c.picture,
            website: c.website,
            gender: c.gender,
            birthdate: c.birthdate,
            zoneinfo: c.zoneinfo,
            locale: c.locale,
            email: c.email,
            email_verified: c.email_verified,
            phone_number: c.phone_number,
            phone_number_verified: c.phone_number_verified,
            address_formatted: a.formatted,
            address_street_address: a.street_address,
            address_locality: a.locality,
            address_region: a.region,
            address_postal_code: a.postal_code,
            address_country: a.country,
            created_at: u.created_at.secs(),
            updated_at: u.updated_at.secs(),
            attributes: serde_json::to_string(&u.attributes).unwrap_or_else(|_| "{}".into()),
        }
    }
}

impl TryFrom<users::Model> for User {
    type Error = RepoError;

    fn try_from(m: users::Model) -> RepoResult<Self> {
        let attributes = serde_json::from_str(&m.attributes)
            .map_err(|e| Corrupt::new("users", "attributes", format!("not a JSON object: {e}")))?;
        Ok(User {
            id: m.id,
            realm: m.realm,
            username: m.username,
            password_hash: m.password_hash.map(PasswordHash),
            active: m.active,
            claims: StandardClaims {
                name: m.name,
                given_name: m.given_name,
                family_name: m.family_name,
                middle_name: m.middle_name,
                nickname: m.nickname,
                preferred_username: m.preferred_username,
                profile: m.profile,
                picture: m.picture,
                website: m.website,
                gender: m.gender,
                birthdate: m.birthdate,
                zoneinfo: m.zoneinfo,
                locale: m.locale,
                email: m.email,
                email_verified: m.email_verified,
                phone_number: m.phone_number,
                phone_number_verified: m.phone_number_verified,
                address: Address {
                    formatted: m.address_formatted,
                    street_address: m.address_street_address,
                    locality: m.address_locality,
                    region: m.address_region,
                    postal_code: m.address_postal_code,
                    country: m.address_country,
                },
            },
            created_at: UnixTime(m.created_at),
            updated_at: UnixTime(m.updated_at),
            attributes,
        })
    }
}

impl From<&LoginSession> for login_sessions::Model {
    fn from(s: &LoginSession) -> Self {
        login_sessions::Model {
            digest: s.digest.0.clone(),
            id: s.id.clone(),
            realm: s.realm.clone(),
            user_id: s.user_id.clone(),
            auth_time: s.auth_time.secs(),
            expires_at: s.expires_at.secs(),
            last_used: Some(s.last_used.secs()),
            user_agent: s.user_agent.clone(),
            address: s.address.clone(),
        }
    }
}

impl From<login_sessions::Model> for LoginSession {
    fn from(m: login_sessions::Model) -> Self {
        LoginSession {
            digest: Digest(m.digest),
            id: m.id,
            realm: m.realm,
            user_id: m.user_id,
            auth_time: UnixTime(m.auth_time),
            expires_at: UnixTime(m.expires_at),
            // Sessions from before the column existed were last used when they started.
            last_used: UnixTime(m.last_used.unwrap_or(m.auth_time)),
            user_agent: m.user_agent,
            address: m.address,
        }
    }
}

impl From<&Consent> for consents::Model {
    fn from(c: &Consent) -> Self {
        consents::Model {
            realm: c.realm.clone(),
            user_id: c.user_id.clone(),
            client_id: c.client_id.clone(),
            scope: c.scope.to_string(),
            given_at: c.given_at.secs(),
            expires_at: c.expires_at.secs(),
        }
    }
}

impl TryFrom<consents::Model> for Consent {
    type Error = RepoError;

    fn try_from(m: consents::Model) -> RepoResult<Self> {
        Ok(Consent {
            scope: scope("consents", "scope", &m.scope)?,
            realm: m.realm,
            user_id: m.user_id,
            client_id: m.client_id,
            given_at: UnixTime(m.given_at),
            expires_at: UnixTime(m.expires_at),
        })
    }
}

/// A new, unused code row.
impl From<&CodeRecord> for auth_codes::Model {
    fn from(c: &CodeRecord) -> Self {
        auth_codes::Model {
            digest: c.digest.0.clone(),
            realm: c.realm.clone(),
            client_id: c.client_id.clone(),
            user_id: c.user_id.clone(),
            redirect_uri: c.redirect_uri.clone(),
            scope: c.scope.to_string(),
            nonce: c.nonce.clone(),
            code_challenge: c.code_challenge.clone(),
            code_challenge_method: c.code_challenge_method.map(|m| m.as_str().to_owned()),
            auth_time: c.auth_time.secs(),
            session_id: c.session_id.clone(),
            expires_at: c.expires_at.secs(),
            grant_id: c.grant_id.clone(),
            used: false,
            acr: c.acr.clone(),
            claims: c.claims.clone(),
            resources: audience_column(&c.resources),
        }
    }
}

impl TryFrom<auth_codes::Model> for CodeRecord {
    type Error = RepoError;

    fn try_from(m: auth_codes::Model) -> RepoResult<Self> {
        const T: &str = "auth_codes";
        Ok(CodeRecord {
            scope: scope(T, "scope", &m.scope)?,
            code_challenge_method: m
                .code_challenge_method
                .as_deref()
                .map(|s| parsed(T, "code_challenge_method", s))
                .transpose()?,
            digest: Digest(m.digest),
            realm: m.realm,
            client_id: m.client_id,
            user_id: m.user_id,
            redirect_uri: m.redirect_uri,
            nonce: m.nonce,
            code_challenge: m.code_challenge,
            auth_time: UnixTime(m.auth_time),
            session_id: m.session_id,
            expires_at: UnixTime(m.expires_at),
            grant_id: m.grant_id,
            acr: m.acr,
            claims: m.claims,
            resources: audience_field(T, m.resources.as_deref())?,
        })
    }
}

impl From<&AccessTokenRecord> for access_tokens::Model {
    fn from(a: &AccessTokenRecord) -> Self {
        access_tokens::Model {
            digest: a.digest.0.clone(),
            realm: a.realm.clone(),
            client_id: a.client_id.clone(),
            // A client_credentials token has no user: stored as the empty string.
            user_id: a.user_id.clone().unwrap_or_default(),
            scope: a.scope.to_string(),
            expires_at: a.expires_at.secs(),
            grant_id: a.grant_id.clone(),
            claims: a.claims.clone(),
            issued_at: a.issued_at.secs(),
            audience: audience_column(&a.audience),
            jti: a.jti.clone(),
            session_id: a.session_id.clone(),
        }
    }
}

impl TryFrom<access_tokens::Model> for AccessTokenRecord {
    type Error = RepoError;

    fn try_from(m: access_tokens::Model) -> RepoResult<Self> {
        Ok(AccessTokenRecord {
            scope: scope("access_tokens", "scope", &m.scope)?,
            digest: Digest(m.digest),
            realm: m.realm,
            client_id: m.client_id,
            user_id: (!m.user_id.is_empty()).then_some(m.user_id),
            expires_at: UnixTime(m.expires_at),
            grant_id: m.grant_id,
            claims: m.claims,
            audience: audience_field("access_tokens", m.audience.as_deref())?,
            issued_at: UnixTime(m.issued_at),
            session_id: m.session_id,
            jti: m.jti,
        })
    }
}

/// RFC 8707 resource indicators as a JSON list; none is NULL.
fn audience_column(audience: &[String]) -> Option<String> {
    (!audience.is_empty()).then(|| to_json_list(audience))
}

fn audience_field(table: &'static str, text: Option<&str>) -> Result<Vec<String>, Corrupt> {
    text.map_or(Ok(Vec::new()), |t| json_list(table, "audience", t))
}

/// A new, unused refresh token row.
impl From<&RefreshTokenRecord> for refresh_tokens::Model {
    fn from(r: &RefreshTokenRecord) -> Self {
        refresh_tokens::Model {
            digest: r.digest.0.clone(),
            realm: r.realm.clone(),
            client_id: r.client_id.clone(),
            user_id: r.user_id.clone(),
            scope: r.scope.to_string(),
            expires_at: r.expires_at.secs(),
            grant_id: r.grant_id.clone(),
            auth_time: r.auth_time.secs(),
            session_id: r.session_id.clone(),
            used: false,
            claims: r.claims.clone(),
            issued_at: r.issued_at.secs(),
            audience: audience_column(&r.audience),
            jti: r.jti.clone(),
            used_at: None,
            reused_at: None,
            offline: r.offline,
        }
    }
}

impl TryFrom<refresh_tokens::Model> for RefreshTokenRecord {
    type Error = RepoError;

    fn try_from(m: refresh_tokens::Model) -> RepoResult<Self> {
        Ok(RefreshTokenRecord {
            scope: scope("refresh_tokens", "scope", &m.scope)?,
            digest: Digest(m.digest),
            realm: m.realm,
            client_id: m.client_id,
            user_id: m.user_id,
            expires_at: UnixTime(m.expires_at),
            grant_id: m.grant_id,
            auth_time: UnixTime(m.auth_time),
            session_id: m.session_id,
            claims: m.claims,
            audience: audience_field("refresh_tokens", m.audience.as_deref())?,
            issued_at: UnixTime(m.issued_at),
            jti: m.jti,
            offline: m.offline,
        })
    }
}

impl From<&AuditEvent> for audit_events::ActiveModel {
    fn from(e: &AuditEvent) -> Self {
        use sea_orm::ActiveValue::{NotSet, Set};
        audit_events::ActiveModel {
            id: NotSet,
            realm: Set(e.realm.clone()),
            at: Set(e.at.secs()),
            kind: Set(e.kind.clone()),
            user_id: Set(e.user_id.clone()),
            client_id: Set(e.client_id.clone()),
            detail: Set(e.detail.clone()),
        }
    }
}

impl From<audit_events::Model> for AuditEvent {
    fn from(m: audit_events::Model) -> Self {
        AuditEvent {
            realm: m.realm,
            at: UnixTime(m.at),
            kind: m.kind,
            user_id: m.user_id,
            client_id: m.client_id,
            detail: m.detail,
        }
    }
}

impl From<login_failures::Model> for FailureCount {
    fn from(m: login_failures::Model) -> Self {
        FailureCount { count: m.count, last_failure: UnixTime(m.last_failure) }
    }
}

impl From<&InitialAccessToken> for initial_access_tokens::Model {
    fn from(t: &InitialAccessToken) -> Self {
        initial_access_tokens::Model {
            realm: t.realm.clone(),
            id: t.id.clone(),
            digest: t.digest.0.clone(),
            created_at: t.created_at.secs(),
            expires_at: t.expires_at.map(UnixTime::secs),
            max_uses: t.max_uses,
            used: t.used,
        }
    }
}

impl From<initial_access_tokens::Model> for InitialAccessToken {
    fn from(m: initial_access_tokens::Model) -> Self {
        InitialAccessToken {
            id: m.id,
            realm: m.realm,
            digest: Digest(m.digest),
            created_at: UnixTime(m.created_at),
            expires_at: m.expires_at.map(UnixTime),
            max_uses: m.max_uses,
            used: m.used,
        }
    }
}

impl From<&ClientRegistration> for client_registrations::Model {
    fn from(r: &ClientRegistration) -> Self {
        client_registrations::Model {
            realm: r.realm.clone(),
            client_id: r.client_id.clone(),
            token_digest: r.token_digest.0.clone(),
            metadata: r.metadata.clone(),
            anonymous: r.anonymous,
            created_at: r.created_at.secs(),
        }
    }
}

impl From<client_registrations::Model> for ClientRegistration {
    fn from(m: client_registrations::Model) -> Self {
        ClientRegistration {
            realm: m.realm,
            client_id: m.client_id,
            token_digest: Digest(m.token_digest),
            metadata: m.metadata,
            anonymous: m.anonymous,
            created_at: UnixTime(m.created_at),
        }
    }
}

impl From<registration_policies::Model> for (PolicyKind, String) {
    fn from(m: registration_policies::Model) -> Self {
        let kind = if m.kind == "anonymous" { PolicyKind::Anonymous } else { PolicyKind::Authenticated };
        (kind, m.config)
    }
}

/// The kind and id columns of a role holder.
pub(crate) fn holder_columns(h: &RoleHolder) -> (&'static str, &str) {
    match h {
        RoleHolder::User(id) => ("user", id),
        RoleHolder::Client(id) => ("client", id),
    }
}

impl TryFrom<role_assignments::Model> for (RoleHolder, String) {
    type Error = RepoError;

    fn try_from(m: role_assignments::Model) -> RepoResult<Self> {
        let holder = match m.holder_kind.as_str() {
            "user" => RoleHolder::User(m.holder_id),
            "client" => RoleHolder::Client(m.holder_id),
            other => return Err(Corrupt::new("role_assignments", "holder_kind", format!("'{other}'")).into()),
        };
        Ok((holder, m.role))
    }
}

/// A used client assertion: realm, client_id, jti and expiry.
pub(crate) struct UsedAssertion<'a>(pub(crate) &'a str, pub(crate) &'a str, pub(crate) &'a str, pub(crate) UnixTime);

impl From<UsedAssertion<'_>> for used_assertions::Model {
    fn from(u: UsedAssertion<'_>) -> Self {
        used_assertions::Model {
            realm: u.0.to_owned(),
            client_id: u.1.to_owned(),
            jti: u.2.to_owned(),
            expires_at: u.3.secs(),
        }
    }
}

impl From<role_definitions::Model> for RoleDef {
    fn from(m: role_definitions::Model) -> Self {
        RoleDef { name: m.name, description: m.description }
    }
}

/// A client's role scope without `role`, as stored; `None` when the stored
/// list does not name it (or cannot be read, which the client's next read reports).
pub(crate) fn role_scope_without(stored: &str, role: &str) -> Option<String> {
    let mut list = json_list("clients", "role_scope", stored).ok()?;
    let before = list.len();
    list.retain(|r| r != role);
    (list.len() != before).then(|| to_json_list(&list))
}
