//! Subject identifiers (OpenID Connect Core 1.0 §8): public, the same for
//! every client, or pairwise, different per sector so that clients cannot
//! correlate users (§8.1). The seed's `OIDC_IDTOKEN_SUB_GENERATOR`.

use std::fmt;
use std::str::FromStr;

use crate::model::{Client, User};

/// The `subject_type` of a client (OIDC Registration §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectType {
    /// The user's stable id, the same for every client.
    #[default]
    Public,
    /// A value per sector identifier (OIDC Core §8.1).
    Pairwise,
}

impl SubjectType {
    /// Every subject type (OIDC Core §8).
    pub const ALL: [SubjectType; 2] = [SubjectType::Public, SubjectType::Pairwise];

    /// `public` or `pairwise`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Public => "public",
            SubjectType::Pairwise => "pairwise",
        }
    }
}

impl fmt::Display for SubjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubjectType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(SubjectType::Public),
            "pairwise" => Ok(SubjectType::Pairwise),
            _ => Err(format!("unknown subject type '{s}' (expected public or pairwise)")),
        }
    }
}

/// The sector identifier of a pairwise client (OIDC Core §8.1): the host of
/// its `sector_identifier_uri`, or else the one host all its redirect URIs
/// share. Redirect URIs on several hosts need a sector_identifier_uri, and so
/// do private-use schemes (RFC 8252 §7.1) and loopback addresses, which anyone
/// can register: the sector is never derived from a URI the registrant cannot
/// be said to control, so nobody can pair someone else's https redirect URI
/// with their own app scheme to get that party's subjects.
pub fn sector_identifier(redirect_uris: &[String], sector_identifier_uri: Option<&str>) -> Result<String, String> {
    if let Some(uri) = sector_identifier_uri {
        let u = crate::uri::parse(uri).map_err(|e| format!("sector_identifier_uri: {e}"))?;
        if u.scheme() != "https" {
            return Err("sector_identifier_uri must be an https URL (OIDC Registration §2)".into());
        }
        return u.host().ok_or_else(|| "sector_identifier_uri has no host".into());
    }
    let mut parties = std::collections::BTreeSet::new();
    for r in redirect_uris {
        let u = crate::uri::parse(r).map_err(|e| format!("redirect {e}"))?;
        match u.host() {
            Some(h) if !u.is_loopback(true) => parties.insert(h),
            _ => {
                return Err(format!(
                    "redirect URI '{}' names no host of its own (a private-use scheme or loopback): a pairwise client needs a sector_identifier_uri (OIDC Core §8.1)",
                    crate::error::shorten(r)
                ));
            }
        };
    }
    let mut parties = parties.into_iter();
    match (parties.next(), parties.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err("a pairwise client needs redirect URIs, or a sector_identifier_uri".into()),
        (Some(_), Some(_)) => Err(
            "the redirect URIs belong to several hosts or apps: a pairwise client needs a sector_identifier_uri (OIDC Core §8.1)"
                .into(),
        ),
    }
}

/// `sub` = base64url(SHA-256(sector_identifier || local_id || salt)), one of
/// the constructions of OIDC Core §8.1. The salt is secret to the provider.
pub fn pairwise_subject(sector: &str, local_id: &str, salt: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(sector.as_bytes());
    ctx.update(local_id.as_bytes());
    ctx.update(salt);
    crate::jose::b64(ctx.finish().as_ref())
}

/// Chooses the `sub` a client sees for a user (the seed's
/// `OIDC_IDTOKEN_SUB_GENERATOR`). `salt` is the realm's secret salt.
pub trait SubjectGenerator: Send + Sync {
    /// The subject identifier of `user` for `client`.
    fn subject(&self, user: &User, client: &Client, salt: &[u8]) -> String;
}

/// The default: the user's id for public clients, a pairwise value for
/// pairwise clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSubjects;

impl SubjectGenerator for DefaultSubjects {
    fn subject(&self, user: &User, client: &Client, salt: &[u8]) -> String {
        match client.subject_type {
            SubjectType::Public => user.id.clone(),
            SubjectType::Pairwise => {
                // A pairwise client was checked to have a sector when it was saved;
                // should that fail, its client_id is the sector, never the public id.
                let sector = sector_identifier(&client.redirect_uris, client.sector_identifier_uri.as_deref())
                    .unwrap_or_else(|_| format!("client:{}", client.client_id));
                pairwise_subject(&sector, &user.id, salt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sector_identifier_is_the_uri_host_or_the_one_redirect_host_oidc_core_8_1() {
        let uris = |u: &[&str]| u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            sector_identifier(&uris(&["https://App.example/cb", "https://app.example/cb2"]), None).unwrap(),
            "app.example"
        );
        assert!(sector_identifier(&uris(&["https://a.example/cb", "https://b.example/cb"]), None).is_err());
        assert_eq!(
            sector_identifier(
                &uris(&["https://a.example/cb", "https://b.example/cb"]),
                Some("https://rp.example/sector.json")
            )
            .unwrap(),
            "rp.example"
        );
        assert!(sector_identifier(&uris(&["https://a/cb"]), Some("http://rp.example/s")).is_err(), "https only");
        assert!(sector_identifier(&uris(&["com.example.app:/cb"]), None).is_err(), "no host");
        assert!(sector_identifier(&uris(&["http://127.0.0.1:8080/cb"]), None).is_err(), "anyone can register loopback");
    }

    #[test]
    fn pairwise_subjects_differ_per_sector_and_salt_and_are_stable() {
        let a = pairwise_subject("a.example", "u1", b"salt");
        assert_eq!(a, pairwise_subject("a.example", "u1", b"salt"));
        assert_ne!(a, pairwise_subject("b.example", "u1", b"salt"));
        assert_ne!(a, pairwise_subject("a.example", "u2", b"salt"));
        assert_ne!(a, pairwise_subject("a.example", "u1", b"pepper"));
        assert_eq!(a.len(), 43, "256 bits, base64url");
        assert_eq!("pairwise".parse::<SubjectType>(), Ok(SubjectType::Pairwise));
        assert!("secret".parse::<SubjectType>().is_err());
    }
}
