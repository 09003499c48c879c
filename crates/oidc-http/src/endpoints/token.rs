//! The token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3).

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::params::Params;
use oidc_core::token::{self, GrantFailure, GrantRequest, IssueContext};
use serde_json::{Map, Value, json};

use crate::app::{App, RealmState};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub(crate) async fn token(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    match run(app, realm, req).await {
        Ok(body) => {
            let mut r = response::json_no_store(StatusCode::OK, body);
            response::cors(&mut r);
            r
        }
        Err(e) => TokenError(&e, &realm.realm.name).to_response(),
    }
}

fn storage(e: &oidc_core::repo::RepoError) -> OAuthError {
    eprintln!("error: storage: {e}");
    OAuthError::server_error("the request could not be completed, please try again")
}

async fn run(app: &App, realm: &RealmState, req: Request<Incoming>) -> Result<String, OAuthError> {
    let (parts, body) = req.into_parts();
    let form =
        request::read_form(&parts.headers, body).await.map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let params = Params::from_pairs(form)?;
    let tr = token::parse(params, header(&parts.headers, AUTHORIZATION))?;
    let name = &realm.realm.name;
    let client = app.repos.client(name, tr.credentials.client_id()).await.map_err(|e| storage(&e))?;
    token::authenticate(&tr.credentials, client.as_ref())?;
    let Some(client) = client else {
        return Err(OAuthError::invalid_client("client authentication failed"));
    };
    let now = app.clock.now();
    let outcome = match &tr.grant {
        GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            let redeemed = app.repos.redeem_code(name, &code.digest()).await.map_err(|e| storage(&e))?;
            token::check_code(redeemed, &client, redirect_uri.as_deref(), code_verifier.as_ref(), now)
        }
        GrantRequest::RefreshToken { refresh_token, scope } => {
            let rotated = app.repos.use_refresh_token(name, &refresh_token.digest()).await.map_err(|e| storage(&e))?;
            token::check_refresh(rotated, &client, scope.as_ref(), now)
        }
        _ => return Err(OAuthError::new(oidc_core::ErrorCode::UnsupportedGrantType, "unsupported grant_type")),
    };
    let grant = match outcome {
        Ok(g) => g,
        Err(GrantFailure::Refused(e)) => return Err(e),
        Err(GrantFailure::Replay { grant_id, error }) => {
            // RFC 6749 §4.1.2 / RFC 9700 §4.14.2: revoke what the grant issued.
            app.repos.revoke_grant(name, &grant_id).await.map_err(|e| storage(&e))?;
            return Err(error);
        }
    };
    let user = app
        .repos
        .user(name, &grant.user_id)
        .await
        .map_err(|e| storage(&e))?
        .ok_or_else(|| OAuthError::invalid_grant("the user of this grant no longer exists"))?;
    let ctx = IssueContext {
        realm: name,
        issuer: &realm.issuer,
        client: &client,
        user: &user,
        keys: &realm.keys,
        settings: &app.config.settings,
        now,
    };
    let issued = token::issue(&ctx, grant, app.rng.as_ref())?;
    app.repos.save_tokens(&issued.access_record, Some(&issued.refresh_record)).await.map_err(|e| storage(&e))?;
    // RFC 6749 §5.1, OIDC Core §3.1.3.3.
    let mut body = Map::new();
    body.insert("access_token".into(), json!(issued.access_token.secret()));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(issued.expires_in));
    body.insert("refresh_token".into(), json!(issued.refresh_token.secret()));
    if let Some(id) = &issued.id_token {
        body.insert("id_token".into(), json!(id));
    }
    body.insert("scope".into(), json!(issued.scope.to_string()));
    Ok(Value::Object(body).to_string())
}
