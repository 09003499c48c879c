//! Claims by scope for the UserInfo endpoint (OpenID Connect Core 1.0 §5.3, §5.4)
//! and access-token checks for protected resources (RFC 6750).

use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, OAuthError};
use crate::model::{AccessTokenRecord, User};
use crate::scope::{Scope, ScopeRegistry};
use crate::secret::AccessToken;
use crate::time::UnixTime;

/// The value of the user claim `name` (OIDC Core §5.1), if the user has one:
/// a standard claim from the user's record, any other name from the user's
/// custom attributes. Empty values count as absent (§5.3.2); `email_verified`
/// and `phone_number_verified` only accompany their claim; `address` is an
/// object (§5.1.1); `preferred_username` falls back to the username.
pub fn claim_value(user: &User, name: &str) -> Option<Value> {
    let c = &user.claims;
    let text = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(|v| json!(v));
    match name {
        "name" => text(&c.name),
        "given_name" => text(&c.given_name),
        "family_name" => text(&c.family_name),
        "middle_name" => text(&c.middle_name),
        "nickname" => text(&c.nickname),
        "preferred_username" => text(&c.preferred_username).or_else(|| Some(json!(user.username))),
        "profile" => text(&c.profile),
        "picture" => text(&c.picture),
        "website" => text(&c.website),
        "gender" => text(&c.gender),
        "birthdate" => text(&c.birthdate),
        "zoneinfo" => text(&c.zoneinfo),
        "locale" => text(&c.locale),
        "updated_at" => Some(json!(user.updated_at.secs())),
        "email" => text(&c.email),
        "email_verified" => text(&c.email).map(|_| json!(c.email_verified)),
        "phone_number" => text(&c.phone_number),
        "phone_number_verified" => text(&c.phone_number).map(|_| json!(c.phone_number_verified)),
        "address" => {
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
                if let Some(v) = text(v) {
                    addr.insert(k.into(), v);
                }
            }
            (!addr.is_empty()).then_some(Value::Object(addr))
        }
        "sub" => None,
        other => user.attributes.get(other).filter(|v| !v.is_null() && v.as_str() != Some("")).cloned(),
    }
}

/// `sub` and the claims named in `names` that the user has.
pub fn claims_for(user: &User, subject: &str, names: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(subject));
    for n in names {
        if let Some(v) = claim_value(user, n) {
            out.insert((*n).to_owned(), v);
        }
    }
    out
}

/// The claims a response releases: those of the granted `scope`, plus the
/// ones asked for individually with the `claims` parameter (OIDC Core §5.5)
/// among the user claims the realm knows.
pub fn released<'a>(registry: &'a ScopeRegistry, scope: &Scope, requested: &[&'a str]) -> Vec<&'a str> {
    released_extra(registry, registry.claims_of(scope), requested)
}

/// `names` plus the individually requested claims among the known user claims.
pub fn released_extra<'a>(registry: &ScopeRegistry, mut names: Vec<&'a str>, requested: &[&'a str]) -> Vec<&'a str> {
    for r in requested {
        if registry.is_user_claim(r) && *r != "sub" && !names.contains(r) {
            names.push(r);
        }
    }
    names
}

/// The claims of `user` that the standard `scope`s release, with `sub`
/// (OIDC Core §5.4).
pub fn claims(user: &User, subject: &str, scope: &Scope) -> Map<String, Value> {
    let registry = ScopeRegistry::default();
    claims_for(user, subject, &registry.claims_of(scope))
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

/// A UserInfo answer (OIDC Core §5.3.2): JSON, or a signed JWT for a client
/// that registered `userinfo_signed_response_alg`.
#[derive(Debug, Clone, PartialEq)]
pub enum UserInfoResponse {
    /// `application/json`.
    Json(Map<String, Value>),
    /// `application/jwt`, with `iss` and `aud`.
    Jwt(String),
}

/// What UserInfo found for a presented access token.
#[derive(Debug)]
pub struct UserInfoInput<'a> {
    /// The access token stored under the presented token's digest, with its
    /// user (`None` when the user is gone), if any.
    pub found: Option<(AccessTokenRecord, Option<User>)>,
    /// The client the token was issued to, if it still exists.
    pub client: Option<&'a crate::model::Client>,
    /// The realm's issuer (`iss` of a signed answer).
    pub issuer: &'a str,
    /// The realm's secret key (salt of pairwise subjects).
    pub realm_secret: &'a [u8],
    /// The scopes and claims the realm knows.
    pub registry: &'a ScopeRegistry,
    /// The subject generator and UserInfo hooks.
    pub hooks: &'a crate::hooks::Hooks,
    /// The realm's keys, for a signed answer.
    pub keys: &'a crate::jose::KeySet,
    /// The user's realm roles; the adapter may leave them out when the
    /// token has no `roles` scope, as nothing reads them then.
    pub roles: &'a [String],
    /// Now.
    pub now: UnixTime,
}

/// The UserInfo rules in one place (OIDC Core §5.3, RFC 6750 §3.1): the token
/// must be stored, unexpired, carry `openid`, have been issued for a user who
/// is active, to a client that is enabled; the claims are those of the scope
/// and of the `claims` parameter (§5.5), then the hooks; a client that
/// registered `userinfo_signed_response_alg` gets a JWT with `iss` and `aud`.
pub fn respond(input: UserInfoInput<'_>) -> Result<UserInfoResponse, OAuthError> {
    let invalid = |d: &str| OAuthError::new(ErrorCode::InvalidToken, d);
    let (record, user) = match input.found {
        Some((r, u)) => (Some(r), u),
        None => (None, None),
    };
    // OIDC Core §5.3: the token must come from an OpenID Connect request.
    let record = check_access_token(record, &["openid"], input.now)?;
    // A client_credentials token has no end-user to describe.
    let Some(user_id) = record.user_id.as_deref() else {
        return Err(invalid("this access token was not issued for a user"));
    };
    let user =
        user.filter(|u| u.active && u.id == user_id).ok_or_else(|| invalid("the user of this token is not active"))?;
    let client = input
        .client
        .filter(|c| c.enabled && c.client_id == record.client_id)
        .ok_or_else(|| invalid("the client of this token is disabled or gone"))?;
    let request = record.claims.as_deref().and_then(|c| crate::claims::ClaimsRequest::parse(c).ok());
    let requested = request.as_ref().map(crate::claims::ClaimsRequest::userinfo_names).unwrap_or_default();
    let names = released(input.registry, &record.scope, &requested);
    let subject = input.hooks.subjects.subject(&user, client, input.realm_secret);
    let mut claims = claims_for(&user, &subject, &names);
    // Keycloak's `roles` client scope: realm_access.roles within the client's role scope.
    crate::roles::add_realm_access(&mut claims, &record.scope, input.roles, client);
    input.hooks.process_userinfo(&mut claims, &user, client, &record.scope);
    let Some(alg) = client.userinfo_signed_response_alg else {
        return Ok(UserInfoResponse::Json(claims));
    };
    // OIDC Core §5.3.2: a signed answer carries iss and aud.
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("aud".into(), json!(client.client_id));
    let signed = match (alg, client.client_secret.as_ref()) {
        (crate::model::JwtAlg::Hs256, Some(secret)) => {
            Some(crate::jose::sign_hs256(&claims, secret.secret().as_bytes()))
        }
        (alg, _) => input.keys.active_for(alg).map(|k| k.sign(&claims)),
    };
    signed
        .map(UserInfoResponse::Jwt)
        .ok_or_else(|| OAuthError::server_error(format!("the realm has no key to sign UserInfo with {}", alg.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_custom_claims_by_scope_oidc_core_5_4() {
        let mut user = crate::authorize::tests::user();
        user.claims.phone_number = Some(String::new());
        user.claims.address.country = Some("NL".into());
        user.attributes.insert("department".into(), json!("R&D"));
        user.attributes.insert("badge".into(), Value::Null);
        let registry = ScopeRegistry::new(vec![crate::scope::ScopeDef {
            name: "work".into(),
            display_name: "Work".into(),
            description: "Your department".into(),
            claims: vec!["department".into(), "badge".into()],
        }])
        .unwrap();
        let scope = Scope::parse("openid email phone address work").unwrap();
        let c = claims_for(&user, "s", &released(&registry, &scope, &[]));
        assert_eq!(c["sub"], "s");
        assert_eq!(c["email"], "alice@example.com");
        assert_eq!(c["email_verified"], true);
        assert!(c.get("phone_number").is_none() && c.get("phone_number_verified").is_none(), "empty values omitted");
        assert_eq!(c["address"], json!({"country": "NL"}));
        assert_eq!(c["department"], "R&D");
        assert!(c.get("badge").is_none(), "null attributes omitted");
        assert!(c.get("given_name").is_none(), "profile was not granted");
        // OIDC Core §5.5: a claim asked for individually, without its scope.
        let c = claims_for(
            &user,
            "s",
            &released(&registry, &Scope::parse("openid").unwrap(), &["preferred_username", "iss", "x"]),
        );
        assert_eq!(c["preferred_username"], "alice");
        assert!(c.get("iss").is_none() && c.get("x").is_none(), "only known user claims");
        let standard = claims(&user, "s", &Scope::parse("openid profile").unwrap());
        assert_eq!(standard["updated_at"], 0);
        assert!(standard.get("department").is_none());
    }
}

#[cfg(test)]
mod respond_tests;
