//! Compact JWS (RFC 7515) signing and verification on `ring`, and JWKs (RFC 7517).
//!
//! Verification never trusts the token's `alg` alone: the caller passes the
//! algorithms it accepts, `crit` is refused, and the key type must match.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, KeyPair as _, RsaKeyPair};
use serde_json::{Map, Value, json};

use crate::model::KeyRecord;

/// Errors of JWS processing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoseError {
    /// The token is not three base64url parts with JSON header and payload.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// The algorithm is not one the caller accepts.
    #[error("JWS algorithm '{0}' is not accepted")]
    AlgNotAllowed(String),
    /// No key with the token's `kid` (or no usable key).
    #[error("no key to verify the JWS")]
    UnknownKey,
    /// The signature does not verify.
    #[error("JWS signature does not verify")]
    BadSignature,
    /// A key could not be parsed.
    #[error("key is unusable: {0}")]
    BadKey(String),
}

/// Decodes base64url without padding, strictly (RFC 7515 §2).
pub fn b64_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    if s.contains('=') {
        return Err(JoseError::Malformed("base64url padding is not allowed"));
    }
    URL_SAFE_NO_PAD.decode(s).map_err(|_| JoseError::Malformed("invalid base64url"))
}

/// Encodes base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A parsed private signing key, ready to sign: parsed once, kept in memory.
pub struct SigningKey {
    kid: String,
    alg: &'static str,
    rsa: RsaKeyPair,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a stored key. Only RS256 RSA keys are supported for now.
    pub fn from_record(rec: &KeyRecord) -> Result<SigningKey, JoseError> {
        match rec.alg.as_str() {
            "RS256" => {
                let rsa = RsaKeyPair::from_pkcs8(&rec.private_pkcs8).map_err(|e| JoseError::BadKey(e.to_string()))?;
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
                let jwk = json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": rec.kid,
                    "n": b64(strip_leading_zeros(&public.n)),
                    "e": b64(strip_leading_zeros(&public.e)),
                });
                Ok(SigningKey { kid: rec.kid.clone(), alg: "RS256", rsa, jwk })
            }
            other => Err(JoseError::BadKey(format!("unsupported key algorithm '{other}'"))),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWA algorithm.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6.3.1).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with header `{"alg","kid","typ":"JWT"}`.
    ///
    /// RSASSA-PKCS1-v1_5 signatures are deterministic; `ring` uses the system
    /// random source only for blinding, so no [`crate::rand::Random`] is taken.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"});
        let signing_input = signing_input(&header, claims);
        let mut sig = vec![0u8; self.rsa.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        // Signing with a valid parsed key into a modulus-sized buffer does not fail.
        if self.rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig).is_err() {
            unreachable!("RSA signing failed with a valid key and buffer");
        }
        format!("{signing_input}.{}", b64(&sig))
    }
}

/// Signs `claims` with HS256 keyed by `secret` (RFC 7518 §3.2; OIDC Core §10.1
/// uses the client secret's octets).
pub fn sign_hs256(claims: &Map<String, Value>, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let signing_input = signing_input(&header, claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(tag.as_ref()))
}

fn signing_input(header: &Value, claims: &Map<String, Value>) -> String {
    // Serializing a serde_json Value cannot fail.
    let h = serde_json::to_vec(header).unwrap_or_default();
    let c = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", b64(&h), b64(&c))
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[i..]
}

/// A decoded, verified JWS.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload as JSON.
    pub claims: Map<String, Value>,
}

/// A verification key.
#[derive(Debug, Clone)]
pub enum VerifyKey {
    /// An RSA public key: modulus and exponent, big-endian.
    Rsa {
        /// Key id.
        kid: String,
        /// Modulus.
        n: Vec<u8>,
        /// Exponent.
        e: Vec<u8>,
    },
    /// An HMAC secret.
    Hmac(Vec<u8>),
}

impl VerifyKey {
    /// The verification key of a signing key.
    pub fn from_signing(k: &SigningKey) -> VerifyKey {
        let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.rsa.public_key());
        VerifyKey::Rsa { kid: k.kid.clone(), n: public.n, e: public.e }
    }
}

/// Verifies a compact JWS against `keys`, accepting only `allowed_algs`.
pub fn verify(token: &str, allowed_algs: &[&str], keys: &[VerifyKey]) -> Result<Verified, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed("expected three parts"));
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&b64_decode(h)?).map_err(|_| JoseError::Malformed("header is not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(JoseError::Malformed("'crit' header is not supported"));
    }
    let alg = header.get("alg").and_then(Value::as_str).ok_or(JoseError::Malformed("no alg"))?;
    if !allowed_algs.contains(&alg) {
        return Err(JoseError::AlgNotAllowed(alg.to_owned()));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let sig = b64_decode(s)?;
    let input = &token.as_bytes()[..h.len() + 1 + p.len()];
    let ok = match alg {
        "RS256" => keys.iter().any(|k| match k {
            VerifyKey::Rsa { kid: k_kid, n, e } if kid.is_none_or(|kid| kid == k_kid) => {
                signature::RsaPublicKeyComponents { n, e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, &sig)
                    .is_ok()
            }
            _ => false,
        }),
        "HS256" => keys.iter().any(|k| match k {
            VerifyKey::Hmac(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::verify(&key, input, &sig).is_ok()
            }
            VerifyKey::Rsa { .. } => false,
        }),
        other => return Err(JoseError::AlgNotAllowed(other.to_owned())),
    };
    if !ok {
        return Err(JoseError::BadSignature);
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&b64_decode(p)?).map_err(|_| JoseError::Malformed("payload is not a JSON object"))?;
    Ok(Verified { header, claims })
}

/// The left half of the SHA-256 of `value`, base64url: `at_hash` and `c_hash`
/// for the 256-bit algorithms (OpenID Connect Core 1.0 §3.1.3.6, §3.3.2.11).
pub fn half_hash(value: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    b64(&d.as_ref()[..16])
}

/// The keys of a realm, parsed once: the active signing key and the JWKS
/// document of every published key, serialized ahead of time.
#[derive(Debug)]
pub struct KeySet {
    active: Option<SigningKey>,
    published: Vec<VerifyKey>,
    jwks_json: String,
}

impl KeySet {
    /// Builds the key set from stored records: the newest active RS256 key
    /// signs; active and retired keys are published; revoked keys are dropped.
    pub fn from_records(records: &[KeyRecord]) -> Result<KeySet, JoseError> {
        use crate::model::KeyState;
        let mut sorted: Vec<&KeyRecord> = records.iter().filter(|r| r.state != KeyState::Revoked).collect();
        sorted.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        let mut active = None;
        let mut jwks = Vec::new();
        let mut published = Vec::new();
        for rec in sorted {
            let key = SigningKey::from_record(rec)?;
            jwks.push(key.public_jwk().clone());
            published.push(VerifyKey::from_signing(&key));
            if rec.state == KeyState::Active && active.is_none() {
                active = Some(key);
            }
        }
        let jwks_json = serde_json::to_string(&json!({ "keys": jwks })).unwrap_or_default();
        Ok(KeySet { active, published, jwks_json })
    }

    /// The key that signs new tokens, if any.
    pub fn active(&self) -> Option<&SigningKey> {
        self.active.as_ref()
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The published keys, for verifying tokens this realm signed.
    pub fn verify_keys(&self) -> &[VerifyKey] {
        &self.published
    }
}

#[cfg(test)]
pub(crate) mod tests;
