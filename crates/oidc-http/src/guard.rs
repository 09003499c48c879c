//! Brute-force protection of password checks and the audit log, shared by
//! the login form and the token endpoint's password grant.

use std::net::IpAddr;

use oidc_core::ids::RealmName;
use oidc_core::model::AuditEvent;
use oidc_core::repo::RepoError;
use oidc_core::throttle::{self, KeyKind, Locked};
use serde_json::Value;

use crate::app::App;

/// The client's address, put in each request's extensions by the server loop:
/// the TCP peer, or the address a trusted reverse proxy reports for it
/// ([`crate::net::client_addr`]).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub IpAddr);

/// The outcome of a password check under brute-force protection.
pub(crate) enum PasswordCheck<T> {
    /// The password was right.
    Passed(T),
    /// The password was wrong (or the user unknown); counted.
    Failed,
    /// The username or address is locked; no password was checked.
    Locked(Locked),
}

/// Checks a password under brute-force protection (RFC 6749 §10.7 and §4.3.2).
///
/// The attempt is counted against the username *before* `verify` runs, by
/// compare-and-swap in the store, so that concurrent guesses on any number of
/// server instances never get more than the threshold of wrong passwords
/// checked; a success takes back its own count only. The client address is slowed down past its threshold
/// (or, if the operator chose so, counted and locked like a username).
pub(crate) async fn password_check<T, F, Fut>(
    app: &App,
    realm: &str,
    username: &str,
    addr: Option<IpAddr>,
    client_id: Option<&str>,
    verify: F,
) -> Result<PasswordCheck<T>, RepoError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, RepoError>>,
{
    let policy = &app.config.settings.throttle;
    let user_key = throttle::key(KeyKind::User, username);
    let addr_key = addr.map(throttle::address_key);
    let lock_addresses = throttle::locks_addresses(policy);
    if let Some(k) = &addr_key {
        if lock_addresses {
            if let Err(l) = reserve(app, realm, k, KeyKind::Address).await? {
                return Ok(PasswordCheck::Locked(l));
            }
        } else {
            let count = app.repos.failures(RealmName::new(realm), k).await?;
            let delay = throttle::address_delay(policy, count.as_ref(), app.clock.now());
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(delay.unsigned_abs())).await;
            }
        }
    }
    let refund_address = || async {
        match &addr_key {
            Some(k) if lock_addresses => app.repos.refund_failure(RealmName::new(realm), k).await,
            _ => Ok(()),
        }
    };
    let counted = match reserve(app, realm, &user_key, KeyKind::User).await? {
        Ok(c) => c,
        Err(l) => {
            refund_address().await?;
            return Ok(PasswordCheck::Locked(l));
        }
    };
    if let Some(t) = verify().await? {
        // Only this attempt's own count is taken back: failures counted before it
        // stay until the window forgets them, so that a right password checked in
        // the middle of a burst of guesses frees no room for more guesses, and no
        // more than the threshold of wrong passwords is ever checked per window.
        app.repos.refund_failure(RealmName::new(realm), &user_key).await?;
        refund_address().await?;
        return Ok(PasswordCheck::Passed(t));
    }
    if let Some(k) = addr_key.as_deref().filter(|_| !lock_addresses) {
        app.repos.record_failure(RealmName::new(realm), k, app.clock.now(), policy.window).await?;
    }
    let mut detail = serde_json::Map::new();
    detail.insert("username".into(), Value::from(username));
    detail.insert("failures".into(), Value::from(counted.count));
    if let Some(a) = addr {
        detail.insert("address".into(), Value::from(a.to_string()));
    }
    audit(app, realm, "login.failed", None, client_id, Value::Object(detail)).await;
    Ok(PasswordCheck::Failed)
}

/// How long an attempt waits for attempts counted moments before it to be
/// decided, when they have reached the limit (see [`reserve`]).
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Counts one attempt on `key` if it is not locked: read, decide, compare-and-swap,
/// and again when another attempt changed the count in between.
///
/// Attempts are counted before their passwords are checked, so a count at the
/// limit may be made of attempts still in flight, some of them right: a right
/// one takes its own count back. So when the limit is reached by attempts counted in
/// the last two seconds, this waits (up to [`IN_FLIGHT_WAIT`]) for them to be
/// decided instead of refusing at once: several correct logins of one user at
/// the same moment all go through, while guesses still never get more than the
/// limit checked. Under extreme contention it answers locked (failing closed).
async fn reserve(
    app: &App,
    realm: &str,
    key: &str,
    kind: KeyKind,
) -> Result<Result<throttle::FailureCount, Locked>, RepoError> {
    let policy = &app.config.settings.throttle;
    let give_up = std::time::Instant::now() + IN_FLIGHT_WAIT;
    let mut races = 0;
    loop {
        let now = app.clock.now();
        let previous = app.repos.failures(RealmName::new(realm), key).await?;
        let next = match throttle::reserve(policy, kind, previous.as_ref(), now) {
            Ok(n) => n,
            Err(l) => {
                let recent = previous.is_some_and(|p| now.secs() - p.last_failure.secs() <= 2);
                if recent && std::time::Instant::now() < give_up {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                return Ok(Err(l));
            }
        };
        if app.repos.swap_failures(RealmName::new(realm), key, previous.as_ref(), &next).await? {
            return Ok(Ok(next));
        }
        races += 1;
        if races >= 16 {
            return Ok(Err(Locked { retry_after: 1 }));
        }
    }
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
        crate::log::error(&format!("writing the audit event {kind}: {e}"));
    }
}
