//! Realm roles: their definitions, and the roles a token may carry
//! (Keycloak's realm roles, role scope mappings and `realm_access` claim).
//!
//! Keycloak Server Administration Guide, "Assigning permissions using roles
//! and groups" (realm roles), "Role scope mappings" (a client without full
//! scope gets only the roles mapped to it) and "Client scopes" (the `roles`
//! client scope puts them in tokens as `realm_access.roles`).

use serde_json::{Map, Value, json};

use crate::model::ClientSettings;
use crate::scope::Scope;

/// The scope whose grant puts `realm_access` in id_tokens and UserInfo
/// (Keycloak's `roles` client scope).
pub const ROLES_SCOPE: &str = "roles";

/// The claim that carries realm roles, as Keycloak names it.
pub const REALM_ACCESS: &str = "realm_access";

/// A realm role an operator defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDef {
    /// The role's name, as tokens carry it.
    pub name: String,
    /// What holding it means, for operators.
    pub description: String,
}

/// The roles of the client registration service, which every realm has
/// (Keycloak's `create-client`, `manage-clients` and `view-clients`).
pub const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("create-client", "Register new clients through the client registration service"),
    ("manage-clients", "Create, read, update and delete any client through the client registration service"),
    ("view-clients", "Read any client through the client registration service"),
];

/// Whether `name` is one of the [`BUILTIN_ROLES`].
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_ROLES.iter().any(|(n, _)| *n == name)
}

/// The longest role name.
pub const MAX_NAME_LEN: usize = 100;
/// The longest role description.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// Checks a role name: 1 to [`MAX_NAME_LEN`] letters, digits, `-`, `_`, `:` or `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    {
        return Err(format!(
            "role '{}' must be 1 to {MAX_NAME_LEN} letters, digits, '-', '_', ':' or '.'",
            name.escape_default()
        ));
    }
    Ok(())
}

/// Checks a new role definition: a valid name that is not built in, and a
/// description of at most [`MAX_DESCRIPTION_LEN`] characters without control characters.
pub fn check_new(def: &RoleDef) -> Result<(), String> {
    check_name(&def.name)?;
    if is_builtin(&def.name) {
        return Err(format!("role '{}' is built in and always exists", def.name));
    }
    if def.description.chars().count() > MAX_DESCRIPTION_LEN || def.description.chars().any(char::is_control) {
        return Err(format!("a role description is at most {MAX_DESCRIPTION_LEN} characters, on one line"));
    }
    Ok(())
}

/// Checks that `name` may be granted: a built-in role or one of `defined`.
pub fn check_grantable(name: &str, defined: &[RoleDef]) -> Result<(), String> {
    check_name(name)?;
    if is_builtin(name) || defined.iter().any(|d| d.name == name) {
        return Ok(());
    }
    Err(format!("role '{name}' is not defined in this realm (create it with `oidc role create {name}`)"))
}

/// The roles a token of `client` may carry for a holder of `held` (Keycloak's
/// "Role scope mappings"): all of them when the client has full scope,
/// otherwise only those in its role scope. Sorted, without duplicates.
pub fn token_roles(held: &[String], client: &ClientSettings) -> Vec<String> {
    let mut out: Vec<String> = held
        .iter()
        .filter(|r| client.full_scope_allowed || client.role_scope.iter().any(|s| s == *r))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Keycloak's `realm_access` claim, `{"roles": [...]}`, for `roles`; `None`
/// when there are none (Keycloak then leaves the claim out).
pub fn realm_access(roles: &[String]) -> Option<Value> {
    (!roles.is_empty()).then(|| json!({ "roles": roles }))
}

/// Adds `realm_access` to a token's `claims` when `scope` grants
/// [`ROLES_SCOPE`], with the roles of `held` that `client` may carry; the one
/// call an id_token, UserInfo response or JWT access token needs.
pub fn add_realm_access(claims: &mut Map<String, Value>, scope: &Scope, held: &[String], client: &ClientSettings) {
    if !scope.contains(ROLES_SCOPE) {
        return;
    }
    if let Some(v) = realm_access(&token_roles(held, client)) {
        claims.insert(REALM_ACCESS.into(), v);
    }
}

#[cfg(test)]
mod tests;
