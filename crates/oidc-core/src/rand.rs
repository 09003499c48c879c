//! Randomness as an input: every secret this crate generates comes from a [`Random`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::time::UnixTime;

/// A cryptographically secure source of random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG, through `ring`.
#[derive(Debug, Clone)]
pub struct OsRandom(ring::rand::SystemRandom);

impl OsRandom {
    /// A new handle on the system random source.
    pub fn new() -> OsRandom {
        OsRandom(ring::rand::SystemRandom::new())
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        OsRandom::new()
    }
}

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        use ring::rand::SecureRandom as _;
        // The system RNG fails only if the kernel has no entropy source at all,
        // in which case no secret can be generated safely.
        #[allow(clippy::expect_used)]
        self.0.fill(buf).expect("the system random number generator failed");
    }
}

/// `n` random bytes, base64url without padding: a URL-safe, high-entropy token.
pub fn token(rng: &dyn Random, n: usize) -> String {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// A random identifier of `n` bytes, base64url, that never starts with `-`
/// (so it can be passed to command-line tools as an argument): a leading
/// `-` becomes `A`, which keeps it unique enough for an identifier.
pub fn identifier(rng: &dyn Random, n: usize) -> String {
    let mut t = token(rng, n);
    if t.starts_with('-') {
        t.replace_range(0..1, "A");
    }
    t
}

/// Grant ids and ordered tokens issued by this process, for the order of
/// [`grant_id`] and [`ordered_token`].
static ISSUE_SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The second `now` and the next number of this process's sequence, as 18
/// lowercase hex digits, which sort as they were taken.
pub(crate) fn issue_order(now: UnixTime) -> String {
    ordered(now, 0, |_| {})
}

/// The issue order of `now` (see [`issue_order`]) followed by what `rest`
/// appends, in one string of `extra` more bytes.
fn ordered(now: UnixTime, extra: usize, rest: impl FnOnce(&mut String)) -> String {
    use std::fmt::Write as _;
    let seq = ISSUE_SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut value = String::with_capacity(crate::secret::ORDER_PREFIX + extra);
    // Writing to a String cannot fail.
    let _ = write!(value, "{:010x}{seq:08x}", now.secs().max(0));
    rest(&mut value);
    value
}

/// `n` random bytes (at most 32) in base64url, appended to `value`.
fn append_token(rng: &dyn Random, n: usize, value: &mut String) {
    let mut buf = [0u8; 32];
    let buf = &mut buf[..n.min(32)];
    rng.fill(buf);
    URL_SAFE_NO_PAD.encode_string(buf, value);
}

/// A grant's identifier (the family of a code and the tokens issued from it;
/// never shown to clients, only in audit events): the second it was issued
/// and a per-process sequence number, in lowercase hex so that ids sort as
/// they were issued, then 10 random bytes (80 bits) in base64url, which keep
/// ids unique across processes.
///
/// Sorted ids keep the inserts into the `grant_id` indexes of codes and tokens
/// at the right edge of their B-trees: on SQLite a batch of new rows (see the
/// store's group commit) changes one or two index pages instead of one random
/// page per row, and each changed page is a 4 KiB frame in the WAL and a page
/// to copy back at the next checkpoint (client_credentials +9-32% on SQLite
/// and +26% on PostgreSQL, docs/PERFORMANCE.md). Codes, opaque access tokens
/// and session cookies are ordered the same way, see [`ordered_token`].
pub fn grant_id(rng: &dyn Random, now: UnixTime) -> String {
    ordered(now, 14, |value| append_token(rng, 10, value))
}

/// A secret that is stored under an ordered key: [`crate::secret::ORDER_PREFIX`]
/// hex digits of issue order (the second and this process's sequence, as in
/// [`grant_id`]), then 32 random bytes (256 bits) in base64url, 61 characters
/// in all. Its digest ([`crate::secret::Digest::of`]) keeps the prefix in
/// front of the SHA-256 of the whole value, so new rows land at the right edge
/// of the digest index instead of on a random page each. The prefix is not
/// secret (it tells when the value was issued, which `expires_in` tells too);
/// every bit of the value's unpredictability is in the random part.
pub fn ordered_token(rng: &dyn Random, now: UnixTime) -> String {
    ordered(now, 43, |value| append_token(rng, 32, value))
}

/// A deterministic generator for tests: a counter expanded with SHA-256.
#[derive(Debug, Default)]
pub struct TestRandom(std::sync::atomic::AtomicU64);

impl Random for TestRandom {
    fn fill(&self, buf: &mut [u8]) {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut block = ring::digest::digest(&ring::digest::SHA256, &n.to_be_bytes());
        for chunk in buf.chunks_mut(32) {
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
            block = ring::digest::digest(&ring::digest::SHA256, block.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl Random for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(self.0);
        }
    }

    #[test]
    fn identifiers_never_start_with_a_dash() {
        // 0xF8 encodes as '-' at the start in base64url.
        assert!(token(&Fixed(0xF8), 3).starts_with('-'));
        assert!(identifier(&Fixed(0xF8), 3).starts_with('A'));
        assert_eq!(identifier(&Fixed(0), 3), token(&Fixed(0), 3));
    }

    /// Values made later (the next second, or the next in sequence within one) sort after.
    fn assert_sorted_as_issued(make: impl Fn(UnixTime) -> String) {
        let values: Vec<String> = (0..50).map(|i| make(UnixTime(1_700_000_000 + i / 10))).collect();
        for pair in values.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn grant_ids_sort_as_issued_and_stay_unpredictable() {
        let rng = TestRandom::default();
        assert_sorted_as_issued(|now| grant_id(&rng, now));
        // 10 + 8 hex digits, then 80 random bits; two ids of one instant differ in those.
        let (a, b) = (grant_id(&rng, UnixTime(5)), grant_id(&rng, UnixTime(5)));
        assert_eq!(a.len(), 18 + 14);
        assert!(a[..18].bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a[18..], b[18..]);
        assert_eq!(&a[..10], "0000000005");
    }

    #[test]
    fn ordered_tokens_sort_as_issued_and_carry_256_random_bits() {
        let rng = TestRandom::default();
        assert_sorted_as_issued(|now| ordered_token(&rng, now));
        let (a, b) = (ordered_token(&rng, UnixTime(5)), ordered_token(&rng, UnixTime(5)));
        assert_eq!(a.len(), crate::secret::ORDER_PREFIX + 43, "the prefix, then 256 bits in base64url");
        assert_eq!(&a[..10], "0000000005");
        assert_ne!(a[18..], b[18..]);
        // Its digest keeps the order in front of the SHA-256 of the whole value.
        let (da, db) = (crate::secret::Digest::of(&a), crate::secret::Digest::of(&b));
        assert_eq!(da.as_str()[..18], a[..18]);
        assert!(da.as_str() < db.as_str());
    }
}
