//! Client authentication shared by the token, introspection and revocation
//! endpoints (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9, RFC 7662 §2.1,
//! RFC 7009 §2.1): every method the token endpoint accepts.

use std::sync::Arc;

use oidc_core::OAuthError;
use oidc_core::model::Client;
use oidc_core::token::{self, ClientCredentials};

use crate::app::{App, RealmState};

/// Logs a storage failure and turns it into a `server_error`.
pub(crate) fn storage(e: &oidc_core::repo::RepoError) -> OAuthError {
    crate::log::error(&format!("storage: {e}"));
    OAuthError::server_error("the request could not be completed, please try again")
}

/// Authenticates the client presenting `creds` at `endpoint` (the path after
/// `protocol/openid-connect/`). Any failure is `invalid_client`.
pub(crate) async fn authenticate(
    app: &App,
    realm: &RealmState,
    creds: &ClientCredentials,
    endpoint: &str,
) -> Result<Arc<Client>, OAuthError> {
    let name = &realm.realm.name;
    let client = app.client(name, creds.client_id()).await.map_err(|e| storage(&e))?;
    if matches!(creds, ClientCredentials::Assertion { .. }) {
        // RFC 7523 §3: the audience is the token endpoint (the issuer is
        // accepted too, OIDC Core §9, and the endpoint called).
        let token_endpoint = format!("{}/protocol/openid-connect/token", realm.issuer);
        let called = format!("{}/protocol/openid-connect/{endpoint}", realm.issuer);
        let audiences = [token_endpoint.as_str(), realm.issuer.as_str(), called.as_str()];
        let now = app.clock.now();
        let (keyed, just_fetched) = match client.as_deref() {
            Some(c) => {
                let (c, fetched) = app.with_client_keys(c, false).await;
                (Some(c), fetched)
            }
            None => (None, false),
        };
        let used = match token::authenticate_assertion(creds, keyed.as_ref(), &audiences, now) {
            Ok(u) => u,
            // A key the cached jwks_uri document does not have: fetch it again once
            // (not when it was fetched for this very request).
            Err(e) => match client.as_deref().filter(|c| c.jwks_uri.is_some() && c.jwks.is_none() && !just_fetched) {
                Some(c) => {
                    let (fresh, _) = app.with_client_keys(c, true).await;
                    token::authenticate_assertion(creds, Some(&fresh), &audiences, now).map_err(|_| e)?
                }
                None => return Err(e),
            },
        };
        // Each assertion is accepted once (RFC 7523 §3 item 7).
        let first = app
            .repos
            .use_once(name, creds.client_id(), &used.jti, used.expires_at, app.clock.now())
            .await
            .map_err(|e| storage(&e))?;
        if !first {
            return Err(OAuthError::invalid_client("client assertion refused: its jti was already used"));
        }
    } else {
        token::authenticate(creds, client.as_deref())?;
    }
    client.ok_or_else(|| OAuthError::invalid_client("client authentication failed"))
}
