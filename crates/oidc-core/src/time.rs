//! Time as an input: the caller passes the current time to every function that needs it.

use std::fmt;

/// Seconds since the Unix epoch (UTC), as used by JWT `iat`/`exp` (RFC 7519 §2 "NumericDate").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// This time plus `secs` seconds (saturating).
    #[must_use]
    pub fn plus(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }

    /// Seconds since the epoch.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A source of the current time. Servers use the system clock; tests use a fixed one.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}
