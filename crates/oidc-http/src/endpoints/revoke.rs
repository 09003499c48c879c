//! The revocation endpoint (RFC 7009).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::ids::RealmName;
use oidc_core::revoke::{self, Revocation};
use serde_json::json;

use super::client_auth::storage;
use super::introspect::{authenticated_query, find};
use crate::app::{App, RealmState};
use crate::guard;
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `POST /realms/{realm}/protocol/openid-connect/revoke`.
pub(crate) async fn revoke(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let mut r = match run(app, realm, req).await {
        // RFC 7009 §2.2: 200 whether the token was revoked or was invalid; the body is ignored.
        Ok(()) => {
            let mut r = response::with_body(StatusCode::OK, "text/plain; charset=utf-8", "");
            response::no_store(&mut r);
            r
        }
        Err(e) => TokenError(&e, &realm.realm.name).to_response(),
    };
    response::cors(&mut r);
    r
}

async fn run(app: &App, realm: &RealmState, req: Request<Incoming>) -> Result<(), OAuthError> {
    let (caller, query, _) = authenticated_query(app, realm, req, "revoke").await?;
    let name = &realm.realm.name;
    let found = find(app, name, &query).await?;
    let caller_id = Some(caller.client_id.as_str());
    // Each revocation is an audit event; never the token itself.
    match revoke::decide(&caller, found) {
        Revocation::AccessToken { digest, grant_id, user_id } => {
            app.repos.revoke_access_token(RealmName::new(name), &digest).await.map_err(|e| storage(&e))?;
            let detail = json!({"token_type": "access_token", "grant_id": grant_id});
            guard::audit(app, name, "token.revoked", user_id.as_deref(), caller_id, detail).await;
        }
        Revocation::Grant { grant_id, user_id } => {
            app.repos.revoke_grant(RealmName::new(name), &grant_id).await.map_err(|e| storage(&e))?;
            let detail = json!({"token_type": "refresh_token", "grant_id": grant_id});
            guard::audit(app, name, "token.revoked", Some(&user_id), caller_id, detail).await;
        }
        Revocation::NotOwner { owner } => {
            let detail = json!({"reason": "the token was issued to another client", "owner": owner});
            guard::audit(app, name, "token.revocation_refused", None, caller_id, detail).await;
        }
        Revocation::Nothing => {}
    }
    Ok(())
}
