//! Signing key generation (the seed's `creatersakey`). `ring` cannot generate
//! RSA keys, so the `rsa` crate does, offline, here only; all signing uses `ring`.

use anyhow::Context as _;
use oidc_core::model::{KeyRecord, KeyState};
use oidc_core::rand::Random;
use oidc_core::time::UnixTime;
use rsa::pkcs8::EncodePrivateKey as _;

/// A new RSA-2048 RS256 key, active, with a random kid.
pub fn generate_rs256(realm: &str, now: UnixTime, rng: &dyn Random) -> anyhow::Result<KeyRecord> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).context("RSA key generation failed")?;
    let der = key.to_pkcs8_der().context("cannot encode the key as PKCS#8")?;
    let record = KeyRecord {
        kid: oidc_core::rand::token(rng, 12),
        realm: realm.to_owned(),
        alg: "RS256".into(),
        private_pkcs8: der.as_bytes().to_vec(),
        state: KeyState::Active,
        created_at: now,
    };
    // Make sure ring accepts what was generated before storing it.
    oidc_core::jose::SigningKey::from_record(&record).context("the generated key is not usable by ring")?;
    Ok(record)
}
