//! The token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3).

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, StatusCode};
use oidc_core::OAuthError;
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::password::Verified;
use oidc_core::secret::Password;
use oidc_core::token::flow::{Answer, FlowContext, Need, PasswordOutcome, Step, TokenFlow, TokenResponse};
use serde_json::{Map, Value, json};

use std::net::IpAddr;
use std::sync::Arc;

use oidc_core::model::Client;
use oidc_core::token::ClientCredentials;

use super::client_auth::{self, storage};
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

/// Drives the core's token flow: one loop over "what do you need next".
async fn run(
    app: &App,
    realm: &RealmState,
    req: Request<Incoming>,
    addr: Option<IpAddr>,
) -> Result<(String, Arc<Client>), Failure> {
    let (parts, body) = req.into_parts();
    let form =
        request::read_form(&parts.headers, body).await.map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let name = &realm.realm.name;
    let ctx = FlowContext {
        realm: name,
        issuer: &realm.issuer,
        realm_secret: &realm.realm.secret_key,
        keys: &realm.keys,
        registry: &app.config.scopes,
        hooks: &app.hooks,
        settings: &app.config.settings,
        now: app.clock.now(),
    };
    let mut flow = TokenFlow::new(form, header(&parts.headers, AUTHORIZATION), ctx, app.rng.as_ref());
    let mut client = None;
    loop {
        let need = match flow.step() {
            Step::Need(need) => need,
            Step::Done(response) => {
                let client = client.ok_or_else(|| OAuthError::server_error("the client was not looked up"))?;
                return Ok((render(&response), client));
            }
            Step::Failed(e, retry_after) => return Err(Failure(e, retry_after)),
        };
        let answer = match need {
            Need::Auth(n) => Answer::Auth(client_auth::answer(app, name, n, &mut client).await?),
            Need::Code { digest, client_id, now } => {
                let (redeemed, found) = app
                    .repos
                    .code_with_context(RealmName::new(name), &digest, ClientId::new(&client_id), now)
                    .await
                    .map_err(|e| storage(&e))?;
                Answer::RedeemedWith(redeemed, found)
            }
            Need::SpendCode { digest, client_id } => {
                app.repos
                    .spend_code(RealmName::new(name), &digest, ClientId::new(&client_id))
                    .await
                    .map_err(|e| storage(&e))?;
                Answer::Done
            }
            Need::RefreshRecord { digest } => Answer::RefreshRecord(
                app.repos
                    .refresh_token_with_user(RealmName::new(name), &digest)
                    .await
                    .map_err(|e| storage(&e))?
                    .map(|(r, _, _)| r),
            ),
            Need::RotateRefresh { digest, client_id, now, reuse_interval } => Answer::Rotated(
                app.repos
                    .use_refresh_token(RealmName::new(name), &digest, ClientId::new(&client_id), now, reuse_interval)
                    .await
                    .map_err(|e| storage(&e))?,
            ),
            Need::CheckPassword { username, password } => {
                let client_id = client.as_ref().map(|c| c.client_id.as_str());
                Answer::Password(check_password(app, name, &username, &password, addr, client_id).await?)
            }
            Need::RevokeGrant { grant_id } => {
                // RFC 6749 §4.1.2 / RFC 9700 §4.14.2: revoke what the grant issued.
                app.repos.revoke_grant(RealmName::new(name), &grant_id).await.map_err(|e| storage(&e))?;
                Answer::Done
            }
            Need::Session { session_id, now } => Answer::Session(
                app.repos.session_by_id(RealmName::new(name), &session_id, now).await.map_err(|e| storage(&e))?,
            ),
            Need::TouchSession { session_id, now, expires_at } => {
                app.repos
                    .touch_session(RealmName::new(name), &session_id, now, expires_at)
                    .await
                    .map_err(|e| storage(&e))?;
                Answer::Done
            }
            Need::User { user_id } => Answer::User(
                app.repos.user(RealmName::new(name), UserId::new(&user_id)).await.map_err(|e| storage(&e))?,
            ),
            Need::Roles { holder } => {
                Answer::Roles(app.repos.roles(RealmName::new(name), &holder).await.map_err(|e| storage(&e))?)
            }
            Need::Store { access, refresh, code: None } => {
                app.repos.save_tokens(&access, refresh.as_ref()).await.map_err(|e| storage(&e))?;
                Answer::Done
            }
            Need::Store { access, refresh, code: Some(code) } => {
                let client_id = ClientId::new(&access.client_id);
                let stored = app
                    .repos
                    .redeem_code_with_tokens(RealmName::new(name), &code, client_id, &access, refresh.as_ref())
                    .await
                    .map_err(|e| storage(&e))?;
                if stored { Answer::Done } else { Answer::CodeTaken }
            }
            _ => return Err(OAuthError::server_error("the token flow asked for something unknown").into()),
        };
        flow.answer(answer);
    }
}

/// Authenticates the client of another endpoint where clients authenticate
/// as at the token endpoint (logout by refresh token), with the core's
/// client authentication step.
pub(super) async fn authenticate_client(
    app: &App,
    realm: &RealmState,
    credentials: ClientCredentials,
) -> Result<Arc<Client>, OAuthError> {
    client_auth::authenticate(app, realm, credentials, "logout").await.map(Arc::new)
}

/// The token response (RFC 6749 §5.1, OIDC Core §3.1.3.3) with Keycloak's members.
fn render(r: &TokenResponse) -> String {
    let mut body = Map::new();
    body.insert("access_token".into(), json!(r.access_token.secret()));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(r.expires_in));
    if let Some((rt, expires_in)) = &r.refresh_token {
        body.insert("refresh_token".into(), json!(rt.secret()));
        // Keycloak's members: the refresh token's lifetime, and the login session's public id.
        body.insert("refresh_expires_in".into(), json!(expires_in));
    }
    if let Some(id) = &r.id_token {
        body.insert("id_token".into(), json!(id));
    }
    if let Some(sid) = &r.session_state {
        body.insert("session_state".into(), json!(sid));
    }
    // Keycloak's realm not-before time (0: tokens are not revoked by date here).
    body.insert("not-before-policy".into(), json!(0));
    body.insert("scope".into(), json!(r.scope.to_string()));
    Value::Object(body).to_string()
}

/// The resource owner's password check (RFC 6749 §4.3.2), behind the
/// brute-force protection of RFC 6749 §10.7: a locked username or address is
/// refused before the password is checked, with `Retry-After`.
async fn check_password(
    app: &App,
    name: &str,
    username: &str,
    password: &Password,
    addr: Option<IpAddr>,
    client_id: Option<&str>,
) -> Result<PasswordOutcome, Failure> {
    let checked = guard::password_check(app, name, username, addr, client_id, || async {
        let user = app.repos.user_by_username(RealmName::new(name), username).await?;
        let verified = super::authorize::check_password(app, password, user.as_ref()).await;
        Ok(match (user, verified) {
            (Some(u), Verified::Yes | Verified::YesRehash) if u.active => Some(u),
            _ => None,
        })
    })
    .await
    .map_err(|e| storage(&e))?;
    Ok(match checked {
        PasswordCheck::Passed(u) => PasswordOutcome::Verified(u),
        PasswordCheck::Failed => PasswordOutcome::Wrong,
        PasswordCheck::Locked(locked) => PasswordOutcome::Locked(locked.retry_after),
    })
}
