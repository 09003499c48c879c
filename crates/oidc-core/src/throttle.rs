//! Brute-force protection of password checks (the login form and the
//! resource owner password credentials grant, RFC 6749 §10.7 and §4.3.2:
//! "the authorization server MUST protect the endpoint against brute force attacks").
//!
//! Failures are counted per key (a username, a client address) by the store,
//! atomically, so that several server instances share the counts and a
//! restart does not reset them. This module decides from a count whether a
//! key is locked and for how long.
//!
//! A count is forgotten after `window` seconds without failures. From
//! `max_failures` on, each failure locks the key for `lockout` seconds,
//! doubling with every further failure up to `max_lockout`.

use crate::config::ThrottlePolicy;
use crate::time::UnixTime;

/// The failures recorded for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures since the count was last reset.
    pub count: i64,
    /// When the last failure happened.
    pub last_failure: UnixTime,
}

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A username (whether or not it exists, so that lockouts do not reveal accounts).
    User,
    /// The client's network address.
    Address,
}

/// The storage key of `value` of `kind`.
pub fn key(kind: KeyKind, value: &str) -> String {
    match kind {
        KeyKind::User => format!("user:{}", value.to_lowercase()),
        KeyKind::Address => format!("addr:{value}"),
    }
}

/// A key is locked: try again after `retry_after` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    /// Seconds until the lock ends (at least 1).
    pub retry_after: i64,
}

fn threshold(policy: &ThrottlePolicy, kind: KeyKind) -> i64 {
    match kind {
        KeyKind::User => policy.max_failures_per_user,
        KeyKind::Address => policy.max_failures_per_address,
    }
}

/// How long the `excess`-th failure past the threshold locks (1 = the first lock).
pub fn lockout_for(policy: &ThrottlePolicy, excess: i64) -> i64 {
    let doublings = u32::try_from(excess.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    policy.lockout.saturating_mul(1_i64 << doublings).min(policy.max_lockout)
}

/// Whether a key with `count` failures may try again at `now`.
pub fn check(
    policy: &ThrottlePolicy,
    kind: KeyKind,
    count: Option<&FailureCount>,
    now: UnixTime,
) -> Result<(), Locked> {
    let Some(c) = count else { return Ok(()) };
    let max = threshold(policy, kind);
    if max <= 0 || c.count < max || now.secs() - c.last_failure.secs() > policy.window.max(policy.max_lockout) {
        return Ok(());
    }
    let until = c.last_failure.secs().saturating_add(lockout_for(policy, c.count - max + 1));
    if now.secs() < until { Err(Locked { retry_after: (until - now.secs()).max(1) }) } else { Ok(()) }
}

/// The count after one more failure at `now`, as the store computes it
/// atomically: reset to 1 when the previous failure is older than the window.
pub fn after_failure(policy: &ThrottlePolicy, previous: Option<&FailureCount>, now: UnixTime) -> FailureCount {
    match previous {
        Some(p) if now.secs() - p.last_failure.secs() <= policy.window => {
            FailureCount { count: p.count + 1, last_failure: now }
        }
        _ => FailureCount { count: 1, last_failure: now },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures_per_user: 3,
            max_failures_per_address: 10,
            window: 900,
            lockout: 60,
            max_lockout: 600,
        }
    }

    #[test]
    fn locks_after_the_configured_failures_and_not_before_rfc6749_10_7() {
        let p = policy();
        let mut c = None;
        for i in 1..=3 {
            assert_eq!(check(&p, KeyKind::User, c.as_ref(), UnixTime(100)), Ok(()), "attempt {i} is allowed");
            c = Some(after_failure(&p, c.as_ref(), UnixTime(100)));
        }
        assert_eq!(check(&p, KeyKind::User, c.as_ref(), UnixTime(100)), Err(Locked { retry_after: 60 }));
        assert_eq!(check(&p, KeyKind::User, c.as_ref(), UnixTime(159)), Err(Locked { retry_after: 1 }));
        assert_eq!(check(&p, KeyKind::User, c.as_ref(), UnixTime(160)), Ok(()));
        // The address threshold is separate and higher.
        assert_eq!(check(&p, KeyKind::Address, c.as_ref(), UnixTime(100)), Ok(()));
    }

    #[test]
    fn lockout_doubles_up_to_the_maximum() {
        let p = policy();
        assert_eq!(lockout_for(&p, 1), 60);
        assert_eq!(lockout_for(&p, 2), 120);
        assert_eq!(lockout_for(&p, 4), 480);
        assert_eq!(lockout_for(&p, 5), 600);
        assert_eq!(lockout_for(&p, 500), 600);
        let c = FailureCount { count: 4, last_failure: UnixTime(1000) };
        assert_eq!(check(&p, KeyKind::User, Some(&c), UnixTime(1000)), Err(Locked { retry_after: 120 }));
    }

    #[test]
    fn quiet_window_forgets_failures() {
        let p = policy();
        let c = FailureCount { count: 2, last_failure: UnixTime(0) };
        assert_eq!(after_failure(&p, Some(&c), UnixTime(900)).count, 3);
        assert_eq!(after_failure(&p, Some(&c), UnixTime(901)).count, 1);
        let locked = FailureCount { count: 50, last_failure: UnixTime(0) };
        assert_eq!(check(&p, KeyKind::User, Some(&locked), UnixTime(901)), Ok(()));
    }

    #[test]
    fn usernames_are_counted_case_insensitively() {
        assert_eq!(key(KeyKind::User, "Alice"), key(KeyKind::User, "alice"));
        assert_ne!(key(KeyKind::User, "1.2.3.4"), key(KeyKind::Address, "1.2.3.4"));
    }
}
