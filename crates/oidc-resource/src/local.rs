//! The in-process check, for programs that embed `oidc-core` and a store:
//! the token is looked up by digest in the repositories, as UserInfo does,
//! so revocation and logout take effect at once, with no HTTP round trip
//! (what the seed's `protected_resource_view` decorator does in Django).

use oidc_core::ids::RealmName;
use oidc_core::repo::TokenRepo;
use oidc_core::time::UnixTime;
use serde_json::{Map, Value, json};

use crate::{AuthError, Principal};

/// Checks `token` of `realm` against the stored access tokens at `now`: it
/// must be stored (not revoked), unexpired and carry every scope of
/// `required` (RFC 6750 §3.1). JWT and opaque tokens alike.
pub async fn check(
    repos: &dyn TokenRepo,
    realm: &str,
    token: &str,
    required: &[&str],
    now: UnixTime,
) -> Result<Principal, AuthError> {
    let digest = oidc_core::secret::Digest::of(token);
    let found = repos
        .access_token_with_user(RealmName::new(realm), &digest)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    let (record, user) = match found {
        Some((r, u)) => (Some(r), u),
        None => (None, None),
    };
    let record = oidc_core::userinfo::check_access_token(record, &[], now)
        .map_err(|e| AuthError::InvalidToken(e.description))?;
    if record.user_id.is_some() && !user.as_ref().is_some_and(|u| u.active) {
        return Err(AuthError::InvalidToken("the user of this token is not active".into()));
    }
    let mut claims = Map::new();
    claims.insert("aud".into(), json!(record.aud()));
    claims.insert("scope".into(), Value::from(record.scope.to_string()));
    let principal = Principal {
        subject: record.user_id.clone().unwrap_or_else(|| record.client_id.clone()),
        client_id: record.client_id.clone(),
        scopes: record.scope.iter().map(str::to_owned).collect(),
        expires_at: record.expires_at,
        claims,
    };
    crate::require_scopes(principal, required)
}
