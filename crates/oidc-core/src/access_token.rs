//! Minting access tokens: the one place every grant and the authorization
//! endpoint get an access token and the record to store under its digest.
//!
//! A client's tokens are opaque (256 random bits) or JWTs (RFC 9068) by its
//! `access_token_format`, or else by the realm's default. Both are stored by
//! digest, so that revocation, logout and code-replay revocation stop either
//! at UserInfo and introspection; a resource server that checks only a JWT's
//! signature sees it valid until `exp`, which is why JWT access tokens live
//! short ([`Settings::jwt_access_token_lifetime`]).

use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::error::OAuthError;
use crate::jose::KeySet;
use crate::model::{AccessTokenFormat, AccessTokenRecord, Client, JwtAlg, User};
use crate::rand::{Random, ordered_token, token};
use crate::scope::{Scope, ScopeRegistry};
use crate::secret::AccessToken;
use crate::time::UnixTime;

/// The media type of a JWT access token (RFC 9068 §2.1), its `typ` header.
pub const JWT_TYPE: &str = "at+jwt";

/// What an access token is issued for.
#[derive(Debug)]
pub struct AccessTokenInput<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The realm's issuer (`iss`).
    pub issuer: &'a str,
    /// The realm's keys, for JWT access tokens.
    pub keys: &'a KeySet,
    /// The client it is issued to.
    pub client: &'a Client,
    /// The user, or `None` for a client acting on its own behalf (RFC 6749 §4.4).
    pub user: Option<&'a User>,
    /// The user's subject identifier for the client.
    pub subject: Option<&'a str>,
    /// The granted scope.
    pub scope: &'a Scope,
    /// The grant family it belongs to.
    pub grant_id: &'a str,
    /// The login session, when there is one.
    pub session_id: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// The `claims` request parameter (OIDC Core §5.5), for UserInfo.
    pub claims: Option<&'a str>,
    /// RFC 8707 resource indicators; empty means the client.
    pub audience: &'a [String],
    /// The scopes the realm knows (which claims a scope grants).
    pub registry: &'a ScopeRegistry,
    /// The realm's settings (format, lifetimes).
    pub settings: &'a Settings,
    /// The realm roles of the user, or of the client's service account
    /// without a user; read only under the `roles` scope.
    pub roles: &'a [String],
    /// Now.
    pub now: UnixTime,
}

/// A new access token with the record to store and its lifetime.
#[derive(Debug)]
pub struct Minted {
    /// The token to hand to the client.
    pub value: AccessToken,
    /// The record to store under its digest.
    pub record: AccessTokenRecord,
    /// `expires_in` (RFC 6749 §5.1).
    pub expires_in: i64,
}

/// The format of `client`'s access tokens: its own, or the realm's default.
pub fn format_for(client: &Client, settings: &Settings) -> AccessTokenFormat {
    client.access_token_format.unwrap_or(settings.access_token_format)
}

/// Mints an access token in the client's format, and its record.
pub fn mint(input: &AccessTokenInput<'_>, rng: &dyn Random) -> Result<Minted, OAuthError> {
    let format = format_for(input.client, input.settings);
    let lifetime = match format {
        AccessTokenFormat::Opaque => input.settings.access_token_lifetime,
        AccessTokenFormat::Jwt => input.settings.jwt_access_token_lifetime,
    };
    let expires_at = input.now.plus(lifetime);
    let jti = token(rng, 16);
    let value = match format {
        AccessTokenFormat::Opaque => ordered_token(rng, input.now),
        AccessTokenFormat::Jwt => {
            // RFC 9068 §2.1: signed with the client's algorithm (RS256 by default), typ at+jwt.
            let alg = input.client.access_token_signed_response_alg.unwrap_or(JwtAlg::Rs256);
            let key = input.keys.active_for(alg).ok_or_else(|| {
                OAuthError::server_error(format!("the realm has no active {} key for access tokens", alg.as_str()))
            })?;
            key.sign_typed(&jwt_claims(input, &jti, expires_at), JWT_TYPE)
        }
    };
    let value = AccessToken::new(value);
    let record = AccessTokenRecord {
        digest: value.digest(),
        realm: input.realm.to_owned(),
        client_id: input.client.client_id.clone(),
        user_id: input.user.map(|u| u.id.clone()),
        scope: input.scope.clone(),
        expires_at,
        grant_id: input.grant_id.to_owned(),
        claims: input.claims.map(str::to_owned),
        issued_at: input.now,
        session_id: input.session_id.map(str::to_owned),
        audience: input.audience.to_vec(),
        jti,
    };
    Ok(Minted { value, record, expires_in: lifetime })
}

/// The user claims a JWT access token carries when the granted scope
/// releases them (Keycloak's access tokens carry these).
const PROFILE_CLAIMS: [&str; 3] = ["preferred_username", "email", "name"];

/// The claims of a JWT access token (RFC 9068 §2.2): `iss`, `sub` (the
/// client itself without a user, §2.2), `aud` (the resource indicators or the
/// client, §3), `exp`, `iat`, `auth_time`, `jti`, `client_id`, `scope`,
/// `sid`, and Keycloak's `azp`, `typ: "Bearer"`, the user's
/// `preferred_username`, `email` and `name` when the scope grants them, and
/// `realm_access.roles` under the `roles` scope (Keycloak's "Client scopes").
/// This is the one place new claims go.
pub fn jwt_claims(input: &AccessTokenInput<'_>, jti: &str, expires_at: UnixTime) -> Map<String, Value> {
    let client_id = input.client.client_id.as_str();
    let mut c = Map::new();
    c.insert("iss".into(), json!(input.issuer));
    let sub = match (input.user, input.subject) {
        (Some(_), Some(s)) => s,
        _ => client_id,
    };
    c.insert("sub".into(), json!(sub));
    let aud: Vec<&str> =
        if input.audience.is_empty() { vec![client_id] } else { input.audience.iter().map(String::as_str).collect() };
    c.insert("aud".into(), crate::introspect::audience_value(&aud));
    c.insert("exp".into(), json!(expires_at.secs()));
    c.insert("iat".into(), json!(input.now.secs()));
    if let (Some(_), Some(t)) = (input.user, input.auth_time) {
        c.insert("auth_time".into(), json!(t.secs()));
    }
    c.insert("jti".into(), json!(jti));
    c.insert("client_id".into(), json!(client_id));
    c.insert("scope".into(), json!(input.scope.to_string()));
    if let Some(sid) = input.session_id {
        c.insert("sid".into(), json!(sid));
    }
    c.insert("azp".into(), json!(client_id));
    c.insert("typ".into(), json!("Bearer"));
    if let Some(user) = input.user {
        let granted = input.registry.claims_of(input.scope);
        for name in PROFILE_CLAIMS.into_iter().filter(|n| granted.contains(n)) {
            if let Some(v) = crate::userinfo::claim_value(user, name) {
                c.insert(name.into(), v);
            }
        }
    }
    crate::roles::add_realm_access(&mut c, input.scope, input.roles, input.client);
    c
}

#[cfg(test)]
mod tests;
