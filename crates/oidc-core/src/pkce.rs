//! Proof Key for Code Exchange (RFC 7636).

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::OAuthError;
use crate::secret::ct_eq;

/// `code_challenge_method` (RFC 7636 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkceMethod {
    /// `plain`: the challenge is the verifier.
    Plain,
    /// `S256`: the challenge is BASE64URL(SHA256(verifier)).
    S256,
}

impl PkceMethod {
    /// Every method (RFC 7636 §4.3).
    pub const ALL: [PkceMethod; 2] = [PkceMethod::Plain, PkceMethod::S256];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::Plain => "plain",
            PkceMethod::S256 => "S256",
        }
    }
}

impl FromStr for PkceMethod {
    type Err = OAuthError;
    fn from_str(s: &str) -> Result<Self, OAuthError> {
        match s {
            "plain" => Ok(PkceMethod::Plain),
            "S256" => Ok(PkceMethod::S256),
            _ => Err(OAuthError::invalid_request(format!(
                "code_challenge_method '{s}' is not supported (use S256 or plain)"
            ))),
        }
    }
}

/// Whether `s` is 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`,
/// the syntax of both code_verifier (RFC 7636 §4.1) and code_challenge (§4.2).
pub fn is_valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// Verifies `verifier` against the stored challenge (RFC 7636 §4.6).
pub fn verify(method: PkceMethod, challenge: &str, verifier: &str) -> Result<(), OAuthError> {
    if !is_valid_pkce_string(verifier) {
        return Err(OAuthError::invalid_grant("code_verifier is malformed (RFC 7636 §4.1)"));
    }
    let computed = match method {
        PkceMethod::Plain => verifier.to_owned(),
        PkceMethod::S256 => s256_challenge(verifier),
    };
    if ct_eq(computed.as_bytes(), challenge.as_bytes()) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge (RFC 7636 §4.6)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256_challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verify(PkceMethod::S256, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", verifier).is_ok());
    }

    #[test]
    fn mismatch_and_malformed_are_invalid_grant_rfc7636_4_6() {
        let v = "a".repeat(43);
        assert!(verify(PkceMethod::Plain, &v, &v).is_ok());
        let e = verify(PkceMethod::Plain, &"b".repeat(43), &v).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidGrant);
        assert!(verify(PkceMethod::Plain, "short", "short").is_err());
        assert!(!is_valid_pkce_string(&"a".repeat(129)));
        assert!(!is_valid_pkce_string(&format!("{}+", "a".repeat(42))));
    }

    #[test]
    fn unknown_method_is_invalid_request() {
        assert_eq!("S512".parse::<PkceMethod>().unwrap_err().code, crate::ErrorCode::InvalidRequest);
    }
}
