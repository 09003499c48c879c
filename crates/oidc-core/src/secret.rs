//! Secret values: redacted in `Debug`, compared in constant time, stored only as digests.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// Compares two byte strings in constant time (for equal lengths).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The SHA-256 digest of a secret, base64url: the only form in which codes,
/// tokens and sessions are stored.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Digest(pub String);

/// How many hex digits of issue order start a value of
/// [`crate::rand::ordered_token`].
pub const ORDER_PREFIX: usize = 18;

/// The length of a value of [`crate::rand::ordered_token`]: the prefix, then
/// 32 random bytes in base64url.
const ORDERED_LEN: usize = ORDER_PREFIX + 43;

/// The protected header of an ordered JWS (the refresh token's envelope),
/// around its issue order: `{"alg":"HS256","typ":"JWT","ord":"<18 hex>"}`.
/// `ord` is a header parameter of this provider's own; a JWT library ignores it.
const ORDERED_HEADER: (&str, &str) = (r#"{"alg":"HS256","typ":"JWT","ord":""#, r#""}"#);

/// The header of an ordered HS256 JWS for issue order `order`
/// ([`crate::rand::issue_order`]).
pub(crate) fn ordered_jws_header(order: &str) -> String {
    format!("{}{order}{}", ORDERED_HEADER.0, ORDERED_HEADER.1)
}

/// The issue order a value carries, if it has one of the two ordered shapes:
/// an [`crate::rand::ordered_token`], or a JWS whose protected header is
/// [`ordered_jws_header`]'s.
fn order_of(value: &str) -> Option<[u8; ORDER_PREFIX]> {
    let order = |b: &[u8]| -> Option<[u8; ORDER_PREFIX]> {
        let digits: [u8; ORDER_PREFIX] = b.try_into().ok()?;
        digits.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')).then_some(digits)
    };
    let bytes = value.as_bytes();
    if bytes.len() == ORDERED_LEN {
        return order(&bytes[..ORDER_PREFIX]);
    }
    let (header, _) = value.split_once('.')?;
    // The header's exact length in base64url, checked before decoding anything.
    let json_len = ORDERED_HEADER.0.len() + ORDER_PREFIX + ORDERED_HEADER.1.len();
    if header.len() != (json_len * 4).div_ceil(3) {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(header).ok()?;
    order(json.strip_prefix(ORDERED_HEADER.0.as_bytes())?.strip_suffix(ORDERED_HEADER.1.as_bytes())?)
}

impl Digest {
    /// The digest of `value`: the SHA-256 of the value, base64url; for a value
    /// that carries an issue order (an [`crate::rand::ordered_token`], or a
    /// refresh token whose JWS header has `ord`), that order and then the
    /// digest, so that rows keyed by it are inserted in issue order.
    ///
    /// Values issued before ordered tokens (43 characters, or JWTs without
    /// `ord`) never have either shape, so they keep their plain digest and
    /// are still found.
    /// The prefix is public (it is part of the value the client holds); the
    /// lookup stays one of equality on a digest of a 256-bit secret.
    pub fn of(value: &str) -> Digest {
        let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
        match order_of(value) {
            Some(order) => {
                let mut key = String::with_capacity(ORDER_PREFIX + 43);
                key.extend(order.iter().map(|&c| char::from(c)));
                URL_SAFE_NO_PAD.encode_string(d.as_ref(), &mut key);
                Digest(key)
            }
            None => Digest(URL_SAFE_NO_PAD.encode(d.as_ref())),
        }
    }

    /// The digest as text, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` prints `[redacted]`; the value is reached only through `secret()`.
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: String) -> Self {
                $name(value)
            }

            /// The secret value itself. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// The SHA-256 digest under which this secret is stored.
            pub fn digest(&self) -> Digest {
                Digest::of(&self.0)
            }

            /// Compares with `other` in constant time.
            pub fn ct_eq(&self, other: &str) -> bool {
                ct_eq(self.0.as_bytes(), other.as_bytes())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A client secret (RFC 6749 §2.3.1).
    ClientSecret
);
secret_type!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_type!(
    /// An opaque access token (RFC 6749 §1.4, RFC 6750).
    AccessToken
);
secret_type!(
    /// A refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_type!(
    /// The value of a login session cookie.
    SessionToken
);
secret_type!(
    /// A user's password in clear, as typed.
    Password
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1).
    CodeVerifier
);

impl Clone for ClientSecret {
    fn clone(&self) -> Self {
        ClientSecret(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert!(!format!("{:?}", Password::new("pw".into())).contains("pw\""));
    }

    #[test]
    fn digest_is_sha256_base64url() {
        // SHA-256("abc") = ba7816bf...; base64url without padding.
        assert_eq!(Digest::of("abc").0, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn ordered_values_keep_their_prefix_in_front_of_the_digest() {
        let random = "A".repeat(43);
        let value = format!("0065f0c1a2{:08x}{random}", 7);
        let plain = Digest::of(&value).0;
        assert_eq!(plain.len(), ORDER_PREFIX + 43);
        assert_eq!(plain[..ORDER_PREFIX], value[..ORDER_PREFIX]);
        let sha = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
        assert_eq!(plain[ORDER_PREFIX..], URL_SAFE_NO_PAD.encode(sha.as_ref()), "the digest is of the whole value");
        // Values of another shape keep the plain digest: tokens issued before,
        // JWTs, an upper-case or non-hex prefix, one character more or less.
        for other in [
            random.clone(),
            format!("0065F0C1A2{:08x}{random}", 7),
            format!("0065f0c1a2{:08x}{random}", 7).replacen('0', "g", 1),
            format!("0065f0c1a2{:08x}{random}A", 7),
            format!("0065f0c1a2{:08x}{}", 7, &random[1..]),
        ] {
            let sha = ring::digest::digest(&ring::digest::SHA256, other.as_bytes());
            assert_eq!(Digest::of(&other).0, URL_SAFE_NO_PAD.encode(sha.as_ref()), "{other}");
        }
    }

    #[test]
    fn ordered_refresh_envelopes_keep_their_order_in_front_of_the_digest() {
        let order = "0065f0c1a200000007";
        let jws = crate::jose::sign_hs256_ordered(&serde_json::Map::new(), b"k", order);
        let header = URL_SAFE_NO_PAD.decode(jws.split('.').next().unwrap_or_default()).unwrap_or_default();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap_or_default();
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT", "ord": order}), "a valid JOSE header");
        let key = Digest::of(&jws).0;
        let sha = ring::digest::digest(&ring::digest::SHA256, jws.as_bytes());
        assert_eq!(key, format!("{order}{}", URL_SAFE_NO_PAD.encode(sha.as_ref())));
        // A JWS without `ord`, with an upper-case or short order, or another
        // header keeps the plain digest.
        let plain =
            |v: &str| URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, v.as_bytes()).as_ref());
        for other in [
            crate::jose::sign_hs256(&serde_json::Map::new(), b"k"),
            crate::jose::sign_hs256_ordered(&serde_json::Map::new(), b"k", "0065F0C1A200000007"),
            crate::jose::sign_hs256_ordered(&serde_json::Map::new(), b"k", "0065f0c1a20000007"),
            crate::jose::sign_hs256_ordered(&serde_json::Map::new(), b"k", "0065f0c1a2000000077"),
            format!("{}.e30.x", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWS","ord":"0065f0c1a200000007"}"#)),
            "not.a.jwt".to_owned(),
        ] {
            assert_eq!(Digest::of(&other).0, plain(&other), "{other}");
        }
    }
}
