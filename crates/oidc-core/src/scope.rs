//! Scopes (RFC 6749 §3.3) and the standard scopes of OpenID Connect Core 1.0 §5.4.

use std::fmt;

use crate::params;

/// A set of scope tokens, in request order without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-delimited scope (RFC 6749 §3.3). Each token must be
    /// `%x21 / %x23-5B / %x5D-7E`; an invalid character is an error. At most
    /// [`params::MAX_WORDS`] tokens of at most [`params::MAX_WORD_LEN`] bytes:
    /// the parse is linear in the input and stops at the first excess.
    pub fn parse(s: &str) -> Result<Scope, String> {
        let words = params::words("scope", s)?;
        for tok in &words {
            if !tok.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
                return Err(format!(
                    "scope token '{}' has a character RFC 6749 §3.3 does not allow",
                    tok.escape_default()
                ));
            }
        }
        Ok(Scope::from_tokens(words))
    }

    /// A scope from tokens known to be valid, duplicates dropped (first wins).
    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Scope {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<String> = Vec::new();
        for t in tokens {
            let t = t.into();
            if seen.insert(t.clone()) {
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
        let theirs: std::collections::HashSet<&str> = other.iter().collect();
        self.iter().all(|t| theirs.contains(t))
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
    // Keycloak's `roles` client scope ("Client scopes" in its Server
    // Administration Guide): the realm roles a token may carry, as
    // `realm_access.roles` (see `crate::roles`), not a user claim.
    ScopeInfo {
        scope: crate::roles::ROLES_SCOPE,
        name: "User roles",
        description: "Access to the roles you hold in this realm.",
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

/// A scope defined by the operator or an embedder, beyond the standard ones
/// (the seed's `OIDC_EXTRA_SCOPE_CLAIMS`, with its `info_<scope>` name and
/// description and its `scope_<scope>` claims).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeDef {
    /// The scope token.
    pub name: String,
    /// A short name for the consent page.
    pub display_name: String,
    /// A sentence for the consent page.
    pub description: String,
    /// The claims it releases: standard claim names take the standard
    /// values; any other name is read from the user's attributes.
    pub claims: Vec<String>,
}

/// What the consent page shows for a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeView {
    /// The scope token.
    pub scope: String,
    /// A short name.
    pub name: String,
    /// A sentence describing what the client gets.
    pub description: String,
}

/// The scopes a realm knows: the standard ones of OIDC Core §5.4, always,
/// plus custom ones. Defining custom scopes never drops the standard claims.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeRegistry {
    custom: Vec<ScopeDef>,
}

/// The claims every id_token may carry besides the scope claims, and
/// `realm_access`, which the `roles` scope fills from role grants (never from
/// user attributes).
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "sid",
    "acr",
    "amr",
    crate::roles::REALM_ACCESS,
];

impl ScopeRegistry {
    /// A registry with `custom` scopes besides the standard ones. A custom
    /// scope may not redefine a standard one, repeat a name, or use a token
    /// RFC 6749 §3.3 does not allow.
    pub fn new(custom: Vec<ScopeDef>) -> Result<ScopeRegistry, String> {
        for (i, d) in custom.iter().enumerate() {
            let parsed = Scope::parse(&d.name)?;
            if parsed.iter().count() != 1 || parsed.iter().next() != Some(d.name.as_str()) {
                return Err(format!("scope name '{}' must be a single scope token (RFC 6749 §3.3)", d.name));
            }
            if standard_scope(&d.name).is_some() {
                return Err(format!("scope '{}' is a standard scope and cannot be redefined", d.name));
            }
            if custom[..i].iter().any(|o| o.name == d.name) {
                return Err(format!("scope '{}' is defined twice", d.name));
            }
            if let Some(c) =
                d.claims.iter().find(|c| c.is_empty() || PROTOCOL_CLAIMS.contains(&c.as_str()) || *c == "sub")
            {
                return Err(format!("scope '{}' cannot release the claim '{c}'", d.name));
            }
        }
        Ok(ScopeRegistry { custom })
    }

    /// The custom scopes.
    pub fn custom(&self) -> &[ScopeDef] {
        &self.custom
    }

    /// Whether `name` is a standard or custom scope.
    pub fn is_known(&self, name: &str) -> bool {
        standard_scope(name).is_some() || self.custom.iter().any(|d| d.name == name)
    }

    /// What the consent page shows for `scope`'s tokens (`openid` left out).
    pub fn consent_views(&self, scope: &Scope) -> Vec<ScopeView> {
        scope
            .iter()
            .filter(|s| *s != "openid")
            .filter_map(|s| {
                if let Some(i) = standard_scope(s) {
                    return Some(ScopeView {
                        scope: i.scope.into(),
                        name: i.name.into(),
                        description: i.description.into(),
                    });
                }
                self.custom.iter().find(|d| d.name == s).map(|d| ScopeView {
                    scope: d.name.clone(),
                    name: d.display_name.clone(),
                    description: d.description.clone(),
                })
            })
            .collect()
    }

    /// Every scope, standard first (Discovery `scopes_supported`).
    pub fn scopes_supported(&self) -> Vec<String> {
        STANDARD_SCOPES.iter().map(|s| s.scope.to_owned()).chain(self.custom.iter().map(|d| d.name.clone())).collect()
    }

    /// Every claim the provider may release (Discovery `claims_supported`).
    pub fn claims_supported(&self) -> Vec<String> {
        let mut out: Vec<String> = PROTOCOL_CLAIMS.iter().map(|c| (*c).to_owned()).collect();
        let all = STANDARD_SCOPES
            .iter()
            .flat_map(|s| s.claims.iter().copied())
            .chain(self.custom.iter().flat_map(|d| d.claims.iter().map(String::as_str)));
        for c in all {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_owned());
            }
        }
        out
    }

    /// Whether `claim` is a user claim some scope releases (so it may be
    /// asked for individually, OIDC Core §5.5).
    pub fn is_user_claim(&self, claim: &str) -> bool {
        claim == "sub"
            || STANDARD_SCOPES.iter().any(|s| s.claims.contains(&claim))
            || self.custom.iter().any(|d| d.claims.iter().any(|c| c == claim))
    }

    /// The claims `scope` releases, in scope order, without duplicates.
    pub fn claims_of(&self, scope: &Scope) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in scope.iter() {
            let claims: Vec<&str> = match standard_scope(s) {
                Some(i) => i.claims.to_vec(),
                None => self
                    .custom
                    .iter()
                    .find(|d| d.name == s)
                    .map(|d| d.claims.iter().map(String::as_str).collect())
                    .unwrap_or_default(),
            };
            for c in claims {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }
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

    fn custom(name: &str, claims: &[&str]) -> ScopeDef {
        ScopeDef {
            name: name.into(),
            display_name: format!("{name} info"),
            description: format!("Access to your {name}."),
            claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn custom_scopes_add_to_the_standard_ones_oidc_core_5_4() {
        let r = ScopeRegistry::new(vec![custom("employee", &["employee_id", "department", "email"])]).unwrap();
        assert!(r.is_known("employee") && r.is_known("email") && !r.is_known("nope"));
        let s = Scope::parse("openid profile employee").unwrap();
        let claims = r.claims_of(&s);
        assert!(claims.contains(&"given_name") && claims.contains(&"employee_id") && claims.contains(&"email"));
        let views = r.consent_views(&s);
        assert_eq!(views.iter().map(|v| v.scope.as_str()).collect::<Vec<_>>(), ["profile", "employee"]);
        assert_eq!(views[1].name, "employee info");
        assert!(r.scopes_supported().starts_with(&["openid".to_owned()]));
        assert!(r.scopes_supported().contains(&"employee".to_owned()));
        let supported = r.claims_supported();
        for c in ["department", "email", "address", "c_hash", "sub"] {
            assert!(supported.iter().any(|x| x == c), "{c}");
        }
        assert!(r.is_user_claim("department") && r.is_user_claim("phone_number") && !r.is_user_claim("iss"));
    }

    #[test]
    fn bad_custom_scopes_are_refused() {
        assert!(ScopeRegistry::new(vec![custom("email", &["x"])]).unwrap_err().contains("standard"));
        assert!(ScopeRegistry::new(vec![custom("a b", &["x"])]).is_err());
        assert!(ScopeRegistry::new(vec![custom("a\"", &["x"])]).is_err());
        assert!(ScopeRegistry::new(vec![custom("x", &["a"]), custom("x", &["b"])]).unwrap_err().contains("twice"));
        assert!(ScopeRegistry::new(vec![custom("x", &["iss"])]).unwrap_err().contains("iss"));
        assert!(ScopeRegistry::new(vec![custom("x", &["sub"])]).is_err());
    }

    #[test]
    fn standard_scopes_have_the_seed_claims_oidc_core_5_4() {
        assert_eq!(standard_scope("email").unwrap().claims, &["email", "email_verified"]);
        assert_eq!(standard_scope("address").unwrap().claims, &["address"]);
        assert_eq!(standard_scope("profile").unwrap().claims.len(), 14);
        assert!(standard_claims().contains(&"phone_number_verified"));
    }

    #[test]
    fn roles_is_a_known_scope_releasing_no_user_claim_keycloak_client_scopes() {
        let r = ScopeRegistry::default();
        assert!(r.is_known("roles"));
        assert!(r.scopes_supported().contains(&"roles".to_owned()));
        assert!(r.claims_supported().contains(&"realm_access".to_owned()));
        let views = r.consent_views(&Scope::parse("openid roles").unwrap());
        assert_eq!(views[0].name, "User roles");
        // realm_access comes from role grants, never from a user attribute.
        assert!(r.claims_of(&Scope::parse("roles").unwrap()).is_empty());
        assert!(!r.is_user_claim("realm_access"));
        assert!(ScopeRegistry::new(vec![custom("x", &["realm_access"])]).is_err());
        assert!(ScopeRegistry::new(vec![custom("roles", &["x"])]).unwrap_err().contains("standard"));
    }
}
