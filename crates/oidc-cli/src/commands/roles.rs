//! `oidc role`: realm role definitions and their grants (Keycloak Server
//! Administration Guide, "Assigning permissions using roles and groups").

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::model::ClientType;
use oidc_core::repo::{RepoError, Repositories, RoleHolder};
use oidc_core::roles::{self, RoleDef};

use crate::cli::{RoleCommand, RoleHolderArgs};

async fn role_holder(store: &dyn Repositories, realm: &str, h: RoleHolderArgs) -> anyhow::Result<(RoleHolder, String)> {
    if let Some(username) = h.user {
        let u = store
            .user_by_username(RealmName::new(realm), &username)
            .await?
            .ok_or_else(|| anyhow!("no user '{username}'"))?;
        return Ok((RoleHolder::User(u.id), format!("user '{username}'")));
    }
    let id = h.client.ok_or_else(|| anyhow!("name a --user or a --client"))?;
    let c =
        store.client(RealmName::new(realm), ClientId::new(&id)).await?.ok_or_else(|| anyhow!("no client '{id}'"))?;
    if c.client_type != ClientType::Confidential {
        bail!("client '{id}' is public: only confidential clients have a service account");
    }
    Ok((RoleHolder::Client(id.clone()), format!("client '{id}'")))
}

/// Checks that every role of a client's `--role-scope` exists in the realm.
pub(super) async fn check_role_scope(store: &dyn Repositories, realm: &str, names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let defined = store.role_definitions(RealmName::new(realm)).await?;
    for name in names {
        roles::check_grantable(name, &defined).map_err(|e| anyhow!("--role-scope: {e}"))?;
    }
    Ok(())
}

/// How a holder reads in `role list`.
async fn holder_label(store: &dyn Repositories, realm: &str, h: &RoleHolder) -> anyhow::Result<String> {
    Ok(match h {
        RoleHolder::User(id) => match store.user(RealmName::new(realm), UserId::new(id)).await? {
            Some(u) => format!("user {}", u.username),
            None => format!("user id {id}"),
        },
        RoleHolder::Client(id) => format!("client {id}"),
    })
}

pub(super) async fn role_cmd(store: &dyn Repositories, realm: &str, c: RoleCommand) -> anyhow::Result<()> {
    match c {
        RoleCommand::Create { role, description } => {
            let def = RoleDef { name: role, description: description.unwrap_or_default() };
            roles::check_new(&def).map_err(|e| anyhow!(e))?;
            store.define_role(RealmName::new(realm), &def).await.map_err(|e| match e {
                RepoError::Conflict(_) => anyhow!("role '{}' already exists", def.name),
                other => other.into(),
            })?;
            say!("Created role '{}'.", def.name);
        }
        RoleCommand::Delete { role } => {
            if roles::is_builtin(&role) {
                bail!("role '{role}' is built in and cannot be deleted");
            }
            let grants =
                store.role_assignments(RealmName::new(realm)).await?.into_iter().filter(|(_, r)| *r == role).count();
            store.delete_role(RealmName::new(realm), &role).await.map_err(|e| match e {
                RepoError::NotFound(_) => anyhow!("no role '{role}'"),
                other => other.into(),
            })?;
            say!("Deleted role '{role}' and its {grants} grant(s).");
        }
        RoleCommand::Grant { role, holder } => {
            roles::check_grantable(&role, &store.role_definitions(RealmName::new(realm)).await?)
                .map_err(|e| anyhow!(e))?;
            let (h, who) = role_holder(store, realm, holder).await?;
            store.grant_role(RealmName::new(realm), &h, &role).await?;
            say!("Granted '{role}' to {who}.");
        }
        RoleCommand::Revoke { role, holder } => {
            let (h, who) = role_holder(store, realm, holder).await?;
            store.revoke_role(RealmName::new(realm), &h, &role).await.map_err(|e| match e {
                RepoError::NotFound(_) => anyhow!("{who} does not have the role '{role}'"),
                other => other.into(),
            })?;
            say!("Revoked '{role}' from {who}.");
        }
        RoleCommand::List => {
            // Every role of the realm (built in first), its description and who holds it.
            let mut table: BTreeMap<(bool, String), (String, Vec<String>)> = BTreeMap::new();
            for (name, description) in roles::BUILTIN_ROLES {
                table.insert((false, (*name).to_owned()), (format!("(built in) {description}"), Vec::new()));
            }
            for d in store.role_definitions(RealmName::new(realm)).await? {
                table.insert((true, d.name), (d.description, Vec::new()));
            }
            for (h, role) in store.role_assignments(RealmName::new(realm)).await? {
                let label = holder_label(store, realm, &h).await?;
                let key = (!roles::is_builtin(&role), role);
                // A grant of a role without definition cannot be made any more; show it anyway.
                table.entry(key).or_insert_with(|| ("(not defined)".to_owned(), Vec::new())).1.push(label);
            }
            say!("{:<24} {:<50} holders", "role", "description");
            for ((_, name), (description, holders)) in table {
                let holders = if holders.is_empty() { "-".to_owned() } else { holders.join(", ") };
                say!("{name:<24} {description:<50} {holders}");
            }
        }
    }
    Ok(())
}
