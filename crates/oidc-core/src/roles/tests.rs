//! Tests of role definitions and of the roles tokens carry (Keycloak Server
//! Administration Guide: "Assigning permissions using roles and groups",
//! "Role scope mappings", "Client scopes").

use serde_json::json;

use super::*;
use crate::model::ClientType;

fn settings(full: bool, scope: &[&str]) -> ClientSettings {
    let mut s = ClientSettings::new("rp", ClientType::Confidential, vec![]);
    s.full_scope_allowed = full;
    s.role_scope = scope.iter().map(|r| (*r).to_owned()).collect();
    s
}

fn held(roles: &[&str]) -> Vec<String> {
    roles.iter().map(|r| (*r).to_owned()).collect()
}

#[test]
fn full_scope_carries_every_role_else_only_the_role_scope_keycloak_role_scope_mappings() {
    let h = held(&["writer", "admin", "reader", "admin"]);
    // Keycloak's fullScopeAllowed: every realm role of the holder.
    assert_eq!(token_roles(&h, &settings(true, &[])), ["admin", "reader", "writer"]);
    // Without full scope, the intersection with the scope mappings.
    assert_eq!(token_roles(&h, &settings(false, &["reader", "auditor"])), ["reader"]);
    assert!(token_roles(&h, &settings(false, &[])).is_empty(), "no mapping, no roles");
    assert!(token_roles(&[], &settings(true, &[])).is_empty());
}

#[test]
fn realm_access_is_keycloaks_claim_and_absent_without_roles() {
    assert_eq!(realm_access(&held(&["a", "b"])), Some(json!({"roles": ["a", "b"]})));
    assert_eq!(realm_access(&[]), None);
}

#[test]
fn add_realm_access_only_under_the_roles_scope_keycloak_client_scopes() {
    let h = held(&["reader", "writer"]);
    let with = Scope::parse("openid roles").unwrap();
    let without = Scope::parse("openid profile").unwrap();
    let mut claims = Map::new();
    add_realm_access(&mut claims, &without, &h, &settings(true, &[]));
    assert!(claims.is_empty(), "the roles scope was not granted");
    add_realm_access(&mut claims, &with, &h, &settings(false, &["writer"]));
    assert_eq!(claims[REALM_ACCESS], json!({"roles": ["writer"]}));
    let mut claims = Map::new();
    add_realm_access(&mut claims, &with, &h, &settings(false, &["other"]));
    assert!(!claims.contains_key(REALM_ACCESS), "no role passes the role scope");
}

#[test]
fn definitions_names_and_grants_are_checked() {
    let defined = vec![RoleDef { name: "reader".into(), description: "Reads".into() }];
    assert!(check_grantable("reader", &defined).is_ok());
    // The registration service's roles always exist.
    for (b, _) in BUILTIN_ROLES {
        assert!(check_grantable(b, &[]).is_ok(), "{b}");
    }
    assert!(check_grantable("writer", &defined).unwrap_err().contains("not defined"));
    assert!(check_grantable("bad role", &defined).unwrap_err().contains("must be"));
    assert!(check_name(&"r".repeat(MAX_NAME_LEN)).is_ok());
    assert!(check_name(&"r".repeat(MAX_NAME_LEN + 1)).is_err());
    assert!(check_name("").is_err());
    let new = |name: &str, description: &str| RoleDef { name: name.into(), description: description.into() };
    assert!(check_new(&new("app:reader", "Reads the app")).is_ok());
    assert!(check_new(&new("create-client", "")).unwrap_err().contains("built in"));
    assert!(check_new(&new("x", "two\nlines")).is_err());
    assert!(check_new(&new("x", &"d".repeat(MAX_DESCRIPTION_LEN + 1))).is_err());
}
