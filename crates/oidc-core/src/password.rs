//! Password hashing: Argon2id for new hashes; Django's `pbkdf2_sha256` verified
//! for imported users and upgraded on their next login.

use std::num::NonZeroU32;

use argon2::{Argon2, PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::model::PasswordHash;
use crate::rand::Random;
use crate::secret::Password;

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password is wrong (or the stored hash is unusable).
    No,
    /// The password is right and the hash is current.
    Yes,
    /// The password is right; the caller should store [`hash`] of it, since
    /// the stored hash uses an older scheme (for example imported from Django).
    YesRehash,
}

/// Hashes `password` with Argon2id (default parameters: m=19 MiB, t=2, p=1)
/// and a 16-byte salt from `rng`, as a PHC string.
pub fn hash(password: &Password, rng: &dyn Random) -> PasswordHash {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let argon = Argon2::default();
    let phc: PhcHash = match argon.hash_password_with_salt(password.secret().as_bytes(), &salt) {
        Ok(h) => h,
        // Default parameters and a 16-byte salt are always valid inputs.
        Err(e) => unreachable!("argon2 rejected its default parameters: {e}"),
    };
    PasswordHash(phc.to_string())
}

/// Verifies `password` against `stored`, in time independent of where the
/// password differs.
pub fn verify(password: &Password, stored: &PasswordHash) -> Verified {
    let s = stored.0.as_str();
    if s.starts_with("$argon2") {
        let Ok(parsed) = PhcHash::new(s) else {
            return Verified::No;
        };
        if Argon2::default().verify_password(password.secret().as_bytes(), &parsed).is_err() {
            return Verified::No;
        }
        // Rehash when the stored parameters are weaker than today's defaults.
        let current = hash_params_string();
        if parsed.params.to_string() == current && parsed.algorithm.as_str() == "argon2id" {
            Verified::Yes
        } else {
            Verified::YesRehash
        }
    } else if s.starts_with("pbkdf2_sha256$") {
        if verify_django_pbkdf2(s, password.secret()) { Verified::YesRehash } else { Verified::No }
    } else {
        Verified::No
    }
}

fn hash_params_string() -> String {
    let p = argon2::Params::default();
    format!("m={},t={},p={}", p.m_cost(), p.t_cost(), p.p_cost())
}

/// Verifies Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` format.
/// The salt is used as its ASCII bytes; the iteration count is read from the string.
fn verify_django_pbkdf2(encoded: &str, password: &str) -> bool {
    let mut it = encoded.splitn(4, '$');
    let (Some("pbkdf2_sha256"), Some(iter), Some(salt), Some(hash)) = (it.next(), it.next(), it.next(), it.next())
    else {
        return false;
    };
    let Some(iter) = iter.parse::<u32>().ok().and_then(NonZeroU32::new) else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(hash) else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    ring::pbkdf2::verify(ring::pbkdf2::PBKDF2_HMAC_SHA256, iter, salt.as_bytes(), password.as_bytes(), &expected)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::TestRandom;

    #[test]
    fn argon2id_roundtrip() {
        let rng = TestRandom::default();
        let h = hash(&Password::new("correct horse".into()), &rng);
        assert!(h.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", h.0);
        assert_eq!(verify(&Password::new("correct horse".into()), &h), Verified::Yes);
        assert_eq!(verify(&Password::new("correct horsf".into()), &h), Verified::No);
    }

    #[test]
    fn django_pbkdf2_verifies_and_asks_for_rehash() {
        // Built the way Django does: base64(PBKDF2-HMAC-SHA256(password, salt-as-ascii, iterations, 32)).
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(1000).unwrap(),
            b"seasalt",
            b"s3cret",
            &mut out,
        );
        let stored = PasswordHash(format!("pbkdf2_sha256$1000$seasalt${}", STANDARD.encode(out)));
        assert_eq!(verify(&Password::new("s3cret".into()), &stored), Verified::YesRehash);
        assert_eq!(verify(&Password::new("s3cret!".into()), &stored), Verified::No);
        assert_eq!(verify(&Password::new("s3cret".into()), &PasswordHash("pbkdf2_sha256$0$x$y".into())), Verified::No);
        assert_eq!(verify(&Password::new("x".into()), &PasswordHash("md5$x".into())), Verified::No);
    }

    #[test]
    fn django_known_vector() {
        // An independent vector, computed with Python hashlib:
        // python3 -c "import hashlib,base64;print(base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'pw',b'abc',2)).decode())"
        let stored = PasswordHash("pbkdf2_sha256$2$abc$C6LhxlXjdcJxq3pUq3sgHZyk5blk7+S6zblohXPjxII=".into());
        assert_eq!(verify(&Password::new("pw".into()), &stored), Verified::YesRehash);
    }
}
