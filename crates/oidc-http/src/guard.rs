//! Brute-force protection of password checks and the audit log, shared by
//! the login form and the token endpoint's password grant.

use std::net::IpAddr;

use oidc_core::model::AuditEvent;
use oidc_core::repo::RepoError;
use oidc_core::throttle::{self, KeyKind, Locked};
use serde_json::Value;

use crate::app::App;

/// The client's address, put in each request's extensions by the server loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub IpAddr);

/// Whether `username` and `addr` may try a password now (RFC 6749 §10.7).
pub(crate) async fn check(
    app: &App,
    realm: &str,
    username: &str,
    addr: Option<IpAddr>,
) -> Result<Result<(), Locked>, RepoError> {
    let policy = &app.config.settings.throttle;
    let now = app.clock.now();
    let user_key = throttle::key(KeyKind::User, username);
    let count = app.repos.failures(realm, &user_key).await?;
    if let Err(l) = throttle::check(policy, KeyKind::User, count.as_ref(), now) {
        return Ok(Err(l));
    }
    if let Some(a) = addr {
        let count = app.repos.failures(realm, &throttle::key(KeyKind::Address, &a.to_string())).await?;
        if let Err(l) = throttle::check(policy, KeyKind::Address, count.as_ref(), now) {
            return Ok(Err(l));
        }
    }
    Ok(Ok(()))
}

/// Records a failed password check for the username and the address.
pub(crate) async fn failed(
    app: &App,
    realm: &str,
    username: &str,
    addr: Option<IpAddr>,
    client_id: Option<&str>,
) -> Result<(), RepoError> {
    let policy = &app.config.settings.throttle;
    let now = app.clock.now();
    let c = app.repos.record_failure(realm, &throttle::key(KeyKind::User, username), now, policy.window).await?;
    if let Some(a) = addr {
        app.repos.record_failure(realm, &throttle::key(KeyKind::Address, &a.to_string()), now, policy.window).await?;
    }
    let mut detail = serde_json::Map::new();
    detail.insert("username".into(), Value::from(username));
    detail.insert("failures".into(), Value::from(c.count));
    if let Some(a) = addr {
        detail.insert("address".into(), Value::from(a.to_string()));
    }
    audit(app, realm, "login.failed", None, client_id, Value::Object(detail)).await;
    Ok(())
}

/// Forgets the username's failures after a successful check.
pub(crate) async fn succeeded(app: &App, realm: &str, username: &str) -> Result<(), RepoError> {
    app.repos.clear_failures(realm, &throttle::key(KeyKind::User, username)).await
}

/// Appends an event to the audit log; a failure to write it is logged, never
/// fatal to the request.
pub(crate) async fn audit(
    app: &App,
    realm: &str,
    kind: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    detail: Value,
) {
    let event = AuditEvent {
        realm: realm.to_owned(),
        at: app.clock.now(),
        kind: kind.to_owned(),
        user_id: user_id.map(str::to_owned),
        client_id: client_id.map(str::to_owned),
        detail: detail.to_string(),
    };
    if let Err(e) = app.repos.record_event(&event).await {
        eprintln!("error: writing the audit event {kind}: {e}");
    }
}
