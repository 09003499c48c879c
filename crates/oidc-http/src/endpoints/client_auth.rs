//! Client authentication shared by the token, introspection and revocation
//! endpoints (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9, RFC 7662 §2.1,
//! RFC 7009 §2.1): every method the token endpoint accepts.

use std::sync::Arc;

use oidc_core::OAuthError;
use oidc_core::ids::{ClientId, RealmName};
use oidc_core::model::Client;
use oidc_core::token::ClientCredentials;
use oidc_core::token::flow::{AuthAnswer, AuthNeed, AuthStep, ClientAuth};

use crate::app::{App, RealmState};

/// Logs a storage failure and turns it into a `server_error`.
pub(crate) fn storage(e: &oidc_core::repo::RepoError) -> OAuthError {
    crate::log::error(&format!("storage: {e}"));
    OAuthError::server_error("the request could not be completed, please try again")
}

/// Answers one step of the core's client authentication; `client` keeps
/// the client looked up for the following steps.
pub(crate) async fn answer(
    app: &App,
    realm: &str,
    need: AuthNeed,
    client: &mut Option<Arc<Client>>,
) -> Result<AuthAnswer, OAuthError> {
    Ok(match need {
        AuthNeed::Client { client_id } => {
            *client = app.client(realm, &client_id).await.map_err(|e| storage(&e))?;
            AuthAnswer::Client(client.as_deref().cloned())
        }
        AuthNeed::ClientKeys { refresh } => {
            let c = client.as_deref().ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
            let (keyed, fetched) = app.with_client_keys(c, refresh).await;
            AuthAnswer::ClientKeys(keyed, fetched)
        }
        // Each assertion is accepted once (RFC 7523 §3 item 7).
        AuthNeed::AssertionJti { client_id, jti, expires_at } => AuthAnswer::FirstUse(
            app.repos
                .use_once(RealmName::new(realm), ClientId::new(&client_id), &jti, expires_at, app.clock.now())
                .await
                .map_err(|e| storage(&e))?,
        ),
    })
}

/// Authenticates the client presenting `creds` at `endpoint` (the path after
/// `protocol/openid-connect/`) with the core's [`ClientAuth`]: the token
/// endpoint's methods, and an assertion may name the token endpoint, the
/// issuer or the endpoint called. Any failure is `invalid_client`.
pub(crate) async fn authenticate(
    app: &App,
    realm: &RealmState,
    creds: ClientCredentials,
    endpoint: &str,
) -> Result<Client, OAuthError> {
    let oidc = format!("{}/protocol/openid-connect", realm.issuer);
    let audiences = vec![format!("{oidc}/token"), realm.issuer.clone(), format!("{oidc}/{endpoint}")];
    let mut auth = ClientAuth::new(creds, audiences, app.clock.now());
    let mut client = None;
    loop {
        match auth.step() {
            AuthStep::Need(need) => {
                let a = answer(app, &realm.realm.name, need, &mut client).await?;
                auth.answer(a);
            }
            AuthStep::Authenticated(c) => return Ok(c),
            AuthStep::Failed(e) => return Err(e),
        }
    }
}
