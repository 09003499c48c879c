//! Claims by scope for the UserInfo endpoint (OpenID Connect Core 1.0 §5.3, §5.4)
//! and access-token checks for protected resources (RFC 6750).

use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, OAuthError};
use crate::model::{AccessTokenRecord, User};
use crate::scope::Scope;
use crate::secret::AccessToken;
use crate::time::UnixTime;

/// The claims of `user` that `scope` releases, with `sub`; empty values are
/// left out (OIDC Core §5.3.2) and `address` is a JSON object (§5.1.1).
pub fn claims(user: &User, subject: &str, scope: &Scope) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(subject));
    let c = &user.claims;
    let mut put = |name: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            out.insert(name.into(), json!(v));
        }
    };
    if scope.contains("profile") {
        put("name", &c.name);
        put("given_name", &c.given_name);
        put("family_name", &c.family_name);
        put("middle_name", &c.middle_name);
        put("nickname", &c.nickname);
        put("preferred_username", &c.preferred_username.clone().or_else(|| Some(user.username.clone())));
        put("profile", &c.profile);
        put("picture", &c.picture);
        put("website", &c.website);
        put("gender", &c.gender);
        put("birthdate", &c.birthdate);
        put("zoneinfo", &c.zoneinfo);
        put("locale", &c.locale);
        out.insert("updated_at".into(), json!(user.updated_at.secs()));
    }
    if scope.contains("email")
        && let Some(email) = c.email.as_deref().filter(|e| !e.is_empty())
    {
        out.insert("email".into(), json!(email));
        out.insert("email_verified".into(), json!(c.email_verified));
    }
    if scope.contains("phone")
        && let Some(phone) = c.phone_number.as_deref().filter(|e| !e.is_empty())
    {
        out.insert("phone_number".into(), json!(phone));
        out.insert("phone_number_verified".into(), json!(c.phone_number_verified));
    }
    if scope.contains("address") && !c.address.is_empty() {
        let a = &c.address;
        let mut addr = Map::new();
        for (k, v) in [
            ("formatted", &a.formatted),
            ("street_address", &a.street_address),
            ("locality", &a.locality),
            ("region", &a.region),
            ("postal_code", &a.postal_code),
            ("country", &a.country),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                addr.insert(k.into(), json!(v));
            }
        }
        out.insert("address".into(), Value::Object(addr));
    }
    out
}

/// Takes the bearer token from exactly one of the three places RFC 6750 §2
/// allows: the `Authorization: Bearer` header (§2.1), a form body parameter
/// (§2.2), or the `access_token` query parameter (§2.3). More than one is
/// `invalid_request` (§2); none is `Ok(None)`.
pub fn bearer_token(
    authorization: Option<&str>,
    form: Option<&str>,
    query: Option<&str>,
) -> Result<Option<AccessToken>, OAuthError> {
    let header = match authorization {
        None => None,
        Some(h) => {
            let (scheme, value) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || value.trim().is_empty() {
                return Err(OAuthError::invalid_request("the Authorization header is not a Bearer token"));
            }
            Some(value.trim())
        }
    };
    let found: Vec<&str> = [header, form, query].into_iter().flatten().collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(AccessToken::new((*one).to_owned()))),
        _ => Err(OAuthError::invalid_request("the access token was sent in more than one way (RFC 6750 §2)")),
    }
}

/// Checks a looked-up access token: it must exist and be unexpired
/// (`invalid_token`, RFC 6750 §3.1) and carry `required` scope (`insufficient_scope`).
pub fn check_access_token(
    record: Option<AccessTokenRecord>,
    required: &[&str],
    now: UnixTime,
) -> Result<AccessTokenRecord, OAuthError> {
    let Some(rec) = record else {
        return Err(OAuthError::new(ErrorCode::InvalidToken, "the access token is not valid"));
    };
    if rec.expires_at <= now {
        return Err(OAuthError::new(ErrorCode::InvalidToken, "the access token has expired"));
    }
    if let Some(missing) = required.iter().find(|s| !rec.scope.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            format!("the access token lacks the '{missing}' scope"),
        ));
    }
    Ok(rec)
}
