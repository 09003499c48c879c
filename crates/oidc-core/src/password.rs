//! Password hashing: Argon2id for new hashes; Django's `pbkdf2_sha256` verified
//! for imported users and upgraded on their next login.

use std::num::NonZeroU32;

use argon2::{Argon2, Block, PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _};
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

/// Argon2id's memory cost for new hashes, in KiB (12 MiB).
///
/// OWASP's Password Storage Cheat Sheet lists five Argon2id settings that
/// "provide an equal level of defense" and trade memory for passes: 46 MiB
/// and t=1, 19 MiB and t=2, 12 MiB and t=3, 9 MiB and t=4, 7 MiB and t=5.
/// The server keeps one working buffer per hashing thread (one per core), so
/// memory per check is memory held per core; 12 MiB with three passes costs the
/// same CPU as 19 MiB with two (the product of memory and passes is 36 MiB
/// against 38) and holds 7 MiB less per core. Hashes made with the other
/// settings (19 MiB, the argon2 crate's default, was this server's until
/// December 2026) still verify and are rehashed at the next login.
pub const HASH_M_COST_KIB: u32 = 12 * 1024;
/// Argon2id's passes for new hashes (see [`HASH_M_COST_KIB`]).
pub const HASH_T_COST: u32 = 3;

/// The parameters of new hashes: Argon2id, [`HASH_M_COST_KIB`], [`HASH_T_COST`], one lane.
fn hash_params() -> argon2::Params {
    match argon2::Params::new(HASH_M_COST_KIB, HASH_T_COST, 1, None) {
        Ok(p) => p,
        Err(e) => unreachable!("argon2 rejected constant parameters: {e}"),
    }
}

/// The hasher for new hashes.
fn hasher() -> Argon2<'static> {
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, hash_params())
}

/// Hashes `password` with Argon2id ([`HASH_M_COST_KIB`], [`HASH_T_COST`], one
/// lane) and a 16-byte salt from `rng`, as a PHC string.
pub fn hash(password: &Password, rng: &dyn Random) -> PasswordHash {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let phc: PhcHash = match hasher().hash_password_with_salt(password.secret().as_bytes(), &salt) {
        Ok(h) => h,
        // Constant parameters and a 16-byte salt are always valid inputs.
        Err(e) => unreachable!("argon2 rejected its parameters: {e}"),
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
        verified_argon2(&parsed)
    } else if s.starts_with("pbkdf2_sha256$") {
        if verify_django_pbkdf2(s, password.secret()) { Verified::YesRehash } else { Verified::No }
    } else {
        Verified::No
    }
}

/// Checks passwords with working memory that is kept from one check to the
/// next. Argon2id needs 19 MiB per check; allocating it each time lets the
/// allocator keep every freed buffer (one per thread arena), so a burst of
/// logins left hundreds of MiB resident. A server keeps one worker per
/// hashing thread, which bounds password memory at 19 MiB per thread.
pub struct PasswordWorker {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for PasswordWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordWorker").field("blocks", &self.blocks.len()).finish()
    }
}

impl Default for PasswordWorker {
    fn default() -> Self {
        PasswordWorker::new()
    }
}

/// The most Argon2 memory a stored hash may ask for (64 MiB): a hash with a
/// larger `m` is treated as unusable rather than allowed to exhaust memory.
const MAX_BLOCKS: usize = 64 * 1024;

impl PasswordWorker {
    /// A worker; its buffer grows to the size the first check needs.
    pub fn new() -> PasswordWorker {
        PasswordWorker { blocks: Vec::new() }
    }

    /// [`verify`], reusing this worker's memory for Argon2 hashes.
    pub fn verify(&mut self, password: &Password, stored: &PasswordHash) -> Verified {
        let s = stored.0.as_str();
        if !s.starts_with("$argon2") {
            return verify(password, stored);
        }
        let Ok(parsed) = PhcHash::new(s) else { return Verified::No };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return Verified::No };
        let Ok(algorithm) = argon2::Algorithm::new(parsed.algorithm.as_str()) else { return Verified::No };
        let version = match parsed.version.map(argon2::Version::try_from) {
            None => argon2::Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return Verified::No,
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else { return Verified::No };
        let needed = params.block_count();
        if needed > MAX_BLOCKS {
            return Verified::No;
        }
        self.fit(needed);
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params);
        let computed = argon.hash_password_into_with_memory(
            password.secret().as_bytes(),
            salt,
            &mut out,
            &mut self.blocks[..needed],
        );
        // A hash with more memory than today's (an older setting) is rare and
        // rehashed at this login: give its extra memory back rather than keep
        // it for every later check.
        self.fit(hash_params().block_count());
        if computed.is_err() || !bool::from(subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected.as_bytes())) {
            return Verified::No;
        }
        verified_argon2(&parsed)
    }

    /// Makes the working memory exactly `blocks` long when it is shorter, or
    /// when it is longer than today's hashes need (then it is freed and
    /// reallocated at that size).
    fn fit(&mut self, blocks: usize) {
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Block::default());
        } else if self.blocks.len() > blocks.max(hash_params().block_count()) {
            self.blocks = Vec::new();
            self.blocks.resize(blocks, Block::default());
        }
    }

    /// [`hash`], reusing this worker's memory.
    pub fn hash(&mut self, password: &Password, rng: &dyn Random) -> PasswordHash {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let params = hash_params();
        let needed = params.block_count();
        self.fit(needed);
        let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
        let argon = hasher();
        if let Err(e) = argon.hash_password_into_with_memory(
            password.secret().as_bytes(),
            &salt,
            &mut out,
            &mut self.blocks[..needed],
        ) {
            // Constant parameters, a 16-byte salt and a 32-byte output are always valid inputs.
            unreachable!("argon2 rejected its parameters: {e}");
        }
        let (Ok(salt), Ok(output)) =
            (argon2::password_hash::phc::Salt::new(&salt), argon2::password_hash::phc::Output::new(&out))
        else {
            unreachable!("a 16-byte salt and a 32-byte output are valid PHC parts");
        };
        let phc = PhcHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(argon2::Version::default().into()),
            params: match argon2::password_hash::phc::ParamsString::try_from(&params) {
                Ok(p) => p,
                Err(e) => unreachable!("constant parameters always serialize: {e}"),
            },
            salt: Some(salt),
            hash: Some(output),
        };
        PasswordHash(phc.to_string())
    }
}

/// A verified Argon2 hash: current, or to be rehashed when its parameters are
/// weaker than today's defaults.
fn verified_argon2(parsed: &PhcHash) -> Verified {
    if parsed.params.to_string() == hash_params_string() && parsed.algorithm.as_str() == "argon2id" {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

fn hash_params_string() -> String {
    let p = hash_params();
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
        assert!(h.0.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{}", h.0);
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

    #[test]
    fn worker_agrees_with_the_allocating_functions_and_reuses_its_memory() {
        let rng = TestRandom::default();
        let mut w = PasswordWorker::new();
        let pw = Password::new("correct horse".into());
        // A hash made by either verifies with both.
        let by_worker = w.hash(&pw, &rng);
        assert!(by_worker.0.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{}", by_worker.0);
        assert_eq!(verify(&pw, &by_worker), Verified::Yes);
        let by_fn = hash(&pw, &rng);
        assert_eq!(w.verify(&pw, &by_fn), Verified::Yes);
        assert_eq!(w.verify(&Password::new("correct horsf".into()), &by_fn), Verified::No);
        let capacity = w.blocks.capacity();
        for _ in 0..3 {
            assert_eq!(w.verify(&pw, &by_worker), Verified::Yes);
        }
        assert_eq!(w.blocks.capacity(), capacity, "the working memory is reused, not reallocated");
        // Weaker parameters ask for a rehash; other formats still work; junk is refused.
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"correct horse", b"0123456789abcdef")
        .unwrap()
        .to_string();
        assert_eq!(w.verify(&pw, &PasswordHash(weak)), Verified::YesRehash);
        assert_eq!(w.blocks.len(), 12 * 1024, "a smaller hash leaves the working memory as it was");
        // The argon2 crate's default (19 MiB, t=2; this server's until December 2026) still
        // verifies, asks for a rehash, and its extra 7 MiB is not kept after the check.
        let older =
            Argon2::default().hash_password_with_salt(b"correct horse", b"0123456789abcdef").unwrap().to_string();
        assert!(older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{older}");
        assert_eq!(w.verify(&pw, &PasswordHash(older.clone())), Verified::YesRehash);
        assert_eq!(w.verify(&Password::new("correct horsf".into()), &PasswordHash(older)), Verified::No);
        assert_eq!(w.blocks.len(), 12 * 1024, "the larger buffer is given back");
        assert!(w.blocks.capacity() < 19456, "{}", w.blocks.capacity());
        assert_eq!(w.verify(&pw, &PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$junk".into())), Verified::No);
        // A stored hash that asks for more memory than the cap is unusable, not a way to exhaust memory.
        let greedy =
            "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(w.verify(&pw, &PasswordHash(greedy.into())), Verified::No);
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, NonZeroU32::new(10).unwrap(), b"s", b"pw", &mut out);
        let django = PasswordHash(format!("pbkdf2_sha256$10$s${}", STANDARD.encode(out)));
        assert_eq!(w.verify(&Password::new("pw".into()), &django), Verified::YesRehash);
    }
}
