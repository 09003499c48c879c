//! The token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3).

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::model::Client;
use oidc_core::params::Params;
use oidc_core::password::Verified;
use oidc_core::repo::RoleHolder;
use oidc_core::scope::Scope;
use oidc_core::secret::Password;
use oidc_core::token::{self, ClientCredentials, Grant, GrantFailure, GrantRequest, IssueContext};
use serde_json::{Map, Value, json};

use std::net::IpAddr;

use crate::app::{App, RealmState};
use crate::guard::{self, PasswordCheck, PeerAddr};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub(crate) async fn token(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let addr = req.extensions().get::<PeerAddr>().map(|p| p.0);
    let origin = header(req.headers(), hyper::header::ORIGIN).map(str::to_owned);
    match run(app, realm, req, addr).await {
        Ok((body, client)) => {
            let mut r = response::json_no_store(StatusCode::OK, body);
            // Browser-based clients read tokens from their registered origins only.
            response::cors_for_client(&mut r, origin.as_deref(), &client);
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

fn storage(e: &oidc_core::repo::RepoError) -> OAuthError {
    crate::log::error(&format!("storage: {e}"));
    OAuthError::server_error("the request could not be completed, please try again")
}

async fn run(
    app: &App,
    realm: &RealmState,
    req: Request<Incoming>,
    addr: Option<IpAddr>,
) -> Result<(String, std::sync::Arc<Client>), Failure> {
    let (parts, body) = req.into_parts();
    let form =
        request::read_form(&parts.headers, body).await.map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let params = Params::from_pairs(form)?;
    let tr = token::parse(params, header(&parts.headers, AUTHORIZATION))?;
    let name = &realm.realm.name;
    let client = authenticate_client(app, realm, &tr.credentials).await?;
    token::check_grant_type(&tr.grant, &client, &app.config.settings)?;
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
        GrantRequest::Password { username, password, scope } => {
            Ok(password_grant(app, realm, &client, username, password, scope.as_ref(), addr).await?)
        }
        GrantRequest::ClientCredentials { scope } => {
            let scope =
                token::grantable_scope(scope.as_ref(), &client, |s| app.config.scopes.is_known(s), &Scope::default())?;
            let (at, record) =
                token::issue_client_credentials(name, &client, scope, &app.config.settings, now, app.rng.as_ref());
            app.repos.save_tokens(&record, None).await.map_err(|e| storage(&e))?;
            // RFC 6749 §4.4.3: no refresh token.
            let mut body = Map::new();
            body.insert("access_token".into(), json!(at.secret()));
            body.insert("token_type".into(), json!("Bearer"));
            body.insert("expires_in".into(), json!(app.config.settings.access_token_lifetime));
            body.insert("not-before-policy".into(), json!(0));
            body.insert("scope".into(), json!(record.scope.to_string()));
            return Ok((Value::Object(body).to_string(), client));
        }
        _ => {
            return Err(OAuthError::new(oidc_core::ErrorCode::UnsupportedGrantType, "unsupported grant_type").into());
        }
    };
    let grant = match outcome {
        Ok(g) => g,
        Err(GrantFailure::Refused(e)) => return Err(e.into()),
        Err(GrantFailure::Replay { grant_id, error }) => {
            // RFC 6749 §4.1.2 / RFC 9700 §4.14.2: revoke what the grant issued.
            app.repos.revoke_grant(name, &grant_id).await.map_err(|e| storage(&e))?;
            return Err(error.into());
        }
    };
    // Tokens of a login session are issued only while it lasts (Keycloak's
    // SSO Session Idle/Max); each refresh counts as a use of it.
    if grant.needs_session()
        && let Some(sid) = grant.session_id.as_deref()
    {
        let session = app.repos.session_by_id(name, sid, now).await.map_err(|e| storage(&e))?;
        grant.check_session(session.as_ref())?;
        if let Some(s) = session.filter(|s| s.needs_touch(now)) {
            let expires = oidc_core::model::LoginSession::expiry_after_use(s.auth_time, now, &app.config.settings);
            app.repos.touch_session(name, sid, now, expires).await.map_err(|e| storage(&e))?;
        }
    }
    let user = app
        .repos
        .user(name, &grant.user_id)
        .await
        .map_err(|e| storage(&e))?
        .ok_or_else(|| OAuthError::invalid_grant("the user of this grant no longer exists"))?;
    let sub = app.subject(realm, &user, &client);
    let roles = app.roles_for(name, &RoleHolder::User(user.id.clone()), &grant.scope).await.map_err(|e| storage(&e))?;
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
        roles: &roles,
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
    Ok((Value::Object(body).to_string(), client))
}

/// Authenticates the client of a request to the token endpoint, or to another
/// endpoint where clients authenticate (logout by refresh token), as RFC 6749
/// §2.3 asks: a secret, or a client assertion (RFC 7523) accepted once.
pub(super) async fn authenticate_client(
    app: &App,
    realm: &RealmState,
    credentials: &ClientCredentials,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let name = &realm.realm.name;
    let client = app.client(name, credentials.client_id()).await.map_err(|e| storage(&e))?;
    if matches!(credentials, ClientCredentials::Assertion { .. }) {
        // RFC 7523 §3: the audience is the token endpoint (the issuer is accepted too, OIDC Core §9).
        let endpoint = format!("{}/protocol/openid-connect/token", realm.issuer);
        let audiences = [endpoint.as_str(), realm.issuer.as_str()];
        let now = app.clock.now();
        let (keyed, just_fetched) = match client.as_deref() {
            Some(c) => {
                let (c, fetched) = app.with_client_keys(c, false).await;
                (Some(c), fetched)
            }
            None => (None, false),
        };
        let used = match token::authenticate_assertion(credentials, keyed.as_ref(), &audiences, now) {
            Ok(u) => u,
            // A key the cached jwks_uri document does not have: fetch it again once
            // (not when it was fetched for this very request).
            Err(e) => match client.as_deref().filter(|c| c.jwks_uri.is_some() && c.jwks.is_none() && !just_fetched) {
                Some(c) => {
                    let (fresh, _) = app.with_client_keys(c, true).await;
                    token::authenticate_assertion(credentials, Some(&fresh), &audiences, now).map_err(|_| e)?
                }
                None => return Err(e),
            },
        };
        // Each assertion is accepted once (RFC 7523 §3 item 7).
        let first = app
            .repos
            .use_once(name, credentials.client_id(), &used.jti, used.expires_at, app.clock.now())
            .await
            .map_err(|e| storage(&e))?;
        if !first {
            return Err(OAuthError::invalid_client("client assertion refused: its jti was already used"));
        }
    } else {
        token::authenticate(credentials, client.as_deref())?;
    }
    client.ok_or_else(|| OAuthError::invalid_client("client authentication failed"))
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
