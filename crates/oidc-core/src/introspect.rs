//! Token introspection (RFC 7662): what a resource server may learn about a
//! token this realm issued.
//!
//! The adapter authenticates the caller with the token endpoint's client
//! authentication ([`crate::token::parse_credentials`]), looks the token up
//! by digest (access tokens first, or refresh tokens first with
//! `token_type_hint=refresh_token`), and hands what it found to
//! [`introspect`], which answers exactly `{"active": false}` for anything
//! that is not an active token the caller may see (RFC 7662 §2.2).

use serde_json::{Map, Value, json};

use crate::config::IntrospectionPolicy;
use crate::error::OAuthError;
use crate::hooks::Hooks;
use crate::model::{AccessTokenRecord, Client, ClientType, RefreshTokenRecord, User};
use crate::params::Params;
use crate::time::UnixTime;

/// The media type of a signed introspection response (RFC 9701 §5).
pub const JWT_RESPONSE_TYPE: &str = "token-introspection+jwt";

/// `token_type_hint` (RFC 7662 §2.1, RFC 7009 §2.1): only a hint, which
/// token table to search first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

/// A parsed introspection or revocation request (after the client's
/// credentials were taken out).
#[derive(Debug)]
pub struct TokenQuery {
    /// The token presented, to be looked up by its digest.
    pub token: crate::secret::AccessToken,
    /// The hint; unknown hints are ignored (RFC 7662 §2.1, RFC 7009 §2.1).
    pub hint: Option<TokenTypeHint>,
}

impl TokenQuery {
    /// Whether refresh tokens are searched before access tokens.
    pub fn refresh_first(&self) -> bool {
        self.hint == Some(TokenTypeHint::RefreshToken)
    }
}

/// Parses `token` (required) and `token_type_hint` (RFC 7662 §2.1, RFC 7009 §2.1).
pub fn parse_query(params: &Params) -> Result<TokenQuery, OAuthError> {
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("the token parameter is missing"))?;
    let hint = match params.get("token_type_hint") {
        Some("access_token") => Some(TokenTypeHint::AccessToken),
        Some("refresh_token") => Some(TokenTypeHint::RefreshToken),
        _ => None,
    };
    Ok(TokenQuery { token: crate::secret::AccessToken::new(token.to_owned()), hint })
}

/// Whether an authenticated client may call introspection at all: by default
/// every confidential client of the realm (Keycloak's behaviour). A public
/// client proves nothing by presenting its id, so it is refused
/// (RFC 7662 §2.1: the endpoint requires authorization; §4: it must not
/// become a token-scanning oracle).
pub fn check_caller(caller: &Client) -> Result<(), OAuthError> {
    if caller.client_type == ClientType::Public {
        return Err(OAuthError::invalid_client("public clients may not introspect tokens (RFC 7662 §2.1)"));
    }
    Ok(())
}

/// What the adapter found under the presented token's digest.
#[derive(Debug)]
pub enum Found {
    /// An access token (expired or not) with its user when it has one.
    Access(AccessTokenRecord, Option<User>),
    /// A refresh token; `spent` once it was rotated.
    Refresh {
        /// The record.
        record: RefreshTokenRecord,
        /// Whether it was used already (rotation makes it unusable).
        spent: bool,
        /// Its user, if the user still exists.
        user: Option<User>,
    },
    /// No token of this realm has that digest (unknown, malformed, revoked or
    /// of another realm).
    Nothing,
}

impl Found {
    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Found::Access(r, _) => Some(&r.client_id),
            Found::Refresh { record, .. } => Some(&record.client_id),
            Found::Nothing => None,
        }
    }

    /// Whose realm roles the token may carry, with its scope: the user's, or
    /// the client's service account for a token without a user.
    pub fn role_holder(&self) -> Option<(crate::repo::RoleHolder, &crate::scope::Scope)> {
        use crate::repo::RoleHolder;
        match self {
            Found::Access(r, _) => Some((
                match &r.user_id {
                    Some(id) => RoleHolder::User(id.clone()),
                    None => RoleHolder::Client(r.client_id.clone()),
                },
                &r.scope,
            )),
            Found::Refresh { record, .. } => Some((RoleHolder::User(record.user_id.clone()), &record.scope)),
            Found::Nothing => None,
        }
    }

    /// The token's user, when it has one that still exists.
    pub fn user(&self) -> Option<&User> {
        match self {
            Found::Access(_, u) | Found::Refresh { user: u, .. } => u.as_ref(),
            Found::Nothing => None,
        }
    }
}

/// The inputs of an introspection answer.
#[derive(Debug)]
pub struct IntrospectionInput<'a> {
    /// The realm's issuer (`iss`).
    pub issuer: &'a str,
    /// The authenticated caller.
    pub caller: &'a Client,
    /// What the token's digest found.
    pub found: &'a Found,
    /// The client the token was issued to, if it still exists.
    pub token_client: Option<&'a Client>,
    /// The user's subject identifier for `token_client` (OIDC Core §8).
    pub subject: Option<&'a str>,
    /// Who may see what.
    pub policy: &'a IntrospectionPolicy,
    /// The introspection hooks.
    pub hooks: &'a Hooks,
    /// The realm roles of the token's holder ([`Found::role_holder`]); the
    /// adapter may leave them out when the token has no `roles` scope.
    pub roles: &'a [String],
    /// Now.
    pub now: UnixTime,
}

/// `{"active": false}`, and nothing else (RFC 7662 §2.2: no details about an
/// inactive token).
pub fn inactive() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("active".into(), json!(false));
    m
}

/// The introspection answer (RFC 7662 §2.2). A token is active when it is
/// stored (not revoked), unexpired, not a spent refresh token, its client is
/// enabled and its user (if any) is active; with `require_audience`, the
/// caller must also be in its audience. Anything else is [`inactive`].
pub fn introspect(input: &IntrospectionInput<'_>) -> Map<String, Value> {
    let Some(client) =
        input.token_client.filter(|c| c.enabled && Some(c.client_id.as_str()) == input.found.client_id())
    else {
        return inactive();
    };
    let user_ok = |user_id: Option<&str>, user: &Option<User>| match user_id {
        None => true,
        Some(id) => user.as_ref().is_some_and(|u| u.active && u.id == id),
    };
    let (scope, expires_at, issued_at, aud, jti, sid, token_type, user) = match input.found {
        Found::Access(r, user) if r.expires_at > input.now && user_ok(r.user_id.as_deref(), user) => (
            &r.scope,
            r.expires_at,
            r.issued_at,
            r.aud(),
            &r.jti,
            r.session_id.as_deref(),
            "Bearer",
            user.as_ref().filter(|_| r.user_id.is_some()),
        ),
        Found::Refresh { record: r, spent: false, user }
            if r.expires_at > input.now && user_ok(Some(&r.user_id), user) =>
        {
            (
                &r.scope,
                r.expires_at,
                r.issued_at,
                vec![r.client_id.as_str()],
                &r.jti,
                r.session_id.as_deref(),
                "refresh_token",
                user.as_ref(),
            )
        }
        _ => return inactive(),
    };
    // django-oidc-provider's OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE.
    if input.policy.require_audience && !aud.contains(&input.caller.client_id.as_str()) {
        return inactive();
    }
    let mut m = Map::new();
    m.insert("active".into(), json!(true));
    if input.policy.include_scope {
        m.insert("scope".into(), json!(scope.to_string()));
    }
    m.insert("client_id".into(), json!(client.client_id));
    if let Some(u) = user {
        m.insert("username".into(), json!(u.username));
    }
    m.insert("token_type".into(), json!(token_type));
    m.insert("exp".into(), json!(expires_at.secs()));
    m.insert("iat".into(), json!(issued_at.secs()));
    m.insert("nbf".into(), json!(issued_at.secs()));
    // RFC 9068 §2.2: without a resource owner, sub identifies the client.
    let sub = match (user, input.subject) {
        (Some(_), Some(s)) => s,
        _ => client.client_id.as_str(),
    };
    m.insert("sub".into(), json!(sub));
    m.insert("aud".into(), audience_value(&aud));
    m.insert("iss".into(), json!(input.issuer));
    if !jti.is_empty() {
        m.insert("jti".into(), json!(jti));
    }
    if let Some(sid) = sid {
        m.insert("sid".into(), json!(sid));
    }
    // Keycloak's realm roles mapper answers introspection too ("Client scopes": the `roles` scope).
    crate::roles::add_realm_access(&mut m, scope, input.roles, client);
    input.hooks.process_introspection(&mut m, input.caller, client, user, scope);
    m
}

/// `aud` as RFC 7519 §4.1.3 writes it: one string, or an array of several.
pub fn audience_value(aud: &[&str]) -> Value {
    match aud {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The claims of a signed introspection response (RFC 9701 §5): `iss`,
/// `aud` (the caller), `iat` and the answer under `token_introspection`.
/// The adapter signs them with [`crate::jose::SigningKey::sign_typed`] and
/// [`JWT_RESPONSE_TYPE`].
pub fn jwt_response_claims(
    response: Map<String, Value>,
    issuer: &str,
    caller: &Client,
    now: UnixTime,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(caller.client_id));
    c.insert("iat".into(), json!(now.secs()));
    c.insert("token_introspection".into(), Value::Object(response));
    c
}

/// Whether an `Accept` header asks for the signed JWT response (RFC 9701 §4).
pub fn wants_jwt(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|m| {
            let t = m.split(';').next().unwrap_or("").trim();
            t.eq_ignore_ascii_case("application/token-introspection+jwt")
        })
    })
}

#[cfg(test)]
mod tests;
