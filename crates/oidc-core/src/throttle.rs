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
//!
//! An attempt on a username is counted *before* its password is checked
//! ([`reserve`], stored by compare-and-swap), and taken back when it succeeds
//! (a success forgives only itself: earlier failures stay until the window
//! forgets them), so that any number of concurrent guesses, on any number of
//! instances, with or without the right password among them, never get more
//! than the threshold of wrong passwords checked. Client addresses are slowed down rather
//! than locked unless the operator chooses [`AddressLimit::Lock`] ([`address_delay`]).

use std::net::IpAddr;

use crate::config::{AddressLimit, ThrottlePolicy};
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

/// The storage key of a client address: an IPv4 address as itself (also when
/// it comes IPv4-mapped), an IPv6 address by its /64 prefix, because one host
/// usually holds a whole /64 and could otherwise try from 2^64 addresses.
pub fn address_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => key(KeyKind::Address, &a.to_string()),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => key(KeyKind::Address, &v4.to_string()),
            None => {
                let s = a.segments();
                key(KeyKind::Address, &format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
            }
        },
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

/// Counts an attempt before its password is checked: the count to store in
/// place of `previous` (by compare-and-swap, so that each concurrent attempt
/// sees a different `previous`), or `Locked` when `previous` allows no attempt now.
pub fn reserve(
    policy: &ThrottlePolicy,
    kind: KeyKind,
    previous: Option<&FailureCount>,
    now: UnixTime,
) -> Result<FailureCount, Locked> {
    check(policy, kind, previous, now)?;
    Ok(after_failure(policy, previous, now))
}

/// Whether attempts from addresses are counted before the check and locked
/// ([`AddressLimit::Lock`]) rather than delayed.
pub fn locks_addresses(policy: &ThrottlePolicy) -> bool {
    policy.address_limit == AddressLimit::Lock
}

/// Seconds to wait before checking a password from an address with `count`
/// failures, under [`AddressLimit::Delay`]: none below the threshold, then one
/// second doubling with every further failure, up to `max_address_delay`.
pub fn address_delay(policy: &ThrottlePolicy, count: Option<&FailureCount>, now: UnixTime) -> i64 {
    let Some(c) = count else { return 0 };
    let max = policy.max_failures_per_address;
    if locks_addresses(policy) || max <= 0 || c.count < max || now.secs() - c.last_failure.secs() > policy.window {
        return 0;
    }
    let doublings = u32::try_from((c.count - max).clamp(0, 30)).unwrap_or(30);
    (1_i64 << doublings).min(policy.max_address_delay.max(0))
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
            address_limit: AddressLimit::Delay,
            max_address_delay: 30,
        }
    }

    #[test]
    fn reserve_counts_before_the_check_so_concurrent_attempts_get_at_most_the_threshold_rfc6749_10_7() {
        let p = policy();
        // Attempts racing on one stored value: only the winner of each compare-and-swap
        // proceeds, and the losers re-read. After three reservations no fourth is possible.
        let mut stored: Option<FailureCount> = None;
        let mut allowed = 0;
        for _ in 0..40 {
            match reserve(&p, KeyKind::User, stored.as_ref(), UnixTime(10)) {
                Ok(next) => {
                    stored = Some(next);
                    allowed += 1;
                }
                Err(l) => assert_eq!(l.retry_after, 60),
            }
        }
        assert_eq!(allowed, 3);
        // After the lockout one more attempt may be counted, then it locks for twice as long.
        let next = reserve(&p, KeyKind::User, stored.as_ref(), UnixTime(70)).expect("lock over");
        assert_eq!(reserve(&p, KeyKind::User, Some(&next), UnixTime(70)), Err(Locked { retry_after: 120 }));
    }

    #[test]
    fn addresses_are_delayed_not_locked_by_default() {
        let p = policy();
        let at = |count| FailureCount { count, last_failure: UnixTime(100) };
        assert_eq!(address_delay(&p, None, UnixTime(100)), 0);
        assert_eq!(address_delay(&p, Some(&at(9)), UnixTime(100)), 0);
        assert_eq!(address_delay(&p, Some(&at(10)), UnixTime(100)), 1);
        assert_eq!(address_delay(&p, Some(&at(11)), UnixTime(100)), 2);
        assert_eq!(address_delay(&p, Some(&at(14)), UnixTime(100)), 16);
        assert_eq!(address_delay(&p, Some(&at(15)), UnixTime(100)), 30);
        assert_eq!(address_delay(&p, Some(&at(5000)), UnixTime(100)), 30);
        // A quiet window forgets, and the lock mode does not delay (it locks instead).
        assert_eq!(address_delay(&p, Some(&at(50)), UnixTime(1001)), 0);
        let lock = ThrottlePolicy { address_limit: AddressLimit::Lock, ..policy() };
        assert_eq!(address_delay(&lock, Some(&at(50)), UnixTime(100)), 0);
        assert!(check(&lock, KeyKind::Address, Some(&at(10)), UnixTime(100)).is_err());
    }

    #[test]
    fn ipv6_addresses_are_keyed_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key(a), "addr:2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), address_key("192.0.2.7".parse().unwrap()));
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
