//! Scopes (RFC 6749 §3.3) and the standard scopes of OpenID Connect Core 1.0 §5.4.

use std::fmt;

/// A set of scope tokens, in request order without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-delimited scope (RFC 6749 §3.3). Each token must be
    /// `%x21 / %x23-5B / %x5D-7E`; an invalid character is an error.
    pub fn parse(s: &str) -> Result<Scope, String> {
        let mut out: Vec<String> = Vec::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if !tok.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
                return Err(format!(
                    "scope token '{}' has a character RFC 6749 §3.3 does not allow",
                    tok.escape_default()
                ));
            }
            if !out.iter().any(|t| t == tok) {
                out.push(tok.to_owned());
            }
        }
        Ok(Scope(out))
    }

    /// A scope from tokens known to be valid.
    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Scope {
        let mut out: Vec<String> = Vec::new();
        for t in tokens {
            let t = t.into();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Scope(out)
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.iter().all(|t| other.contains(t))
    }

    /// The tokens of `self` for which `keep` is true.
    #[must_use]
    pub fn filter(&self, keep: impl Fn(&str) -> bool) -> Scope {
        Scope(self.0.iter().filter(|t| keep(t)).cloned().collect())
    }

    /// The union of `self` and `other`, `self`'s order first.
    #[must_use]
    pub fn union(&self, other: &Scope) -> Scope {
        Scope::from_tokens(self.iter().chain(other.iter()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// A scope the provider knows, with what the consent page shows for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The scope token.
    pub scope: &'static str,
    /// A short name for the consent page.
    pub name: &'static str,
    /// A sentence describing what the client gets.
    pub description: &'static str,
    /// The claims this scope releases (OIDC Core §5.4).
    pub claims: &'static [&'static str],
}

/// The standard scopes and their claims, as in OpenID Connect Core 1.0 §5.4
/// and django-oidc-provider's table.
pub const STANDARD_SCOPES: &[ScopeInfo] = &[
    ScopeInfo {
        scope: "openid",
        name: "Basic profile",
        description: "Access to your basic information. Includes names, gender, birthdate and other information.",
        claims: &["sub"],
    },
    ScopeInfo {
        scope: "profile",
        name: "Basic profile",
        description: "Access to your basic information. Includes names, gender, birthdate and other information.",
        claims: &[
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    },
    ScopeInfo {
        scope: "email",
        name: "Email",
        description: "Access to your email address.",
        claims: &["email", "email_verified"],
    },
    ScopeInfo {
        scope: "phone",
        name: "Phone number",
        description: "Access to your phone number.",
        claims: &["phone_number", "phone_number_verified"],
    },
    ScopeInfo {
        scope: "address",
        name: "Address information",
        description: "Access to your address. Includes country, locality, street and other information.",
        claims: &["address"],
    },
    ScopeInfo {
        scope: "offline_access",
        name: "Offline access",
        description: "Access to your information while you are not signed in.",
        claims: &[],
    },
];

/// The standard scope named `scope`, if any.
pub fn standard_scope(scope: &str) -> Option<&'static ScopeInfo> {
    STANDARD_SCOPES.iter().find(|s| s.scope == scope)
}

/// Every claim the standard scopes can release, for discovery's `claims_supported`.
pub fn standard_claims() -> Vec<&'static str> {
    let mut out = vec!["iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"];
    for s in STANDARD_SCOPES {
        for c in s.claims {
            if !out.contains(c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_and_keeps_order_rfc6749_3_3() {
        let s = Scope::parse("openid  email openid profile").unwrap();
        assert_eq!(s.to_string(), "openid email profile");
        assert!(s.contains("email"));
        assert!(Scope::parse("openid\"x").is_err());
        assert!(Scope::parse("a\\b").is_err());
    }

    #[test]
    fn standard_scopes_have_the_seed_claims_oidc_core_5_4() {
        assert_eq!(standard_scope("email").unwrap().claims, &["email", "email_verified"]);
        assert_eq!(standard_scope("address").unwrap().claims, &["address"]);
        assert_eq!(standard_scope("profile").unwrap().claims.len(), 14);
        assert!(standard_claims().contains(&"phone_number_verified"));
    }
}
