//! Randomness as an input: every secret this crate generates comes from a [`Random`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
}
