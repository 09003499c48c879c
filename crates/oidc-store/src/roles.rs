//! [`RoleRepo`] for [`Store`]: realm role definitions and their grants.
//!
//! Every method is one statement except `delete_role`, which removes the
//! definition, its grants and its place in clients' role scopes in one transaction.

use async_trait::async_trait;
use oidc_core::ids::RealmName;
use oidc_core::repo::{RepoError, RepoResult, RoleHolder, RoleRepo};
use oidc_core::roles::RoleDef;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait, IntoActiveModel as _, QueryFilter as _, QueryOrder as _};

use crate::Store;
use crate::convert::OrRepo as _;
use crate::entity::{clients, role_assignments, role_definitions};
use crate::repos::{found, insert, insert_or_ignore};

#[async_trait]
impl RoleRepo for Store {
    async fn role_definitions(&self, realm: RealmName<'_>) -> RepoResult<Vec<RoleDef>> {
        let realm = realm.as_str();
        let rows = role_definitions::Entity::find()
            .filter(role_definitions::Column::Realm.eq(realm))
            .order_by_asc(role_definitions::Column::Name)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(RoleDef::from).collect())
    }

    /// A plain insert: the primary key (realm, name) makes a second one a `Conflict`.
    async fn define_role(&self, realm: RealmName<'_>, role: &RoleDef) -> RepoResult<()> {
        let realm = realm.as_str();
        let row = role_definitions::Model {
            realm: realm.to_owned(),
            name: role.name.clone(),
            description: role.description.clone(),
        };
        insert(self.db(), row).await.map_err(|e| match e {
            RepoError::Conflict(_) => RepoError::Conflict(format!("role '{}'", role.name)),
            other => other,
        })
    }

    async fn delete_role(&self, realm: RealmName<'_>, name: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let txn = self.begin().await.repo()?;
        let res = role_definitions::Entity::delete_many()
            .filter(role_definitions::Column::Realm.eq(realm))
            .filter(role_definitions::Column::Name.eq(name))
            .exec(&txn)
            .await
            .repo()?;
        found(res.rows_affected, || format!("role '{name}'"))?;
        role_assignments::Entity::delete_many()
            .filter(role_assignments::Column::Realm.eq(realm))
            .filter(role_assignments::Column::Role.eq(name))
            .exec(&txn)
            .await
            .repo()?;
        // Keycloak drops a deleted role from the scope mappings too. Role names
        // have no quote, so the LIKE only narrows; the JSON list decides.
        let scoped = clients::Entity::find()
            .filter(clients::Column::Realm.eq(realm))
            .filter(clients::Column::RoleScope.like(format!("%\"{name}\"%")))
            .all(&txn)
            .await
            .repo()?;
        for c in scoped {
            if let Some(kept) = crate::convert::role_scope_without(&c.role_scope, name) {
                clients::Entity::update_many()
                    .col_expr(clients::Column::RoleScope, Expr::value(kept))
                    .filter(clients::Column::Realm.eq(realm))
                    .filter(clients::Column::ClientId.eq(c.client_id))
                    .exec(&txn)
                    .await
                    .repo()?;
            }
        }
        self.commit(txn).await.repo()
    }

    async fn roles(&self, realm: RealmName<'_>, holder: &RoleHolder) -> RepoResult<Vec<String>> {
        let realm = realm.as_str();
        let (kind, id) = crate::convert::holder_columns(holder);
        let rows = role_assignments::Entity::find()
            .filter(role_assignments::Column::Realm.eq(realm))
            .filter(role_assignments::Column::HolderKind.eq(kind))
            .filter(role_assignments::Column::HolderId.eq(id))
            .order_by_asc(role_assignments::Column::Role)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(|r| r.role).collect())
    }

    /// Idempotent: `INSERT ... ON CONFLICT DO NOTHING`.
    async fn grant_role(&self, realm: RealmName<'_>, holder: &RoleHolder, role: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let (kind, id) = crate::convert::holder_columns(holder);
        let row = role_assignments::Model {
            realm: realm.to_owned(),
            holder_kind: kind.to_owned(),
            holder_id: id.to_owned(),
            role: role.to_owned(),
        };
        let key = vec![
            role_assignments::Column::Realm,
            role_assignments::Column::HolderKind,
            role_assignments::Column::HolderId,
            role_assignments::Column::Role,
        ];
        insert_or_ignore(self.db(), row.into_active_model(), key).await
    }

    async fn revoke_role(&self, realm: RealmName<'_>, holder: &RoleHolder, role: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let (kind, id) = crate::convert::holder_columns(holder);
        let res = role_assignments::Entity::delete_many()
            .filter(role_assignments::Column::Realm.eq(realm))
            .filter(role_assignments::Column::HolderKind.eq(kind))
            .filter(role_assignments::Column::HolderId.eq(id))
            .filter(role_assignments::Column::Role.eq(role))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("role '{role}' of {kind} '{id}'"))
    }

    async fn role_assignments(&self, realm: RealmName<'_>) -> RepoResult<Vec<(RoleHolder, String)>> {
        let realm = realm.as_str();
        let rows = role_assignments::Entity::find()
            .filter(role_assignments::Column::Realm.eq(realm))
            .order_by_asc(role_assignments::Column::HolderKind)
            .order_by_asc(role_assignments::Column::HolderId)
            .order_by_asc(role_assignments::Column::Role)
            .all(self.db())
            .await
            .repo()?;
        rows.into_iter().map(<(RoleHolder, String)>::try_from).collect()
    }
}
