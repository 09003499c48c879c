//! The token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3).

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::model::Client;
use oidc_core::params::Params;
use oidc_core::password::Verified;
use oidc_core::scope::Scope;
use oidc_core::secret::Password;
use oidc_core::token::{self, Grant, GrantFailure, GrantRequest, IssueContext};
use serde_json::{Map, Value, json};

use std::net::IpAddr;

use super::client_auth::{self, storage};
use crate::app::{App, RealmState};
use crate::guard::{self, PasswordCheck, PeerAddr};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub(crate) async fn token(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let addr = req.extensions().get::<PeerAddr>().map(|p| p.0);
    match run(app, realm, req, addr).await {
        Ok(body) => {
            let mut r = response::json_no_store(StatusCode::OK, body);
            response::cors(&mut r);
            r
        }
        Err(Failure(e, retry_after)) => {
            let mut r = TokenError(&e, &realm.realm.name).to_response();
            if let Some(secs) = retry_after {
                response::set_header(&mut r, "retry-after", &secs.to_string());
            }
            r
        }
    }
}

/// A token error, with the seconds a locked-out client should wait.
struct Failure(OAuthError, Option<i64>);

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Failure {
        Failure(e, None)
    }
}

async fn run(app: &App, realm: &RealmState, req: Request<Incoming>, addr: Option<IpAddr>) -> Result<String, Failure> {
    let (parts, body) = req.into_parts();
    let form =
        request::read_form(&parts.headers, body).await.map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    // RFC 8707 §2: `resource` may be repeated, unlike every other parameter.
    let (resources, form): (Vec<_>, Vec<_>) = form.into_iter().partition(|(k, _)| k == "resource");
    let mut params = Params::from_pairs(form)?;
    // The client is authenticated before the grant is parsed (its scope,
    // claims): an unknown client costs no more than a lookup.
    let credentials = token::parse_credentials(&mut params, header(&parts.headers, AUTHORIZATION))?;
    let name = &realm.realm.name;
    let client = client_auth::authenticate(app, realm, &credentials, "token").await?;
    let grant = token::parse_grant(params)?;
    let resources = token::parse_resources(resources.into_iter().map(|(_, v)| v).collect())?;
    token::check_grant_type(&grant, &client, &app.config.settings)?;
    let now = app.clock.now();
    let outcome = match &grant {
        GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            let redeemed =
                app.repos.redeem_code(name, &code.digest(), &client.client_id).await.map_err(|e| storage(&e))?;
            token::check_code(redeemed, &client, redirect_uri.as_deref(), code_verifier.as_ref(), now)
        }
        GrantRequest::RefreshToken { refresh_token, scope } => {
            if scope.is_some() || !resources.is_empty() {
                // What the request narrows is checked before the token is spent.
                let found =
                    app.repos.refresh_token_with_user(name, &refresh_token.digest()).await.map_err(|e| storage(&e))?;
                if let Some((rec, _, _)) = found {
                    token::precheck_refresh(&rec, &client, scope.as_ref(), &resources)?;
                }
            }
            let rotated = app
                .repos
                .use_refresh_token(
                    name,
                    &refresh_token.digest(),
                    &client.client_id,
                    now,
                    app.config.settings.refresh_reuse_interval,
                )
                .await
                .map_err(|e| storage(&e))?;
            token::check_refresh(rotated, &client, scope.as_ref(), now)
        }
        GrantRequest::Password { username, password, scope } => {
            Ok(password_grant(app, realm, &client, username, password, scope.as_ref(), addr).await?)
        }
        GrantRequest::ClientCredentials { scope } => {
            let scope =
                token::grantable_scope(scope.as_ref(), &client, |s| app.config.scopes.is_known(s), &Scope::default())?;
            let ctx = token::ServiceContext {
                realm: name,
                issuer: &realm.issuer,
                client: &client,
                keys: &realm.keys,
                registry: &app.config.scopes,
                settings: &app.config.settings,
                now,
            };
            let minted = token::issue_client_credentials(&ctx, &scope, &resources, app.rng.as_ref())?;
            app.repos.save_tokens(&minted.record, None).await.map_err(|e| storage(&e))?;
            // RFC 6749 §4.4.3: no refresh token.
            let mut body = Map::new();
            body.insert("access_token".into(), json!(minted.value.secret()));
            body.insert("token_type".into(), json!("Bearer"));
            body.insert("expires_in".into(), json!(minted.expires_in));
            body.insert("not-before-policy".into(), json!(0));
            body.insert("scope".into(), json!(minted.record.scope.to_string()));
            return Ok(Value::Object(body).to_string());
        }
        _ => {
            return Err(OAuthError::new(oidc_core::ErrorCode::UnsupportedGrantType, "unsupported grant_type").into());
        }
    };
    let grant = match outcome {
        Ok(g) => token::with_resources(g, resources)?,
        Err(GrantFailure::Refused(e)) => return Err(e.into()),
        Err(GrantFailure::Replay { grant_id, error }) => {
            // RFC 6749 §4.1.2 / RFC 9700 §4.14.2: revoke what the grant issued.
            app.repos.revoke_grant(name, &grant_id).await.map_err(|e| storage(&e))?;
            return Err(error.into());
        }
    };
    let user = app
        .repos
        .user(name, &grant.user_id)
        .await
        .map_err(|e| storage(&e))?
        .ok_or_else(|| OAuthError::invalid_grant("the user of this grant no longer exists"))?;
    let sub = app.subject(realm, &user, &client);
    let ctx = IssueContext {
        realm: name,
        issuer: &realm.issuer,
        client: &client,
        user: &user,
        subject: &sub,
        registry: &app.config.scopes,
        hooks: &app.hooks,
        keys: &realm.keys,
        settings: &app.config.settings,
        now,
    };
    let session_state = grant.session_id.clone();
    let issued = token::issue(&ctx, grant, app.rng.as_ref())?;
    app.repos
        .save_tokens(&issued.access_record, issued.refresh.as_ref().map(|r| &r.1))
        .await
        .map_err(|e| storage(&e))?;
    // RFC 6749 §5.1, OIDC Core §3.1.3.3.
    let mut body = Map::new();
    body.insert("access_token".into(), json!(issued.access_token.secret()));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(issued.expires_in));
    if let Some((rt, record)) = &issued.refresh {
        body.insert("refresh_token".into(), json!(rt.secret()));
        // Keycloak's members: the refresh token's lifetime, and the login session's public id.
        body.insert("refresh_expires_in".into(), json!(record.expires_at.secs().saturating_sub(now.secs())));
    }
    if let Some(id) = &issued.id_token {
        body.insert("id_token".into(), json!(id));
    }
    if let Some(sid) = session_state {
        body.insert("session_state".into(), json!(sid));
    }
    // Keycloak's realm not-before time (0: tokens are not revoked by date here).
    body.insert("not-before-policy".into(), json!(0));
    body.insert("scope".into(), json!(issued.scope.to_string()));
    Ok(Value::Object(body).to_string())
}

/// The resource owner password credentials grant (RFC 6749 §4.3.2), behind
/// the brute-force protection of RFC 6749 §10.7: a locked username or address
/// is refused before the password is checked, with `Retry-After`.
async fn password_grant(
    app: &App,
    realm: &RealmState,
    client: &Client,
    username: &str,
    password: &Password,
    scope: Option<&Scope>,
    addr: Option<IpAddr>,
) -> Result<Grant, Failure> {
    let name = &realm.realm.name;
    let scope = token::grantable_scope(
        scope,
        client,
        |s| app.config.scopes.is_known(s),
        &Scope::parse("openid").unwrap_or_default(),
    )?;
    let checked = guard::password_check(app, name, username, addr, Some(client.client_id.as_str()), || async {
        let user = app.repos.user_by_username(name, username).await?;
        let verified = super::authorize::check_password(app, password, user.as_ref()).await;
        Ok(match (user, verified) {
            (Some(u), Verified::Yes | Verified::YesRehash) if u.active => Some(u),
            _ => None,
        })
    })
    .await
    .map_err(|e| storage(&e))?;
    let user = match checked {
        PasswordCheck::Passed(u) => u,
        PasswordCheck::Failed => return Err(OAuthError::invalid_grant("the username or password is wrong").into()),
        PasswordCheck::Locked(locked) => {
            return Err(Failure(
                OAuthError::invalid_grant(format!(
                    "too many failed attempts for this account or address; try again in {} seconds",
                    locked.retry_after
                )),
                Some(locked.retry_after),
            ));
        }
    };
    Ok(token::password_grant(&user.id, scope, app.clock.now(), app.rng.as_ref()))
}
