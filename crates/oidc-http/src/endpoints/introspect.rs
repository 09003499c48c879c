//! The introspection endpoint (RFC 7662; signed answers, RFC 9701).

use hyper::body::Incoming;
use hyper::header::{ACCEPT, AUTHORIZATION};
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::ids::RealmName;
use oidc_core::introspect::{self, Found, IntrospectionInput, TokenQuery};
use oidc_core::params::Params;
use oidc_core::token;
use serde_json::Value;

use super::client_auth::{self, storage};
use crate::app::{App, RealmState};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `POST /realms/{realm}/protocol/openid-connect/token/introspect`.
pub(crate) async fn introspect(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    match run(app, realm, req).await {
        Ok(r) => r,
        Err(e) => TokenError(&e, &realm.realm.name).to_response(),
    }
}

/// Reads the form and authenticates the calling client (RFC 7662 §2.1,
/// RFC 7009 §2.1) before the token is even read.
pub(crate) async fn authenticated_query(
    app: &App,
    realm: &RealmState,
    req: Request<Incoming>,
    endpoint: &str,
) -> Result<(oidc_core::model::Client, TokenQuery, hyper::http::request::Parts), OAuthError> {
    let (parts, body) = req.into_parts();
    let form =
        request::read_form(&parts.headers, body).await.map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let mut params = Params::from_pairs(form)?;
    let creds = token::parse_credentials(&mut params, header(&parts.headers, AUTHORIZATION))?;
    let caller = client_auth::authenticate(app, realm, creds, endpoint).await?;
    let query = introspect::parse_query(&params)?;
    Ok((caller, query, parts))
}

/// Looks the token up by digest: access tokens first, refresh tokens first
/// when the hint says so (the hint is only a hint, RFC 7662 §2.1).
pub(crate) async fn find(app: &App, realm: &str, query: &TokenQuery) -> Result<Found, OAuthError> {
    let digest = query.token.digest();
    for refresh in if query.refresh_first() { [true, false] } else { [false, true] } {
        let found = if refresh {
            app.repos
                .refresh_token_with_user(RealmName::new(realm), &digest)
                .await
                .map_err(|e| storage(&e))?
                .map(|(record, spent, user)| Found::Refresh { record, spent, user })
        } else {
            app.repos
                .access_token_with_user(RealmName::new(realm), &digest)
                .await
                .map_err(|e| storage(&e))?
                .map(|(record, user)| Found::Access(record, user))
        };
        if let Some(f) = found {
            return Ok(f);
        }
    }
    Ok(Found::Nothing)
}

async fn run(app: &App, realm: &RealmState, req: Request<Incoming>) -> Result<Resp, OAuthError> {
    let (caller, query, parts) = authenticated_query(app, realm, req, "token/introspect").await?;
    introspect::check_caller(&caller)?;
    let name = &realm.realm.name;
    let found = find(app, name, &query).await?;
    let token_client = match found.client_id() {
        Some(id) => app.client(name, id).await.map_err(|e| storage(&e))?,
        None => None,
    };
    let subject = match (found.user(), token_client.as_deref()) {
        (Some(u), Some(c)) => Some(app.subject(realm, u, c)),
        _ => None,
    };
    // Keycloak's `roles` client scope: the holder's roles, read only when the token has it.
    let roles = match found.role_holder() {
        Some((holder, scope)) => app.roles_for(name, &holder, scope).await.map_err(|e| storage(&e))?,
        None => Vec::new(),
    };
    let now = app.clock.now();
    let answer = introspect::introspect(&IntrospectionInput {
        issuer: &realm.issuer,
        caller: &caller,
        found: &found,
        token_client: token_client.as_deref(),
        subject: subject.as_deref(),
        policy: &app.config.settings.introspection,
        hooks: &app.hooks,
        roles: &roles,
        now,
    });
    // RFC 9701 §4: a signed answer when the caller asks for one.
    if introspect::wants_jwt(header(&parts.headers, ACCEPT)) {
        let Some(key) = realm.keys.active() else {
            crate::log::error(&format!("realm '{name}' has no key to sign introspection responses with"));
            return Err(OAuthError::server_error("the response could not be signed"));
        };
        let claims = introspect::jwt_response_claims(answer, &realm.issuer, &caller, now);
        let jwt = key.sign_typed(&claims, introspect::JWT_RESPONSE_TYPE);
        let mut r = response::with_body(StatusCode::OK, "application/token-introspection+jwt", jwt);
        response::no_store(&mut r);
        return Ok(r);
    }
    // RFC 7662 §2.2; responses must not be cached (§4).
    Ok(response::json_no_store(StatusCode::OK, Value::Object(answer).to_string()))
}
