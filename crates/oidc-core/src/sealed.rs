//! Values the provider hands to a browser and must get back unchanged: sealed
//! (encrypted and authenticated, ChaCha20-Poly1305) under a key derived from
//! the realm's secret, with an expiry and a binding to the browser.
//!
//! The pending authorization request travels this way between the
//! authorization endpoint and the login and consent forms: the browser carries
//! it but can neither read nor change it, so the parameters of a signed
//! request object stay as the client signed them, and every instance of the
//! provider can resume the request without shared state.

use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use crate::rand::Random;
use crate::time::UnixTime;

/// 32 bytes derived from the realm's secret for one `purpose` (HKDF-SHA256,
/// RFC 5869), so that each use of the realm secret has a key of its own.
pub fn derive_key(realm_secret: &[u8], purpose: &str) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"oidc-provider sealed values v1").extract(realm_secret);
    let info = [purpose.as_bytes()];
    let mut bytes = [0u8; 32];
    // 32 bytes of HKDF-SHA256 output are always available (the limit is 255 * 32).
    if let Ok(okm) = prk.expand(&info, &CHACHA20_POLY1305) {
        let _ = okm.fill(&mut bytes);
    }
    bytes
}

/// A key for sealing one kind of value in one realm.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// Derives the key for `purpose` from the realm's secret (HKDF-SHA256,
    /// RFC 5869), so that values sealed for one purpose open for no other.
    pub fn derive(realm_secret: &[u8], purpose: &str) -> SealKey {
        let bytes = derive_key(realm_secret, purpose);
        match UnboundKey::new(&CHACHA20_POLY1305, &bytes) {
            Ok(k) => SealKey(LessSafeKey::new(k)),
            Err(_) => unreachable!("a 32-byte key is the size ChaCha20-Poly1305 takes"),
        }
    }

    /// Seals `plaintext` until `expires`, bound to `binding` (e.g. the browser's
    /// CSRF cookie): base64url of nonce, expiry and ciphertext.
    pub fn seal(&self, plaintext: &[u8], expires: UnixTime, binding: &str, rng: &dyn Random) -> String {
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce);
        let exp = expires.secs().to_be_bytes();
        let mut buf = plaintext.to_vec();
        let aad = [exp.as_slice(), binding.as_bytes()].concat();
        if self.0.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf).is_err() {
            unreachable!("sealing fails only for inputs larger than 256 GiB");
        }
        let mut out = Vec::with_capacity(12 + 8 + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&exp);
        out.extend_from_slice(&buf);
        crate::jose::b64(&out)
    }

    /// Opens a value sealed by [`SealKey::seal`] with the same `binding`, before
    /// its expiry; `None` when it was altered, expired, bound to another browser
    /// or sealed with another key.
    pub fn open(&self, sealed: &str, binding: &str, now: UnixTime) -> Option<Vec<u8>> {
        let raw = crate::jose::b64_decode(sealed).ok()?;
        if raw.len() < 12 + 8 + aead::CHACHA20_POLY1305.tag_len() {
            return None;
        }
        let (nonce, rest) = raw.split_at(12);
        let (exp, ciphertext) = rest.split_at(8);
        let expires = i64::from_be_bytes(exp.try_into().ok()?);
        if now.secs() >= expires {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let aad = [exp, binding.as_bytes()].concat();
        let mut buf = ciphertext.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::TestRandom;

    #[test]
    fn sealed_values_open_only_unchanged_unexpired_bound_and_for_their_purpose() {
        let rng = TestRandom::default();
        let key = SealKey::derive(b"realm secret", "pending-authorization");
        let sealed = key.seal(b"client_id=a&scope=openid", UnixTime(100), "cookie-1", &rng);
        assert_eq!(key.open(&sealed, "cookie-1", UnixTime(99)).as_deref(), Some(&b"client_id=a&scope=openid"[..]));
        assert_eq!(key.open(&sealed, "cookie-1", UnixTime(100)), None, "expired");
        assert_eq!(key.open(&sealed, "cookie-2", UnixTime(1)), None, "another browser");
        let other_purpose = SealKey::derive(b"realm secret", "something else");
        assert_eq!(other_purpose.open(&sealed, "cookie-1", UnixTime(1)), None, "another purpose");
        let other_realm = SealKey::derive(b"other secret", "pending-authorization");
        assert_eq!(other_realm.open(&sealed, "cookie-1", UnixTime(1)), None, "another realm");
        // Any change to any byte, including the expiry, is detected.
        let raw = crate::jose::b64_decode(&sealed).unwrap();
        for i in 0..raw.len() {
            let mut tampered = raw.clone();
            tampered[i] ^= 1;
            assert_eq!(key.open(&crate::jose::b64(&tampered), "cookie-1", UnixTime(1)), None, "byte {i}");
        }
        assert_eq!(key.open("", "cookie-1", UnixTime(1)), None);
        assert_eq!(key.open("!!not base64!!", "cookie-1", UnixTime(1)), None);
        assert!(!format!("{key:?}").contains("realm"), "the key never prints");
    }
}
