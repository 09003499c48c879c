//! Compact JWS (RFC 7515) signing and verification on `ring` with RS256, PS256,
//! ES256, EdDSA (RFC 8037) and HS256, and JWKs (RFC 7517).
//!
//! RSA signing, the one private-key operation on every code flow, runs on
//! `aws-lc-rs` when the crate's `aws-lc` feature is on (the server binary turns
//! it on): it signs RSA-2048 about 2.2 times as fast as ring on the project's
//! machine (docs/PERFORMANCE.md). Verification, ECDSA, Ed25519, HMAC and
//! digests stay on ring either way, and a crate that depends on oidc-core
//! alone gets ring only.
//!
//! Verification never trusts the token's `alg` alone: the caller passes the
//! algorithms it accepts, `crit` is refused, and the key type must match.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Map, Value, json};

use crate::model::{JwtAlg, KeyRecord, KeyState};
use crate::time::UnixTime;

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

/// Every algorithm a token of this provider may be signed with, for `verify`.
pub const ALL_ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "EdDSA", "HS256"];

/// Decodes base64url without padding, strictly (RFC 7515 §2).
pub fn b64_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    if s.contains('=') {
        return Err(JoseError::Malformed("base64url padding is not allowed"));
    }
    URL_SAFE_NO_PAD.decode(s).map_err(|_| JoseError::Malformed("invalid base64url"))
}

/// A DER element: tag, definite length (X.690 §8.1.3), contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// Encodes base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RSA private keys on ring: the same calls as [`rsa_backend`] with `aws-lc`.
#[cfg(not(feature = "aws-lc"))]
mod rsa_backend {
    pub(super) use ring::error::KeyRejected;
    pub(super) use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair};

    /// The modulus and the public exponent, big-endian.
    pub(super) fn components(k: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
        use ring::signature::KeyPair as _;
        let c = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
        (c.n, c.e)
    }

    pub(super) fn public_key(k: &RsaKeyPair) -> &[u8] {
        use ring::signature::KeyPair as _;
        k.public_key().as_ref()
    }

    pub(super) fn modulus_len(k: &RsaKeyPair) -> usize {
        k.public().modulus_len()
    }

    pub(super) fn sign(k: &RsaKeyPair, pad: &'static dyn RsaEncoding, msg: &[u8], sig: &mut [u8]) -> bool {
        // ring blinds the private operation with fresh randomness.
        k.sign(pad, &ring::rand::SystemRandom::new(), msg, sig).is_ok()
    }
}

/// RSA private keys on aws-lc-rs, whose API mirrors ring's.
#[cfg(feature = "aws-lc")]
mod rsa_backend {
    pub(super) use aws_lc_rs::error::KeyRejected;
    pub(super) use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair};

    /// The modulus and the public exponent, big-endian.
    pub(super) fn components(k: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
        use aws_lc_rs::signature::KeyPair as _;
        let c = aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
        (c.n, c.e)
    }

    pub(super) fn public_key(k: &RsaKeyPair) -> &[u8] {
        use aws_lc_rs::signature::KeyPair as _;
        // The PKCS#1 RSAPublicKey DER (RFC 8017 §A.1.1), as with ring.
        k.public_key().as_ref()
    }

    pub(super) fn modulus_len(k: &RsaKeyPair) -> usize {
        k.public_modulus_len()
    }

    pub(super) fn sign(k: &RsaKeyPair, pad: &'static dyn RsaEncoding, msg: &[u8], sig: &mut [u8]) -> bool {
        // AWS-LC blinds the private operation itself and ignores this generator.
        k.sign(pad, &aws_lc_rs::rand::SystemRandom::new(), msg, sig).is_ok()
    }
}

/// The private key material of a [`SigningKey`].
enum KeyMaterial {
    /// RSA, for RS256 (PKCS#1 v1.5) or PS256 (PSS).
    Rsa(rsa_backend::RsaKeyPair),
    /// ECDSA on P-256 with fixed-length `r || s` signatures (RFC 7518 §3.4).
    Ec(EcdsaKeyPair),
    /// Ed25519 (RFC 8037).
    Ed(Ed25519KeyPair),
}

/// A parsed private signing key, ready to sign: parsed once, kept in memory.
pub struct SigningKey {
    kid: String,
    alg: JwtAlg,
    material: KeyMaterial,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a stored key: PKCS#8 RSA for RS256 and PS256, PKCS#8 P-256 for
    /// ES256, PKCS#8 Ed25519 (v1 or v2) for EdDSA.
    pub fn from_record(rec: &KeyRecord) -> Result<SigningKey, JoseError> {
        let alg: JwtAlg = rec.alg.parse().map_err(JoseError::BadKey)?;
        let bad = |e: ring::error::KeyRejected| JoseError::BadKey(format!("{} key '{}': {e}", alg.as_str(), rec.kid));
        // ring and aws-lc-rs reject keys with types of their own.
        let (material, key_members) = match alg {
            JwtAlg::Rs256 | JwtAlg::Ps256 => {
                let rsa = rsa_backend::RsaKeyPair::from_pkcs8(&rec.private_pkcs8).map_err(
                    |e: rsa_backend::KeyRejected| JoseError::BadKey(format!("{} key '{}': {e}", alg.as_str(), rec.kid)),
                )?;
                let (n, e) = rsa_backend::components(&rsa);
                // RFC 7518 §6.3.1: n and e as unsigned big-endian integers without leading zeros.
                let members = json!({
                    "kty": "RSA",
                    "n": b64(strip_leading_zeros(&n)),
                    "e": b64(strip_leading_zeros(&e)),
                });
                (KeyMaterial::Rsa(rsa), members)
            }
            JwtAlg::Es256 => {
                let rng = ring::rand::SystemRandom::new();
                let ec =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rec.private_pkcs8, &rng)
                        .map_err(bad)?;
                // RFC 7518 §6.2.1: the uncompressed point 0x04 || x || y, 32 bytes each on P-256.
                let point = ec.public_key().as_ref();
                let members = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
                (KeyMaterial::Ec(ec), members)
            }
            JwtAlg::EdDsa => {
                let ed = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&rec.private_pkcs8).map_err(bad)?;
                // RFC 8037 §2: an OKP key with the 32-byte public key as x.
                let members = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key().as_ref())});
                (KeyMaterial::Ed(ed), members)
            }
            JwtAlg::Hs256 | JwtAlg::None => {
                return Err(JoseError::BadKey(format!("{} has no realm key", alg.as_str())));
            }
        };
        let mut jwk = key_members;
        if let Value::Object(m) = &mut jwk {
            m.insert("use".into(), json!("sig"));
            m.insert("alg".into(), json!(alg.as_str()));
            m.insert("kid".into(), json!(rec.kid));
        }
        Ok(SigningKey { kid: rec.kid.clone(), alg, material, jwk })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWA algorithm this key signs with.
    pub fn alg(&self) -> JwtAlg {
        self.alg
    }

    /// The public JWK (RFC 7517 §4).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// For an RSA key: the public key as a DER `SubjectPublicKeyInfo`
    /// (RFC 5280 §4.1.2.7 with the rsaEncryption algorithm of RFC 3279 §2.3.1),
    /// the form Keycloak publishes as a realm's `public_key`.
    pub fn rsa_spki_der(&self) -> Option<Vec<u8>> {
        let KeyMaterial::Rsa(rsa) = &self.material else { return None };
        // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
        const RSA_ALGORITHM: [u8; 15] =
            [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
        // The public key is the PKCS#1 RSAPublicKey; it goes in a BIT STRING with no unused bits.
        let mut bits = vec![0u8];
        bits.extend_from_slice(rsa_backend::public_key(rsa));
        let mut body = RSA_ALGORITHM.to_vec();
        body.extend(der(0x03, &bits));
        Some(der(0x30, &body))
    }

    /// Signs `claims` as a compact JWS with header `{"alg","kid","typ":"JWT"}`.
    ///
    /// RSASSA-PKCS1-v1_5 and Ed25519 signatures are deterministic; PSS and
    /// ECDSA need randomness, which `ring` takes from the system (it also
    /// blinds RSA with it), so no [`crate::rand::Random`] is taken.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        self.sign_typed(claims, "JWT")
    }

    /// Signs `claims` with the media type `typ` in the header (RFC 7515
    /// §4.1.9), such as `at+jwt` (RFC 9068 §2.1), `token-introspection+jwt`
    /// (RFC 9701 §5) or `logout+jwt`.
    pub fn sign_typed(&self, claims: &Map<String, Value>, typ: &str) -> String {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let signing_input = signing_input(&header, claims);
        let rng = ring::rand::SystemRandom::new();
        let sig = match &self.material {
            KeyMaterial::Rsa(rsa) => {
                let padding: &'static dyn rsa_backend::RsaEncoding = match self.alg {
                    JwtAlg::Ps256 => &rsa_backend::RSA_PSS_SHA256,
                    _ => &rsa_backend::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; rsa_backend::modulus_len(rsa)];
                // Signing with a valid parsed key into a modulus-sized buffer does not fail.
                if !rsa_backend::sign(rsa, padding, signing_input.as_bytes(), &mut sig) {
                    unreachable!("RSA signing failed with a valid key and buffer");
                }
                sig
            }
            KeyMaterial::Ec(ec) => match ec.sign(&rng, signing_input.as_bytes()) {
                Ok(s) => s.as_ref().to_vec(),
                Err(_) => unreachable!("ECDSA signing failed with a valid key"),
            },
            KeyMaterial::Ed(ed) => ed.sign(signing_input.as_bytes()).as_ref().to_vec(),
        };
        format!("{signing_input}.{}", b64(&sig))
    }
}

/// Generates the PKCS#8 document of a new ES256 (P-256) or EdDSA (Ed25519)
/// key. This is the one place `oidc-core` draws system randomness itself,
/// for key generation only. RSA keys (RS256, PS256) are generated by the
/// caller (the CLI uses the `rsa` crate); asking for one here is an error.
pub fn generate_pkcs8(alg: JwtAlg) -> Result<Vec<u8>, JoseError> {
    let rng = ring::rand::SystemRandom::new();
    let failed = |_| JoseError::BadKey("key generation failed".into());
    match alg {
        JwtAlg::Es256 => Ok(EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(failed)?
            .as_ref()
            .to_vec()),
        JwtAlg::EdDsa => Ok(Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?.as_ref().to_vec()),
        other => {
            Err(JoseError::BadKey(format!("{} keys are generated by the caller, not by oidc-core", other.as_str())))
        }
    }
}

/// An unsecured JWT (RFC 7519 §6): header `{"alg":"none"}` and an empty signature.
pub fn unsigned(claims: &Map<String, Value>) -> String {
    format!("{}.", signing_input(&json!({"alg": "none", "typ": "JWT"}), claims))
}

/// Signs `claims` with HS256 keyed by `secret` (RFC 7518 §3.2; OIDC Core §10.1
/// uses the client secret's octets).
pub fn sign_hs256(claims: &Map<String, Value>, secret: &[u8]) -> String {
    sign_hs256_typed(claims, secret, "JWT")
}

/// Like [`sign_hs256`], with another `typ` header.
pub fn sign_hs256_typed(claims: &Map<String, Value>, secret: &[u8], typ: &str) -> String {
    let header = json!({"alg": "HS256", "typ": typ});
    hs256_jws(signing_input(&header, claims), secret)
}

/// Signs `claims` with HS256 under the protected header
/// [`crate::secret::ordered_jws_header`] for issue order `order`: the refresh
/// token's envelope, whose digest then sorts in issue order
/// ([`crate::secret::Digest::of`]).
pub(crate) fn sign_hs256_ordered(claims: &Map<String, Value>, secret: &[u8], order: &str) -> String {
    // Serializing a serde_json Map cannot fail.
    let c = serde_json::to_vec(claims).unwrap_or_default();
    hs256_jws(format!("{}.{}", b64(crate::secret::ordered_jws_header(order).as_bytes()), b64(&c)), secret)
}

/// The compact JWS of `signing_input` (RFC 7515 §7.1) with its HS256 tag under `secret`.
fn hs256_jws(signing_input: String, secret: &[u8]) -> String {
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

/// A verification key. A key verifies only the algorithms of its type.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VerifyKey {
    /// An RSA public key: modulus and exponent, big-endian; RS256 and PS256,
    /// or only `alg` when the key names one.
    Rsa {
        /// Key id.
        kid: Option<String>,
        /// The one algorithm the key is for, if it says.
        alg: Option<JwtAlg>,
        /// Modulus.
        n: Vec<u8>,
        /// Exponent.
        e: Vec<u8>,
    },
    /// A P-256 public key, for ES256.
    Ec {
        /// Key id.
        kid: Option<String>,
        /// The x coordinate (32 bytes).
        x: Vec<u8>,
        /// The y coordinate (32 bytes).
        y: Vec<u8>,
    },
    /// An Ed25519 public key, for EdDSA.
    Ed {
        /// Key id.
        kid: Option<String>,
        /// The public key (32 bytes).
        x: Vec<u8>,
    },
    /// An HMAC secret, for HS256.
    Hmac(Vec<u8>),
}

impl VerifyKey {
    /// The verification key of a signing key.
    pub fn from_signing(k: &SigningKey) -> VerifyKey {
        let kid = Some(k.kid.clone());
        match &k.material {
            KeyMaterial::Rsa(rsa) => {
                let (n, e) = rsa_backend::components(rsa);
                VerifyKey::Rsa { kid, alg: Some(k.alg), n, e }
            }
            KeyMaterial::Ec(ec) => {
                let point = ec.public_key().as_ref();
                VerifyKey::Ec { kid, x: point[1..33].to_vec(), y: point[33..65].to_vec() }
            }
            KeyMaterial::Ed(ed) => VerifyKey::Ed { kid, x: ed.public_key().as_ref().to_vec() },
        }
    }

    /// Parses a public JWK (RFC 7517 §4): RSA (RFC 7518 §6.3.1), EC P-256
    /// (§6.2.1) or OKP Ed25519 (RFC 8037 §2). Private members, symmetric keys,
    /// other curves and keys not meant for signatures are refused.
    pub fn from_jwk(jwk: &Value) -> Result<VerifyKey, JoseError> {
        let obj = jwk.as_object().ok_or(JoseError::Malformed("a JWK is a JSON object"))?;
        let member = |name: &str| obj.get(name).and_then(Value::as_str);
        let bytes = |name: &'static str| -> Result<Vec<u8>, JoseError> {
            b64_decode(member(name).ok_or(JoseError::Malformed("a JWK member is missing"))?)
        };
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| obj.contains_key(*m)) {
            return Err(JoseError::BadKey("the JWK has private or symmetric key material".into()));
        }
        if member("use").is_some_and(|u| u != "sig") {
            return Err(JoseError::BadKey("the JWK is not a signature key (use is not sig)".into()));
        }
        let kid = member("kid").map(str::to_owned);
        let alg = member("alg").map(str::parse::<JwtAlg>).transpose().map_err(JoseError::BadKey)?;
        match member("kty") {
            Some("RSA") => {
                if alg.is_some_and(|a| !matches!(a, JwtAlg::Rs256 | JwtAlg::Ps256)) {
                    return Err(JoseError::BadKey("an RSA JWK with a non-RSA alg".into()));
                }
                let (n, e) = (bytes("n")?, bytes("e")?);
                if strip_leading_zeros(&n).len() < 256 {
                    return Err(JoseError::BadKey("RSA keys shorter than 2048 bits are refused".into()));
                }
                Ok(VerifyKey::Rsa { kid, alg, n, e })
            }
            Some("EC") => {
                if member("crv") != Some("P-256") || alg.is_some_and(|a| a != JwtAlg::Es256) {
                    return Err(JoseError::BadKey("only P-256 EC keys (ES256) are supported".into()));
                }
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::BadKey("P-256 coordinates are 32 bytes".into()));
                }
                Ok(VerifyKey::Ec { kid, x, y })
            }
            Some("OKP") => {
                if member("crv") != Some("Ed25519") || alg.is_some_and(|a| a != JwtAlg::EdDsa) {
                    return Err(JoseError::BadKey("only Ed25519 OKP keys (EdDSA) are supported".into()));
                }
                let x = bytes("x")?;
                if x.len() != 32 {
                    return Err(JoseError::BadKey("an Ed25519 public key is 32 bytes".into()));
                }
                Ok(VerifyKey::Ed { kid, x })
            }
            _ => Err(JoseError::BadKey("unsupported key type (kty)".into())),
        }
    }

    fn kid(&self) -> Option<&str> {
        match self {
            VerifyKey::Rsa { kid, .. } | VerifyKey::Ec { kid, .. } | VerifyKey::Ed { kid, .. } => kid.as_deref(),
            VerifyKey::Hmac(_) => None,
        }
    }

    /// Whether the signature over `input` verifies with this key under `alg`;
    /// false when the key's type does not belong to `alg`.
    fn verifies(&self, alg: JwtAlg, input: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (VerifyKey::Rsa { alg: key_alg, n, e, .. }, JwtAlg::Rs256 | JwtAlg::Ps256) => {
                if key_alg.is_some_and(|k| k != alg) {
                    return false;
                }
                let params = if alg == JwtAlg::Ps256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                signature::RsaPublicKeyComponents { n, e }.verify(params, input, sig).is_ok()
            }
            (VerifyKey::Ec { x, y, .. }, JwtAlg::Es256) => {
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(input, sig).is_ok()
            }
            (VerifyKey::Ed { x, .. }, JwtAlg::EdDsa) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(input, sig).is_ok()
            }
            (VerifyKey::Hmac(secret), JwtAlg::Hs256) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::verify(&key, input, sig).is_ok()
            }
            _ => false,
        }
    }
}

/// Verifies a compact JWS against `keys`, accepting only `allowed_algs`
/// (never `none`). A key is tried only for the algorithms of its type, and
/// only when its kid matches the token's (when both have one).
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
    let alg_name = header.get("alg").and_then(Value::as_str).ok_or(JoseError::Malformed("no alg"))?;
    if !allowed_algs.contains(&alg_name) {
        return Err(JoseError::AlgNotAllowed(alg_name.to_owned()));
    }
    let alg: JwtAlg = alg_name.parse().map_err(|_| JoseError::AlgNotAllowed(alg_name.to_owned()))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let sig = b64_decode(s)?;
    let input = &token.as_bytes()[..h.len() + 1 + p.len()];
    let candidates = keys.iter().filter(|k| match (kid, k.kid()) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    });
    let mut tried = false;
    for k in candidates {
        tried = true;
        if k.verifies(alg, input, &sig) {
            let claims: Map<String, Value> = serde_json::from_slice(&b64_decode(p)?)
                .map_err(|_| JoseError::Malformed("payload is not a JSON object"))?;
            return Ok(Verified { header, claims });
        }
    }
    Err(if tried { JoseError::BadSignature } else { JoseError::UnknownKey })
}

/// The left half of the hash of `value` named by `alg`, base64url: `at_hash`
/// and `c_hash` (OpenID Connect Core 1.0 §3.1.3.6, §3.3.2.11). SHA-256 for the
/// 256-bit algorithms; for EdDSA with Ed25519, SHA-512, as the OpenID
/// Foundation resolved for Ed25519 (the hash Ed25519 itself uses).
pub fn half_hash(alg: JwtAlg, value: &str) -> String {
    match alg {
        JwtAlg::EdDsa => {
            let d = ring::digest::digest(&ring::digest::SHA512, value.as_bytes());
            b64(&d.as_ref()[..32])
        }
        _ => {
            let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
            b64(&d.as_ref()[..16])
        }
    }
}

/// The keys of a realm, parsed once: the newest active key of each algorithm
/// signs, and the JWKS document of every published key is serialized ahead
/// of time.
#[derive(Debug)]
pub struct KeySet {
    active: Vec<SigningKey>,
    published: Vec<VerifyKey>,
    jwks_json: String,
}

impl KeySet {
    /// Builds the key set from stored records at `now`: active keys and
    /// retired keys still inside their `published_until` are published;
    /// revoked keys never are. The newest active key of each algorithm signs.
    pub fn from_records(records: &[KeyRecord], now: UnixTime) -> Result<KeySet, JoseError> {
        let mut sorted: Vec<&KeyRecord> = records
            .iter()
            .filter(|r| match r.state {
                KeyState::Active => true,
                KeyState::Retired => r.published_until.is_none_or(|t| t > now),
                KeyState::Revoked => false,
            })
            .collect();
        sorted.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        let mut active: Vec<SigningKey> = Vec::new();
        let mut jwks = Vec::new();
        let mut published = Vec::new();
        for rec in sorted {
            let key = SigningKey::from_record(rec)?;
            jwks.push(key.public_jwk().clone());
            published.push(VerifyKey::from_signing(&key));
            if rec.state == KeyState::Active && !active.iter().any(|a| a.alg == key.alg) {
                active.push(key);
            }
        }
        let jwks_json = serde_json::to_string(&json!({ "keys": jwks })).unwrap_or_default();
        Ok(KeySet { active, published, jwks_json })
    }

    /// The key that signs new tokens with `alg`, if the realm has one.
    pub fn active_for(&self, alg: JwtAlg) -> Option<&SigningKey> {
        self.active.iter().find(|k| k.alg == alg)
    }

    /// The RS256 signing key, or the newest active key of any algorithm.
    pub fn active(&self) -> Option<&SigningKey> {
        self.active_for(JwtAlg::Rs256).or_else(|| self.active.first())
    }

    /// The algorithms id_tokens can be signed with: those with an active key, and HS256.
    pub fn algs(&self) -> Vec<JwtAlg> {
        let mut out: Vec<JwtAlg> = JwtAlg::ALL.into_iter().filter(|a| self.active_for(*a).is_some()).collect();
        out.push(JwtAlg::Hs256);
        out
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
