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

impl Digest {
    /// The digest of `value`.
    pub fn of(value: &str) -> Digest {
        let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
        Digest(URL_SAFE_NO_PAD.encode(d.as_ref()))
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
}
