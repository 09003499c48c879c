//! Signing key generation (the seed's `creatersakey`, and more algorithms).
//! `ring` cannot generate RSA keys, so the `rsa` crate does, offline, here
//! only; EC and Ed25519 keys come from `ring` through `oidc_core::jose`; all
//! signing uses `ring`.

use anyhow::{Context as _, anyhow};
use oidc_core::model::{JwtAlg, KeyRecord, KeyState};
use oidc_core::rand::Random;
use oidc_core::time::UnixTime;
use rsa::pkcs8::EncodePrivateKey as _;

/// A new active key for `alg` with a random kid: RSA-2048 for RS256 and
/// PS256, P-256 for ES256, Ed25519 for EdDSA.
pub fn generate(realm: &str, alg: JwtAlg, now: UnixTime, rng: &dyn Random) -> anyhow::Result<KeyRecord> {
    let private_pkcs8 = match alg {
        JwtAlg::Rs256 | JwtAlg::Ps256 => {
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).context("RSA key generation failed")?;
            key.to_pkcs8_der().context("cannot encode the key as PKCS#8")?.as_bytes().to_vec()
        }
        JwtAlg::Hs256 => return Err(anyhow!("HS256 uses each client's secret; there is no realm key to create")),
        JwtAlg::None => return Err(anyhow!("'none' means unsigned; there is no key to create")),
        other => oidc_core::jose::generate_pkcs8(other).map_err(|e| anyhow!(e))?,
    };
    let record = KeyRecord {
        kid: oidc_core::rand::identifier(rng, 12),
        realm: realm.to_owned(),
        alg: alg.as_str().to_owned(),
        private_pkcs8,
        state: KeyState::Active,
        created_at: now,
        published_until: None,
    };
    // Make sure ring accepts what was generated before storing it.
    oidc_core::jose::SigningKey::from_record(&record).context("the generated key is not usable by ring")?;
    Ok(record)
}

/// A new RSA-2048 RS256 key, active, with a random kid.
pub fn generate_rs256(realm: &str, now: UnixTime, rng: &dyn Random) -> anyhow::Result<KeyRecord> {
    generate(realm, JwtAlg::Rs256, now, rng)
}
