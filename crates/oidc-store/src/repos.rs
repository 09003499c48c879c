//! The repository traits of `oidc-core`, implemented for [`Store`].
//!
//! Every method is one statement, except the deletions that cascade
//! (`delete_client`, `delete_user`, `revoke_grant`), which run in one
//! transaction, and the redemptions of codes and refresh tokens, whose one
//! conditional `UPDATE` decides and whose further statement reads what it
//! decided. Updates and deletions of a named row report `NotFound` when no
//! row matched.
//!
//! Lookups by a unique key read `.all()` and take the first row
//! ([`UniqueRow`]), never
//! `.one()`: SeaORM's `one()` adds a bound `LIMIT ?`, and SQLite (3.47 and
//! later) plans a bound LIMIT by its value, so binding it again at the next
//! execution expires the cached statement and SQLite parses and plans it anew
//! every time; that was 12% of the server's CPU under a load of code flows
//! (`docs/PERFORMANCE.md`). A unique key needs no limit.

use async_trait::async_trait;
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::model::{
    AccessTokenRecord, AuditEvent, Client, CodeRecord, Consent, KeyRecord, KeyState, LoginSession, PasswordHash, Realm,
    RefreshTokenRecord, User,
};
use oidc_core::registration::{ClientRegistration, InitialAccessToken, PolicyKind};
use oidc_core::repo::{
    AuditRepo, CleanupRepo, ClientRepo, CodeContext, CodeRepo, ConsentRepo, Expired, KeyRepo, RealmRepo, Redeemed,
    Registered, RegistrationRepo, ReplayRepo, RepoError, RepoResult, Rotated, SessionRepo, ThrottleRepo, TokenRepo,
    UserRepo,
};
use oidc_core::secret::Digest;
use oidc_core::throttle::FailureCount;
use oidc_core::time::UnixTime;
use sea_orm::sea_query::{CommonTableExpression, Condition, Expr, ExprTrait as _, OnConflict, Query, WithClause};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IdenStatic as _, IntoActiveModel, Iterable as _, ModelTrait, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, QueryTrait as _,
};

use crate::Store;
use crate::batch::{BatchRow, InsertRow};
use crate::convert::OrRepo as _;
use crate::entity::{
    access_tokens, audit_events, auth_codes, client_registrations, clients, consents, initial_access_tokens,
    login_failures, login_sessions, realms, refresh_tokens, registration_policies, role_assignments, session_clients,
    signing_keys, used_assertions, users,
};

/// Inserts one row, without `RETURNING`.
pub(crate) async fn insert<M, A>(db: &impl ConnectionTrait, row: M) -> RepoResult<()>
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait + Send,
{
    <A::Entity as EntityTrait>::insert(row.into_active_model()).exec_without_returning(db).await.repo()?;
    Ok(())
}

/// Inserts one row unless its `key` columns are taken:
/// `INSERT ... ON CONFLICT (key) DO NOTHING`, for idempotent writes.
pub(crate) async fn insert_or_ignore<E, A>(db: &impl ConnectionTrait, row: A, key: Vec<E::Column>) -> RepoResult<()>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    E::insert(row)
        .on_conflict(OnConflict::columns(key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
        .repo()?;
    Ok(())
}

/// Marks the unused codes of `realm` whose `col` equals `value` as used, so
/// they can no longer be redeemed.
async fn spend_codes(db: &impl ConnectionTrait, realm: &str, col: auth_codes::Column, value: &str) -> RepoResult<()> {
    auth_codes::Entity::update_many()
        .col_expr(auth_codes::Column::Used, Expr::value(true))
        .filter(auth_codes::Column::Realm.eq(realm))
        .filter(col.eq(value))
        .filter(auth_codes::Column::Used.eq(false))
        .exec(db)
        .await
        .repo()?;
    Ok(())
}

/// `NotFound` when an update or deletion of a named row matched none.
/// Every column of a row with its value, the names prefixed (for the
/// `token_pairs` view). Rows made from a model have every value set.
fn prefixed<A: ActiveModelTrait>(prefix: &str, row: &A) -> Vec<(String, sea_orm::Value)> {
    <A::Entity as EntityTrait>::Column::iter()
        .filter_map(|col| Some((format!("{prefix}{}", col.as_str()), row.get(col).into_value()?)))
        .collect()
}

/// A token response's access and refresh token rows, inserted together on
/// SQLite through the `token_pairs` view (migration m20261207_000060).
#[derive(Clone)]
pub(crate) struct TokenPair(access_tokens::Model, refresh_tokens::Model);

impl TokenPair {
    /// The view's columns, `a_` for the access token's and `r_` for the refresh token's, and values.
    fn columns(&self) -> Vec<(String, sea_orm::Value)> {
        let mut row = prefixed("a_", &self.0.clone().into_active_model());
        row.extend(prefixed("r_", &self.1.clone().into_active_model()));
        row
    }
}

impl InsertRow for TokenPair {
    async fn insert_all(db: &DatabaseConnection, rows: &[Self]) -> Result<(), DbErr> {
        if db.get_database_backend() == DbBackend::Postgres {
            // One statement, so one round trip and atomic: `WITH access AS
            // (INSERT INTO access_tokens ... VALUES (...), (...)) INSERT INTO
            // refresh_tokens ... VALUES (...), (...)`.
            let access =
                access_tokens::Entity::insert_many(rows.iter().map(|p| p.0.clone().into_active_model())).into_query();
            let refresh =
                refresh_tokens::Entity::insert_many(rows.iter().map(|p| p.1.clone().into_active_model())).into_query();
            let cte = CommonTableExpression::new().query(access).table_name("access").to_owned();
            return db.execute(&WithClause::new().cte(cte).to_owned().query(refresh)).await.map(|_| ());
        }
        // SQLite has no data-modifying CTEs: one `INSERT INTO token_pairs
        // (...) VALUES (...), (...)`; the view's trigger (migration
        // m20261207_000060) runs once per row, all within the one statement.
        let mut insert = Query::insert();
        insert.into_table(migration::TOKEN_PAIRS);
        for (i, pair) in rows.iter().enumerate() {
            let (names, values): (Vec<String>, Vec<Expr>) =
                pair.columns().into_iter().map(|(n, v)| (n, Expr::val(v))).unzip();
            if i == 0 {
                insert.columns(names);
            }
            insert.values(values).map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        db.execute(&insert).await.map(|_| ())
    }

    async fn insert_one(db: &DatabaseConnection, row: Self) -> RepoResult<()> {
        Self::insert_all(db, std::slice::from_ref(&row)).await.repo()
    }
}

/// A code to be marked used if it is unused and `client_id`'s: the decision
/// of a code redemption (RFC 6749 §4.1.2: a code is used once), made for
/// concurrent redemptions in one statement (group commit, see `batch`).
#[derive(Clone)]
pub(crate) struct CodeSpend {
    digest: String,
    realm: String,
    client_id: String,
}

impl CodeSpend {
    fn new(digest: &Digest, realm: &str, client_id: &str) -> CodeSpend {
        CodeSpend { digest: digest.as_str().to_owned(), realm: realm.to_owned(), client_id: client_id.to_owned() }
    }

    fn key(&self) -> (&str, &str, &str) {
        (&self.digest, &self.realm, &self.client_id)
    }
}

impl BatchRow for CodeSpend {
    /// This caller's redemption spent the code.
    type Outcome = bool;

    /// `UPDATE auth_codes SET used = true WHERE used = false AND ((digest = ?
    /// AND realm = ? AND client_id = ?) OR ...) RETURNING digest, realm,
    /// client_id`: the row lock (PostgreSQL) or the write lock (SQLite) lets
    /// one statement at a time mark a code, so a code is spent once across
    /// batches; within one, the first of the callers that presented the same
    /// code with the same client wins it.
    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<bool>, DbErr> {
        let mut any = Condition::any();
        for r in rows {
            any = any.add(
                Condition::all()
                    .add(auth_codes::Column::Digest.eq(r.digest.as_str()))
                    .add(auth_codes::Column::Realm.eq(r.realm.as_str()))
                    .add(auth_codes::Column::ClientId.eq(r.client_id.as_str())),
            );
        }
        let stmt = Query::update()
            .table(auth_codes::Entity)
            .value(auth_codes::Column::Used, true)
            .cond_where(Condition::all().add(auth_codes::Column::Used.eq(false)).add(any))
            .returning(Query::returning().columns([
                auth_codes::Column::Digest,
                auth_codes::Column::Realm,
                auth_codes::Column::ClientId,
            ]))
            .to_owned();
        let mut spent = std::collections::HashSet::new();
        for row in db.query_all(&stmt).await? {
            let col = |c: auth_codes::Column| row.try_get::<String>("", c.as_str());
            spent.insert((
                col(auth_codes::Column::Digest)?,
                col(auth_codes::Column::Realm)?,
                col(auth_codes::Column::ClientId)?,
            ));
        }
        Ok(first_takes_it(rows.iter().map(CodeSpend::key), spent))
    }
}

/// Each key's outcome in a batch of spends: whether `spent` holds it, and
/// only for the first caller with that key (a second caller with the same
/// code and client in one batch finds it taken).
fn first_takes_it<'a>(
    keys: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    mut spent: std::collections::HashSet<(String, String, String)>,
) -> Vec<bool> {
    keys.map(|(d, r, c)| spent.remove(&(d.to_owned(), r.to_owned(), c.to_owned()))).collect()
}

/// A code redemption's decision and its tokens (RFC 6749 §4.1.2: a code is
/// used once): the code is marked used only if it is unused and the
/// client's, and the tokens are stored only if it was. Concurrent
/// redemptions go in one batch (see `batch`). A code flow's tokens come as a
/// pair, or an access token alone for a client without refresh tokens; the
/// two kinds have queues of their own, so that a batch's statement has one
/// shape per size.
#[derive(Clone)]
pub(crate) struct Redemption {
    spend: CodeSpend,
    access: access_tokens::Model,
    refresh: Option<refresh_tokens::Model>,
}

impl BatchRow for Redemption {
    /// The code was this caller's and unused, and its tokens are stored
    /// (`Ok(false)`: the code was taken, unknown or another client's, and
    /// nothing was stored). An error is this caller's alone.
    type Outcome = RepoResult<bool>;

    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<RepoResult<bool>>, DbErr> {
        if db.get_database_backend() == DbBackend::Postgres {
            return redeem_all_postgres(db, rows).await;
        }
        // SQLite has no data-modifying CTEs, and a transaction would cost a
        // `BEGIN` and a `COMMIT` per batch: the spend commits first (one
        // statement, as `CodeSpend`), then the winners' tokens (one more).
        // A failure between the two spends codes whose tokens were never
        // sent: the client is refused, and no code is redeemed twice.
        let spends: Vec<CodeSpend> = rows.iter().map(|r| r.spend.clone()).collect();
        let won = CodeSpend::run_all(db, &spends).await?;
        let winners: Vec<&Redemption> = rows.iter().zip(&won).filter(|(_, w)| **w).map(|(r, _)| r).collect();
        let all = match winners.iter().map(|r| r.pair()).collect::<Option<Vec<TokenPair>>>() {
            _ if winners.is_empty() => Ok(()),
            Some(pairs) => TokenPair::insert_all(db, &pairs).await,
            None if winners.iter().all(|r| r.refresh.is_none()) => {
                let lone: Vec<access_tokens::Model> = winners.iter().map(|r| r.access.clone()).collect();
                access_tokens::Model::insert_all(db, &lone).await
            }
            None => Err(DbErr::Custom("a batch mixed pairs and lone access tokens".into())),
        };
        let mut outcomes = Vec::with_capacity(rows.len());
        for (r, won) in rows.iter().zip(won) {
            outcomes.push(match (won, &all) {
                (false, _) => Ok(false),
                (true, Ok(())) => Ok(true),
                // The statement wrote nothing: each winner's tokens on their own.
                (true, Err(_)) => match r.pair() {
                    Some(pair) => TokenPair::insert_one(db, pair).await,
                    None => insert(db, r.access.clone()).await,
                }
                .map(|()| true),
            });
        }
        Ok(outcomes)
    }
}

impl Redemption {
    fn pair(&self) -> Option<TokenPair> {
        Some(TokenPair(self.access.clone(), self.refresh.clone()?))
    }
}

/// PostgreSQL: a batch of redemptions in one statement, so one commit and
/// one WAL flush for the spends and the tokens together:
///
/// ```sql
/// WITH spent AS (UPDATE auth_codes SET used = TRUE WHERE used = FALSE
///                AND digest IN ($1, ...) AND ((digest = $1 AND realm = $2 AND client_id = $3) OR ...)
///                RETURNING digest, realm, client_id),
///      a AS (INSERT INTO access_tokens (...) SELECT v.... FROM (VALUES (...), ...) AS v (code_digest, code_realm,
///            code_client, ...) JOIN spent ON spent.digest = v.code_digest AND spent.realm = v.code_realm
///            AND spent.client_id = v.code_client),
///      r AS (INSERT INTO refresh_tokens ... the same)
/// SELECT digest, realm, client_id FROM spent
/// ```
///
/// Every data-modifying CTE runs to completion whether or not the query
/// reads it, and the statement is atomic: the tokens of a code that was not
/// spent are not stored, and no code is spent without its tokens. A second
/// caller in the batch with the same code and client is left out of the
/// statement (its code is taken by the first); such a batch, seen only when
/// one code is presented twice at once, has a statement shape of its own.
async fn redeem_all_postgres(db: &DatabaseConnection, rows: &[Redemption]) -> Result<Vec<RepoResult<bool>>, DbErr> {
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<&Redemption> = rows.iter().filter(|r| seen.insert(r.spend.key())).collect();
    let mut sql = PgSql::default();
    sql.text.push_str("WITH spent AS (UPDATE auth_codes SET used = TRUE WHERE used = FALSE AND digest IN (");
    let digests: Vec<usize> = distinct.iter().map(|r| sql.value(r.spend.digest.clone().into())).collect();
    sql.text.push_str(&digests.iter().map(|n| format!("${n}")).collect::<Vec<_>>().join(", "));
    sql.text.push_str(") AND (");
    // Each spend's parameters (digest, realm, client), named again by its tokens' rows.
    let mut spends = Vec::with_capacity(distinct.len());
    for (i, (r, &digest)) in distinct.iter().zip(&digests).enumerate() {
        if i > 0 {
            sql.text.push_str(" OR ");
        }
        let realm = sql.value(r.spend.realm.clone().into());
        let client = sql.value(r.spend.client_id.clone().into());
        sql.text.push_str(&format!("(digest = ${digest} AND realm = ${realm} AND client_id = ${client})"));
        spends.push([digest, realm, client]);
    }
    sql.text.push_str(") RETURNING digest, realm, client_id)");
    let access: Vec<_> =
        distinct.iter().zip(&spends).map(|(r, p)| (*p, prefixed("", &r.access.clone().into_active_model()))).collect();
    sql.insert_spent("a", "access_tokens", &access);
    let refresh: Vec<_> = distinct
        .iter()
        .zip(&spends)
        .filter_map(|(r, p)| Some((*p, prefixed("", &r.refresh.clone()?.into_active_model()))))
        .collect();
    if !refresh.is_empty() {
        sql.insert_spent("r", "refresh_tokens", &refresh);
    }
    sql.text.push_str(" SELECT digest, realm, client_id FROM spent");
    let found =
        db.query_all_raw(sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql.text, sql.values)).await?;
    let mut spent = std::collections::HashSet::new();
    for row in found {
        let col = |c: &str| row.try_get::<String>("", c);
        spent.insert((col("digest")?, col("realm")?, col("client_id")?));
    }
    Ok(first_takes_it(rows.iter().map(|r| r.spend.key()), spent).into_iter().map(Ok).collect())
}

/// A token row to insert if its code was spent: the parameter numbers of the
/// code's digest, realm and client in the spend, and the row's columns.
type SpentRow = ([usize; 3], Vec<(String, sea_orm::Value)>);

/// A PostgreSQL statement being written, with its numbered parameters.
#[derive(Default)]
struct PgSql {
    text: String,
    values: Vec<sea_orm::Value>,
}

impl PgSql {
    /// Adds a parameter; returns its number.
    fn value(&mut self, v: sea_orm::Value) -> usize {
        self.values.push(v);
        self.values.len()
    }

    /// `, name AS (INSERT INTO table (...) SELECT v.... FROM (VALUES ...) AS
    /// v (...) JOIN spent ON ...)`: the rows of `rows` whose code is in the
    /// `spent` CTE, each with the parameter numbers of its code's digest,
    /// realm and client in the spend. Each row's columns are in the same
    /// order (a model's).
    fn insert_spent(&mut self, name: &str, table: &str, rows: &[SpentRow]) {
        let Some((_, first)) = rows.first() else { return };
        let columns: Vec<String> = first.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        self.text.push_str(&format!(", {name} AS (INSERT INTO {table} ({}) SELECT ", columns.join(", ")));
        self.text.push_str(&columns.iter().map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", "));
        self.text.push_str(" FROM (VALUES ");
        for (i, (spend, values)) in rows.iter().enumerate() {
            let mut params = spend.to_vec();
            params.extend(values.iter().map(|(_, v)| self.value(v.clone())));
            let params: Vec<String> = params.iter().map(|n| format!("${n}")).collect();
            self.text.push_str(&format!("{}({})", if i > 0 { ", " } else { "" }, params.join(", ")));
        }
        self.text.push_str(&format!(
            ") AS v (code_digest, code_realm, code_client, {}) JOIN spent ON spent.digest = v.code_digest \
             AND spent.realm = v.code_realm AND spent.client_id = v.code_client)",
            columns.join(", ")
        ));
    }
}

/// Each key's row among `found` (cloned for a key asked twice), in the order
/// of `keys`: the answers of a batch of lookups (see `batch`).
fn by_key<K, T: Clone>(
    keys: &[K],
    found: &[T],
    key_of: impl Fn(&K) -> (&str, &str),
    row_key: impl Fn(&T) -> (&str, &str),
) -> Vec<Option<T>> {
    if let [key] = keys {
        // A batch of one: no index.
        return vec![found.iter().find(|t| row_key(t) == key_of(key)).cloned()];
    }
    let index: std::collections::HashMap<(&str, &str), &T> = found.iter().map(|t| (row_key(t), t)).collect();
    keys.iter().map(|k| index.get(&key_of(k)).map(|t| (*t).clone())).collect()
}

/// `digest IN (?, ...)` over `keys`, for the `digest` column (the primary
/// key) of one table. The realm is not in the statement: a digest is unique
/// across realms, and [`by_key`] hands a row only to the key with its digest
/// *and* realm, so a row of another realm is found and given to no one.
///
/// With the realm in the statement (`(digest = ? AND realm = ?) OR ...`),
/// PostgreSQL's generic plan for a batch sometimes combined the primary key
/// with the `(realm, session_id)` index of the token tables, read by its
/// first column alone: every token of the realm into a bitmap, at each such
/// lookup. With a million access tokens, 1,038 lookups read 960 million index
/// entries and took a whole core (docs/PERFORMANCE.md).
fn digest_in<K, C: sea_orm::ColumnTrait>(keys: &[K], key_of: impl Fn(&K) -> (&str, &str), digest: C) -> Condition {
    Condition::all().add(digest.is_in(keys.iter().map(|k| key_of(k).0)))
}

/// A lookup by digest and realm (a login session, a code, an access token),
/// made for concurrent requests in one statement (see `batch`): with many
/// requests in flight, each statement is a hand-off to the connection's
/// thread and back, and a batch makes one for many lookups.
#[derive(Clone)]
pub(crate) struct Lookup {
    digest: String,
    realm: String,
}

impl Lookup {
    fn new(digest: &Digest, realm: &str) -> Lookup {
        Lookup { digest: digest.as_str().to_owned(), realm: realm.to_owned() }
    }

    fn key(&self) -> (&str, &str) {
        (&self.digest, &self.realm)
    }
}

/// A login session with its user, for the authorization endpoint.
#[derive(Clone)]
pub(crate) struct SessionLookup(Lookup);

impl BatchRow for SessionLookup {
    type Outcome = Option<(login_sessions::Model, Option<users::Model>)>;

    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<Self::Outcome>, DbErr> {
        let any = digest_in(rows, |r| r.0.key(), login_sessions::Column::Digest);
        let found = login_sessions::Entity::find().filter(any).find_also_related(users::Entity).all(db).await?;
        Ok(by_key(rows, &found, |r| r.0.key(), |(s, _)| (s.digest.as_str(), s.realm.as_str())))
    }
}

/// A code with its login session and its user, for the token endpoint.
#[derive(Clone)]
pub(crate) struct CodeLookup(Lookup);

impl BatchRow for CodeLookup {
    type Outcome = Option<(auth_codes::Model, Option<login_sessions::Model>, Option<users::Model>)>;

    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<Self::Outcome>, DbErr> {
        let any = digest_in(rows, |r| r.0.key(), auth_codes::Column::Digest);
        let found = auth_codes::Entity::find()
            .filter(any)
            .find_also_related(login_sessions::Entity)
            .find_also_related(users::Entity)
            .all(db)
            .await?;
        Ok(by_key(rows, &found, |r| r.0.key(), |(c, _, _)| (c.digest.as_str(), c.realm.as_str())))
    }
}

/// An access token with its user, for UserInfo.
#[derive(Clone)]
pub(crate) struct AccessTokenLookup(Lookup);

impl BatchRow for AccessTokenLookup {
    type Outcome = Option<(access_tokens::Model, Option<users::Model>)>;

    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<Self::Outcome>, DbErr> {
        let any = digest_in(rows, |r| r.0.key(), access_tokens::Column::Digest);
        let found = access_tokens::Entity::find().filter(any).find_also_related(users::Entity).all(db).await?;
        Ok(by_key(rows, &found, |r| r.0.key(), |(t, _)| (t.digest.as_str(), t.realm.as_str())))
    }
}

/// Rows of one table, inserted many at a time with `insert_many`.
macro_rules! table_batch_row {
    ($($model:ty),*) => {$(
        impl InsertRow for $model {
            async fn insert_all(db: &DatabaseConnection, rows: &[Self]) -> Result<(), DbErr> {
                <$model as ModelTrait>::Entity::insert_many(rows.iter().cloned().map(IntoActiveModel::into_active_model))
                    .exec_without_returning(db)
                    .await
                    .map(|_| ())
            }

            async fn insert_one(db: &DatabaseConnection, row: Self) -> RepoResult<()> {
                insert(db, row).await
            }
        }
    )*};
}

table_batch_row!(access_tokens::Model, auth_codes::Model);

/// The row of a lookup by a unique key: `.all()` and its first row, never
/// SeaORM's `.one()` and its bound `LIMIT` (see the module's documentation).
trait UniqueRow {
    /// What one row reads as.
    type Row;
    /// The row, if there is one.
    fn unique_row<C: ConnectionTrait>(self, db: &C) -> impl Future<Output = RepoResult<Option<Self::Row>>> + Send;
}

impl<E: EntityTrait> UniqueRow for sea_orm::Select<E> {
    type Row = E::Model;
    async fn unique_row<C: ConnectionTrait>(self, db: &C) -> RepoResult<Option<E::Model>> {
        Ok(self.all(db).await.repo()?.into_iter().next())
    }
}

impl<E: EntityTrait, F: EntityTrait> UniqueRow for sea_orm::SelectTwo<E, F> {
    type Row = (E::Model, Option<F::Model>);
    async fn unique_row<C: ConnectionTrait>(self, db: &C) -> RepoResult<Option<Self::Row>> {
        Ok(self.all(db).await.repo()?.into_iter().next())
    }
}

impl<E: EntityTrait, F: EntityTrait, G: EntityTrait, T: sea_orm::Topology + Send> UniqueRow
    for sea_orm::SelectThree<E, F, G, T>
{
    type Row = (E::Model, Option<F::Model>, Option<G::Model>);
    async fn unique_row<C: ConnectionTrait>(self, db: &C) -> RepoResult<Option<Self::Row>> {
        Ok(self.all(db).await.repo()?.into_iter().next())
    }
}

pub(crate) fn found(rows_affected: u64, what: impl FnOnce() -> String) -> RepoResult<()> {
    if rows_affected == 0 { Err(RepoError::NotFound(what())) } else { Ok(()) }
}

#[async_trait]
impl RealmRepo for Store {
    async fn realm(&self, name: RealmName<'_>) -> RepoResult<Option<Realm>> {
        let name = name.as_str();
        Ok(realms::Entity::find_by_id(name).unique_row(self.db()).await?.map(Realm::from))
    }

    async fn create_realm(&self, realm: &Realm) -> RepoResult<()> {
        insert(self.db(), realms::Model::from(realm)).await
    }

    async fn realm_names(&self) -> RepoResult<Vec<String>> {
        realms::Entity::find()
            .select_only()
            .column(realms::Column::Name)
            .order_by_asc(realms::Column::Name)
            .into_tuple::<String>()
            .all(self.db())
            .await
            .repo()
    }
}

#[async_trait]
impl KeyRepo for Store {
    async fn keys(&self, realm: RealmName<'_>) -> RepoResult<Vec<KeyRecord>> {
        let realm = realm.as_str();
        let rows = signing_keys::Entity::find()
            .filter(signing_keys::Column::Realm.eq(realm))
            .order_by_asc(signing_keys::Column::CreatedAt)
            .order_by_asc(signing_keys::Column::Kid)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(KeyRecord::try_from).collect::<Result<_, _>>()?)
    }

    async fn add_key(&self, key: &KeyRecord) -> RepoResult<()> {
        insert(self.db(), signing_keys::Model::from(key)).await
    }

    async fn set_key_state(
        &self,
        realm: RealmName<'_>,
        kid: &str,
        state: KeyState,
        published_until: Option<UnixTime>,
    ) -> RepoResult<()> {
        let realm = realm.as_str();
        let res = signing_keys::Entity::update_many()
            .col_expr(signing_keys::Column::State, Expr::value(state.as_str()))
            .col_expr(signing_keys::Column::PublishedUntil, Expr::value(published_until.map(UnixTime::secs)))
            .filter(signing_keys::Column::Realm.eq(realm))
            .filter(signing_keys::Column::Kid.eq(kid))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("key '{kid}' in realm '{realm}'"))
    }
}

#[async_trait]
impl ClientRepo for Store {
    async fn client(&self, realm: RealmName<'_>, client_id: ClientId<'_>) -> RepoResult<Option<Client>> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let row = clients::Entity::find()
            .filter(clients::Column::Realm.eq(realm))
            .filter(clients::Column::ClientId.eq(client_id))
            .unique_row(self.db())
            .await?;
        Ok(row.map(Client::try_from).transpose()?)
    }

    async fn clients(&self, realm: RealmName<'_>) -> RepoResult<Vec<Client>> {
        let realm = realm.as_str();
        let rows = clients::Entity::find()
            .filter(clients::Column::Realm.eq(realm))
            .order_by_asc(clients::Column::ClientId)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(Client::try_from).collect::<Result<_, _>>()?)
    }

    async fn create_client(&self, client: &Client) -> RepoResult<()> {
        insert(self.db(), clients::Model::from(client)).await
    }

    async fn update_client(&self, client: &Client) -> RepoResult<()> {
        let mut row = clients::Model::from(client).into_active_model().reset_all();
        // The key selects the row; only the other columns are written.
        row.realm = ActiveValue::NotSet;
        row.client_id = ActiveValue::NotSet;
        let res = clients::Entity::update_many()
            .set(row)
            .filter(clients::Column::Realm.eq(client.realm.as_str()))
            .filter(clients::Column::ClientId.eq(client.client_id.as_str()))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("client '{}' in realm '{}'", client.client_id, client.realm))
    }

    async fn delete_client(&self, realm: RealmName<'_>, client_id: ClientId<'_>) -> RepoResult<()> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let txn = self.begin().await.repo()?;
        let res = clients::Entity::delete_many()
            .filter(clients::Column::Realm.eq(realm))
            .filter(clients::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        if res.rows_affected == 0 {
            txn.rollback().await.repo()?;
            return Err(RepoError::NotFound(format!("client '{client_id}' in realm '{realm}'")));
        }
        auth_codes::Entity::delete_many()
            .filter(auth_codes::Column::Realm.eq(realm))
            .filter(auth_codes::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Realm.eq(realm))
            .filter(access_tokens::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        consents::Entity::delete_many()
            .filter(consents::Column::Realm.eq(realm))
            .filter(consents::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        client_registrations::Entity::delete_many()
            .filter(client_registrations::Column::Realm.eq(realm))
            .filter(client_registrations::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        role_assignments::Entity::delete_many()
            .filter(role_assignments::Column::Realm.eq(realm))
            .filter(role_assignments::Column::HolderKind.eq("client"))
            .filter(role_assignments::Column::HolderId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        self.commit(txn).await.repo()
    }
}

#[async_trait]
impl UserRepo for Store {
    async fn user_by_username(&self, realm: RealmName<'_>, username: &str) -> RepoResult<Option<User>> {
        let realm = realm.as_str();
        let row = users::Entity::find()
            .filter(users::Column::Realm.eq(realm))
            .filter(users::Column::Username.eq(username))
            .unique_row(self.db())
            .await?;
        Ok(row.map(User::try_from).transpose()?)
    }

    async fn user(&self, realm: RealmName<'_>, id: UserId<'_>) -> RepoResult<Option<User>> {
        let realm = realm.as_str();
        let id = id.as_str();
        let row = users::Entity::find()
            .filter(users::Column::Realm.eq(realm))
            .filter(users::Column::Id.eq(id))
            .unique_row(self.db())
            .await?;
        Ok(row.map(User::try_from).transpose()?)
    }

    async fn users(&self, realm: RealmName<'_>) -> RepoResult<Vec<User>> {
        let realm = realm.as_str();
        let rows = users::Entity::find()
            .filter(users::Column::Realm.eq(realm))
            .order_by_asc(users::Column::Username)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(User::try_from).collect::<Result<_, _>>()?)
    }

    async fn create_user(&self, user: &User) -> RepoResult<()> {
        insert(self.db(), users::Model::from(user)).await
    }

    async fn update_user(&self, user: &User) -> RepoResult<()> {
        let mut row = users::Model::from(user).into_active_model().reset_all();
        // The key selects the row; the password hash and creation time are kept.
        row.realm = ActiveValue::NotSet;
        row.id = ActiveValue::NotSet;
        row.password_hash = ActiveValue::NotSet;
        row.created_at = ActiveValue::NotSet;
        let res = users::Entity::update_many()
            .set(row)
            .filter(users::Column::Realm.eq(user.realm.as_str()))
            .filter(users::Column::Id.eq(user.id.as_str()))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("user '{}' in realm '{}'", user.id, user.realm))
    }

    async fn set_password_hash(&self, realm: RealmName<'_>, id: UserId<'_>, hash: &PasswordHash) -> RepoResult<()> {
        let realm = realm.as_str();
        let id = id.as_str();
        let res = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash.0.as_str()))
            .filter(users::Column::Realm.eq(realm))
            .filter(users::Column::Id.eq(id))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("user '{id}' in realm '{realm}'"))
    }

    async fn delete_user(&self, realm: RealmName<'_>, id: UserId<'_>) -> RepoResult<()> {
        let realm = realm.as_str();
        let id = id.as_str();
        let txn = self.begin().await.repo()?;
        let res = users::Entity::delete_many()
            .filter(users::Column::Realm.eq(realm))
            .filter(users::Column::Id.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        if res.rows_affected == 0 {
            txn.rollback().await.repo()?;
            return Err(RepoError::NotFound(format!("user '{id}' in realm '{realm}'")));
        }
        login_sessions::Entity::delete_many()
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::UserId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        auth_codes::Entity::delete_many()
            .filter(auth_codes::Column::Realm.eq(realm))
            .filter(auth_codes::Column::UserId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Realm.eq(realm))
            .filter(access_tokens::Column::UserId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::UserId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        consents::Entity::delete_many()
            .filter(consents::Column::Realm.eq(realm))
            .filter(consents::Column::UserId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        role_assignments::Entity::delete_many()
            .filter(role_assignments::Column::Realm.eq(realm))
            .filter(role_assignments::Column::HolderKind.eq("user"))
            .filter(role_assignments::Column::HolderId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        self.commit(txn).await.repo()
    }
}

#[async_trait]
impl SessionRepo for Store {
    async fn create_session(&self, session: &LoginSession) -> RepoResult<()> {
        insert(self.db(), login_sessions::Model::from(session)).await
    }

    async fn session(&self, realm: RealmName<'_>, digest: &Digest, now: UnixTime) -> RepoResult<Option<LoginSession>> {
        let realm = realm.as_str();
        let row = login_sessions::Entity::find_by_id(digest.as_str())
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::ExpiresAt.gt(now.secs()))
            .unique_row(self.db())
            .await?;
        Ok(row.map(LoginSession::from))
    }

    /// `SELECT ... FROM login_sessions LEFT JOIN users`: one round trip for the authorization endpoint.
    async fn session_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        now: UnixTime,
    ) -> RepoResult<Option<(LoginSession, Option<User>)>> {
        // With the lookups of concurrent requests (see `SessionLookup`); expiry is this caller's.
        let (db, batch) = self.db_and_batcher();
        let row = batch.sessions.run(db, SessionLookup(Lookup::new(digest, realm.as_str()))).await?;
        let Some((session, user)) = row.filter(|(s, _)| s.expires_at > now.secs()) else { return Ok(None) };
        Ok(Some((LoginSession::from(session), user.map(User::try_from).transpose()?)))
    }

    /// Idempotent: logging out with a session that is already gone succeeds.
    async fn delete_session(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<()> {
        let realm = realm.as_str();
        login_sessions::Entity::delete_many()
            .filter(login_sessions::Column::Digest.eq(digest.as_str()))
            .filter(login_sessions::Column::Realm.eq(realm))
            .exec(self.db())
            .await
            .repo()?;
        Ok(())
    }

    async fn session_by_id(&self, realm: RealmName<'_>, id: &str, now: UnixTime) -> RepoResult<Option<LoginSession>> {
        let realm = realm.as_str();
        let row = login_sessions::Entity::find()
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::Id.eq(id))
            .filter(login_sessions::Column::ExpiresAt.gt(now.secs()))
            .unique_row(self.db())
            .await?;
        Ok(row.map(LoginSession::from))
    }

    async fn sessions_of_user(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        now: UnixTime,
    ) -> RepoResult<Vec<LoginSession>> {
        let realm = realm.as_str();
        let user_id = user_id.as_str();
        let rows = login_sessions::Entity::find()
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::UserId.eq(user_id))
            .filter(login_sessions::Column::ExpiresAt.gt(now.secs()))
            .order_by_desc(login_sessions::Column::AuthTime)
            .order_by_asc(login_sessions::Column::Id)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(LoginSession::from).collect())
    }

    async fn touch_session(
        &self,
        realm: RealmName<'_>,
        id: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> RepoResult<()> {
        let realm = realm.as_str();
        login_sessions::Entity::update_many()
            .col_expr(login_sessions::Column::LastUsed, Expr::value(now.secs()))
            .col_expr(login_sessions::Column::ExpiresAt, Expr::value(expires_at.secs()))
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::Id.eq(id))
            .exec(self.db())
            .await
            .repo()?;
        Ok(())
    }

    /// `INSERT ... ON CONFLICT DO NOTHING`.
    async fn add_session_client(
        &self,
        realm: RealmName<'_>,
        id: &str,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<()> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let row = session_clients::Model {
            realm: realm.to_owned(),
            session_id: id.to_owned(),
            client_id: client_id.to_owned(),
            first_at: now.secs(),
        };
        let key =
            vec![session_clients::Column::Realm, session_clients::Column::SessionId, session_clients::Column::ClientId];
        insert_or_ignore(self.db(), row.into_active_model(), key).await
    }

    async fn session_clients(&self, realm: RealmName<'_>, id: &str) -> RepoResult<Vec<String>> {
        let realm = realm.as_str();
        session_clients::Entity::find()
            .select_only()
            .column(session_clients::Column::ClientId)
            .filter(session_clients::Column::Realm.eq(realm))
            .filter(session_clients::Column::SessionId.eq(id))
            .order_by_asc(session_clients::Column::FirstAt)
            .order_by_asc(session_clients::Column::ClientId)
            .into_tuple::<String>()
            .all(self.db())
            .await
            .repo()
    }

    /// One transaction over the session, its clients, its tokens and its codes.
    async fn end_session(&self, realm: RealmName<'_>, id: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let txn = self.begin().await.repo()?;
        login_sessions::Entity::delete_many()
            .filter(login_sessions::Column::Realm.eq(realm))
            .filter(login_sessions::Column::Id.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        session_clients::Entity::delete_many()
            .filter(session_clients::Column::Realm.eq(realm))
            .filter(session_clients::Column::SessionId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Realm.eq(realm))
            .filter(access_tokens::Column::SessionId.eq(id))
            .exec(&txn)
            .await
            .repo()?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::SessionId.eq(id))
            .filter(refresh_tokens::Column::Offline.eq(false))
            .exec(&txn)
            .await
            .repo()?;
        spend_codes(&txn, realm, auth_codes::Column::SessionId, id).await?;
        self.commit(txn).await.repo()
    }
}

#[async_trait]
impl ConsentRepo for Store {
    async fn consent(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<Option<Consent>> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let user_id = user_id.as_str();
        let row = consents::Entity::find()
            .filter(consents::Column::Realm.eq(realm))
            .filter(consents::Column::UserId.eq(user_id))
            .filter(consents::Column::ClientId.eq(client_id))
            .unique_row(self.db())
            .await?;
        Ok(row.map(Consent::try_from).transpose()?)
    }

    async fn save_consent(&self, consent: &Consent) -> RepoResult<()> {
        let upsert =
            OnConflict::columns([consents::Column::Realm, consents::Column::UserId, consents::Column::ClientId])
                .update_columns([consents::Column::Scope, consents::Column::GivenAt, consents::Column::ExpiresAt])
                .to_owned();
        consents::Entity::insert(consents::Model::from(consent).into_active_model())
            .on_conflict(upsert)
            .exec_without_returning(self.db())
            .await
            .repo()?;
        Ok(())
    }

    async fn consents_of_user(&self, realm: RealmName<'_>, user_id: UserId<'_>) -> RepoResult<Vec<Consent>> {
        let realm = realm.as_str();
        let user_id = user_id.as_str();
        let rows = consents::Entity::find()
            .filter(consents::Column::Realm.eq(realm))
            .filter(consents::Column::UserId.eq(user_id))
            .order_by_asc(consents::Column::ClientId)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(Consent::try_from).collect::<Result<_, _>>()?)
    }

    /// Idempotent: withdrawing a consent that does not exist succeeds. The
    /// consent and the client's tokens for the user go in one transaction.
    async fn delete_consent(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<()> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let user_id = user_id.as_str();
        let txn = self.begin().await.repo()?;
        consents::Entity::delete_many()
            .filter(consents::Column::Realm.eq(realm))
            .filter(consents::Column::UserId.eq(user_id))
            .filter(consents::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Realm.eq(realm))
            .filter(access_tokens::Column::UserId.eq(user_id))
            .filter(access_tokens::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .repo()?;
        self.commit(txn).await.repo()
    }
}

#[async_trait]
impl CodeRepo for Store {
    async fn save_code(&self, code: &CodeRecord) -> RepoResult<()> {
        // Group commit with concurrent authorizations (see `batch`).
        let (db, batch) = self.db_and_batcher();
        batch.codes.run(db, auth_codes::Model::from(code)).await
    }

    /// Two statements: `UPDATE auth_codes SET used = true WHERE` the code is
    /// `client_id`'s and unused (with the codes of concurrent redemptions, see
    /// [`CodeSpend`]), where the row lock (PostgreSQL) or the write lock
    /// (SQLite) lets exactly one of concurrent callers match, and only the
    /// code's own client; then one read of the code `LEFT JOIN`ed with its
    /// session and its user, which also tells a replay from another client's
    /// or an unknown code. No transaction is needed: only the `UPDATE`
    /// decides, and a code's session and user are read as they are now.
    async fn redeem_code_with_context(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<(Redeemed, CodeContext)> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let (db, batch) = self.db_and_batcher();
        let won = batch.spends.run(db, CodeSpend::new(digest, realm, client_id)).await?;
        // With the reads of concurrent redemptions (see `CodeLookup`).
        let row = batch.code_reads.run(db, CodeLookup(Lookup::new(digest, realm))).await?;
        code_found(row, client_id, now, |_| won)
    }

    /// With concurrent spends (see `CodeSpend`).
    async fn spend_code(&self, realm: RealmName<'_>, digest: &Digest, client_id: ClientId<'_>) -> RepoResult<bool> {
        let (db, batch) = self.db_and_batcher();
        batch.spends.run(db, CodeSpend::new(digest, realm.as_str(), client_id.as_str())).await
    }

    /// One batched read (`CodeLookup`); nothing is written.
    async fn code_with_context(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<(Redeemed, CodeContext)> {
        let (db, batch) = self.db_and_batcher();
        let row = batch.code_reads.run(db, CodeLookup(Lookup::new(digest, realm.as_str()))).await?;
        code_found(row, client_id.as_str(), now, |code| !code.used)
    }

    /// With concurrent redemptions (see `Redemption`): one statement on
    /// PostgreSQL, the spend then the tokens on SQLite.
    async fn redeem_code_with_tokens(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        access: &AccessTokenRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> RepoResult<bool> {
        let (db, batch) = self.db_and_batcher();
        let redemption = Redemption {
            spend: CodeSpend::new(digest, realm.as_str(), client_id.as_str()),
            access: access_tokens::Model::from(access),
            refresh: refresh.map(refresh_tokens::Model::from),
        };
        let queue = if redemption.refresh.is_some() { &batch.redeem_pairs } else { &batch.redeem_lone };
        queue.run(db, redemption).await?
    }
}

/// A code read for `client_id` (with its session and user), as a
/// redemption's outcome: `first` tells whether this caller has the code to
/// itself (it won the spend, or the code was unused when read).
fn code_found(
    row: Option<(auth_codes::Model, Option<login_sessions::Model>, Option<users::Model>)>,
    client_id: &str,
    now: UnixTime,
    first: impl FnOnce(&auth_codes::Model) -> bool,
) -> RepoResult<(Redeemed, CodeContext)> {
    let Some((code, session, user)) = row else {
        return Ok((Redeemed::Unknown, CodeContext::default()));
    };
    if code.client_id != client_id {
        return Ok((Redeemed::OtherClient, CodeContext::default()));
    }
    if !first(&code) {
        return Ok((Redeemed::Replayed(code.try_into()?), CodeContext::default()));
    }
    let session = session.map(LoginSession::from).filter(|s| s.expires_at > now);
    let user = user.map(User::try_from).transpose()?;
    Ok((Redeemed::First(code.try_into()?), CodeContext { session, user }))
}

#[async_trait]
impl TokenRepo for Store {
    async fn save_tokens(&self, access: &AccessTokenRecord, refresh: Option<&RefreshTokenRecord>) -> RepoResult<()> {
        // Group commit with concurrent grants (see `batch`); a pair is one
        // statement of its own, so both of its rows are stored or neither.
        let (db, batch) = self.db_and_batcher();
        let Some(refresh) = refresh else {
            return batch.access.run(db, access_tokens::Model::from(access)).await;
        };
        let pair = TokenPair(access_tokens::Model::from(access), refresh_tokens::Model::from(refresh));
        batch.pairs.run(db, pair).await
    }

    async fn access_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<Option<AccessTokenRecord>> {
        let realm = realm.as_str();
        let row = access_tokens::Entity::find_by_id(digest.as_str())
            .filter(access_tokens::Column::Realm.eq(realm))
            .unique_row(self.db())
            .await?;
        Ok(row.map(AccessTokenRecord::try_from).transpose()?)
    }

    /// `SELECT ... FROM access_tokens LEFT JOIN users`: one round trip for UserInfo.
    async fn access_token_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<(AccessTokenRecord, Option<User>)>> {
        // With the lookups of concurrent requests (see `AccessTokenLookup`).
        let (db, batch) = self.db_and_batcher();
        let row = batch.token_reads.run(db, AccessTokenLookup(Lookup::new(digest, realm.as_str()))).await?;
        let Some((token, user)) = row else { return Ok(None) };
        Ok(Some((AccessTokenRecord::try_from(token)?, user.map(User::try_from).transpose()?)))
    }

    /// `SELECT ... FROM refresh_tokens LEFT JOIN users`.
    async fn refresh_token_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<(RefreshTokenRecord, bool, Option<User>)>> {
        let realm = realm.as_str();
        let row = refresh_tokens::Entity::find_by_id(digest.as_str())
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .find_also_related(users::Entity)
            .unique_row(self.db())
            .await?;
        let Some((token, user)) = row else { return Ok(None) };
        let used = token.used;
        Ok(Some((RefreshTokenRecord::try_from(token)?, used, user.map(User::try_from).transpose()?)))
    }

    async fn revoke_access_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<bool> {
        let realm = realm.as_str();
        let r = access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Digest.eq(digest.as_str()))
            .filter(access_tokens::Column::Realm.eq(realm))
            .exec(self.db())
            .await
            .repo()?;
        Ok(r.rows_affected > 0)
    }

    /// Like [`CodeRepo::redeem_code_with_context`], one conditional `UPDATE` decides, here with `RETURNING`.
    /// Then, with a reuse interval, a second conditional `UPDATE ... SET reused_at = now
    /// WHERE used AND reused_at IS NULL AND used_at > now - interval RETURNING`.
    async fn use_refresh_token(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
        reuse_interval: i64,
    ) -> RepoResult<Rotated> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let first = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::Used, Expr::value(true))
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now.secs()))
            .filter(refresh_tokens::Column::Digest.eq(digest.as_str()))
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::ClientId.eq(client_id))
            .filter(refresh_tokens::Column::Used.eq(false))
            .exec_with_returning(self.db())
            .await
            .repo()?;
        if let Some(row) = first.into_iter().next() {
            return Ok(Rotated::First(row.try_into()?));
        }
        if reuse_interval > 0 {
            let again = refresh_tokens::Entity::update_many()
                .col_expr(refresh_tokens::Column::ReusedAt, Expr::value(now.secs()))
                .filter(refresh_tokens::Column::Digest.eq(digest.as_str()))
                .filter(refresh_tokens::Column::Realm.eq(realm))
                .filter(refresh_tokens::Column::ClientId.eq(client_id))
                .filter(refresh_tokens::Column::Used.eq(true))
                .filter(refresh_tokens::Column::ReusedAt.is_null())
                .filter(refresh_tokens::Column::UsedAt.gt(now.secs().saturating_sub(reuse_interval)))
                .exec_with_returning(self.db())
                .await
                .repo()?;
            if let Some(row) = again.into_iter().next() {
                return Ok(Rotated::Reused(row.try_into()?));
            }
        }
        let row = refresh_tokens::Entity::find_by_id(digest.as_str())
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .unique_row(self.db())
            .await?;
        Ok(match row {
            Some(row) if row.client_id != client_id => Rotated::OtherClient,
            Some(row) => Rotated::Replayed(row.try_into()?),
            None => Rotated::Unknown,
        })
    }

    async fn unused_refresh_token(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<RefreshTokenRecord>> {
        let realm = realm.as_str();
        let row = refresh_tokens::Entity::find_by_id(digest.as_str())
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::Used.eq(false))
            .unique_row(self.db())
            .await?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    /// Deletes the grant's access and refresh tokens and spends its codes, in one transaction.
    async fn revoke_grant(&self, realm: RealmName<'_>, grant_id: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let txn = self.begin().await.repo()?;
        access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::Realm.eq(realm))
            .filter(access_tokens::Column::GrantId.eq(grant_id))
            .exec(&txn)
            .await
            .repo()?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::Realm.eq(realm))
            .filter(refresh_tokens::Column::GrantId.eq(grant_id))
            .exec(&txn)
            .await
            .repo()?;
        spend_codes(&txn, realm, auth_codes::Column::GrantId, grant_id).await?;
        self.commit(txn).await.repo()
    }
}

#[async_trait]
impl ThrottleRepo for Store {
    async fn failures(&self, realm: RealmName<'_>, key: &str) -> RepoResult<Option<FailureCount>> {
        let realm = realm.as_str();
        let row = login_failures::Entity::find_by_id((realm.to_owned(), key.to_owned())).unique_row(self.db()).await?;
        Ok(row.map(FailureCount::from))
    }

    /// One upsert, so concurrent failures on any number of instances all count:
    /// `INSERT ... ON CONFLICT DO UPDATE SET count = CASE ... END RETURNING`.
    async fn record_failure(
        &self,
        realm: RealmName<'_>,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> RepoResult<FailureCount> {
        let realm = realm.as_str();
        let backend = self.db().get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO login_failures (realm, key, count, last_failure) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (realm, key) DO UPDATE SET \
                 count = CASE WHEN login_failures.last_failure < $4 THEN 1 ELSE login_failures.count + 1 END, \
                 last_failure = $3 RETURNING count, last_failure"
            }
            _ => {
                "INSERT INTO login_failures (realm, key, count, last_failure) VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (realm, key) DO UPDATE SET \
                 count = CASE WHEN login_failures.last_failure < ?4 THEN 1 ELSE login_failures.count + 1 END, \
                 last_failure = ?3 RETURNING count, last_failure"
            }
        };
        let stmt = sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [realm.into(), key.into(), now.secs().into(), now.secs().saturating_sub(window).into()],
        );
        let row = self
            .db()
            .query_one_raw(stmt)
            .await
            .repo()?
            .ok_or_else(|| RepoError::Backend("the failure counter upsert returned no row".into()))?;
        let count: i64 = row.try_get("", "count").repo()?;
        let last: i64 = row.try_get("", "last_failure").repo()?;
        Ok(FailureCount { count, last_failure: UnixTime(last) })
    }

    async fn clear_failures(&self, realm: RealmName<'_>, key: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        login_failures::Entity::delete_by_id((realm.to_owned(), key.to_owned())).exec(self.db()).await.repo()?;
        Ok(())
    }

    /// One conditional statement: an `INSERT ... ON CONFLICT DO NOTHING` when
    /// there is no count yet, else an `UPDATE ... WHERE count = ? AND last_failure = ?`;
    /// exactly one of several concurrent swaps from the same value succeeds.
    async fn swap_failures(
        &self,
        realm: RealmName<'_>,
        key: &str,
        expected: Option<&FailureCount>,
        next: &FailureCount,
    ) -> RepoResult<bool> {
        let realm = realm.as_str();
        let backend = self.db().get_database_backend();
        let pg = backend == DbBackend::Postgres;
        let stmt = match expected {
            None => sea_orm::Statement::from_sql_and_values(
                backend,
                if pg {
                    "INSERT INTO login_failures (realm, key, count, last_failure) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (realm, key) DO NOTHING"
                } else {
                    "INSERT INTO login_failures (realm, key, count, last_failure) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (realm, key) DO NOTHING"
                },
                [realm.into(), key.into(), next.count.into(), next.last_failure.secs().into()],
            ),
            Some(e) => sea_orm::Statement::from_sql_and_values(
                backend,
                if pg {
                    "UPDATE login_failures SET count = $3, last_failure = $4 \
                     WHERE realm = $1 AND key = $2 AND count = $5 AND last_failure = $6"
                } else {
                    "UPDATE login_failures SET count = ?3, last_failure = ?4 \
                     WHERE realm = ?1 AND key = ?2 AND count = ?5 AND last_failure = ?6"
                },
                [
                    realm.into(),
                    key.into(),
                    next.count.into(),
                    next.last_failure.secs().into(),
                    e.count.into(),
                    e.last_failure.secs().into(),
                ],
            ),
        };
        Ok(self.db().execute_raw(stmt).await.repo()?.rows_affected() == 1)
    }

    async fn refund_failure(&self, realm: RealmName<'_>, key: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let backend = self.db().get_database_backend();
        let sql = if backend == DbBackend::Postgres {
            "UPDATE login_failures SET count = count - 1 WHERE realm = $1 AND key = $2 AND count > 0"
        } else {
            "UPDATE login_failures SET count = count - 1 WHERE realm = ?1 AND key = ?2 AND count > 0"
        };
        self.db()
            .execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [realm.into(), key.into()]))
            .await
            .repo()?;
        Ok(())
    }
}

#[async_trait]
impl AuditRepo for Store {
    async fn record_event(&self, event: &AuditEvent) -> RepoResult<()> {
        audit_events::Entity::insert(audit_events::ActiveModel::from(event))
            .exec_without_returning(self.db())
            .await
            .repo()?;
        Ok(())
    }

    async fn events(&self, realm: RealmName<'_>, limit: u64) -> RepoResult<Vec<AuditEvent>> {
        let realm = realm.as_str();
        let rows = audit_events::Entity::find()
            .filter(audit_events::Column::Realm.eq(realm))
            .order_by_desc(audit_events::Column::Id)
            .limit(limit)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }
}

#[async_trait]
impl RegistrationRepo for Store {
    async fn create_initial_token(&self, token: &InitialAccessToken) -> RepoResult<()> {
        insert(self.db(), initial_access_tokens::Model::from(token)).await
    }

    async fn initial_tokens(&self, realm: RealmName<'_>) -> RepoResult<Vec<InitialAccessToken>> {
        let realm = realm.as_str();
        let rows = initial_access_tokens::Entity::find()
            .filter(initial_access_tokens::Column::Realm.eq(realm))
            .order_by_asc(initial_access_tokens::Column::CreatedAt)
            .all(self.db())
            .await
            .repo()?;
        Ok(rows.into_iter().map(InitialAccessToken::from).collect())
    }

    async fn delete_initial_token(&self, realm: RealmName<'_>, id: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let res = initial_access_tokens::Entity::delete_many()
            .filter(initial_access_tokens::Column::Realm.eq(realm))
            .filter(initial_access_tokens::Column::Id.eq(id))
            .exec(self.db())
            .await
            .repo()?;
        found(res.rows_affected, || format!("initial access token '{id}' in realm '{realm}'"))
    }

    async fn initial_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<Option<InitialAccessToken>> {
        let realm = realm.as_str();
        let row = initial_access_tokens::Entity::find()
            .filter(initial_access_tokens::Column::Realm.eq(realm))
            .filter(initial_access_tokens::Column::Digest.eq(digest.as_str()))
            .unique_row(self.db())
            .await?;
        Ok(row.map(InitialAccessToken::from))
    }

    /// With a client limit, the transaction first writes the realm's row
    /// (`UPDATE realms SET name = name`): that takes PostgreSQL's row lock
    /// and SQLite's write lock, so concurrent registrations of one realm
    /// count and insert one after the other, and the count is exact.
    /// `UPDATE initial_access_tokens SET used = used + 1 WHERE ... AND used < max_uses`
    /// decides, under the row lock, whether this registration may happen;
    /// the client and registration rows follow in the same transaction.
    async fn register_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
        token_digest: Option<&Digest>,
        now: UnixTime,
        max_clients: Option<u64>,
    ) -> RepoResult<Registered> {
        let txn = self.begin().await.repo()?;
        if let Some(max) = max_clients {
            realms::Entity::update_many()
                .col_expr(realms::Column::Name, Expr::col(realms::Column::Name))
                .filter(realms::Column::Name.eq(client.realm.as_str()))
                .exec(&txn)
                .await
                .repo()?;
            use sea_orm::PaginatorTrait as _;
            let count = clients::Entity::find()
                .filter(clients::Column::Realm.eq(client.realm.as_str()))
                .count(&txn)
                .await
                .repo()?;
            if count >= max {
                txn.rollback().await.repo()?;
                return Ok(Registered::LimitReached);
            }
        }
        if let Some(digest) = token_digest {
            let res = initial_access_tokens::Entity::update_many()
                .col_expr(initial_access_tokens::Column::Used, Expr::col(initial_access_tokens::Column::Used).add(1))
                .filter(initial_access_tokens::Column::Realm.eq(client.realm.as_str()))
                .filter(initial_access_tokens::Column::Digest.eq(digest.as_str()))
                .filter(
                    Expr::col(initial_access_tokens::Column::Used)
                        .lt(Expr::col(initial_access_tokens::Column::MaxUses)),
                )
                .filter(
                    initial_access_tokens::Column::ExpiresAt
                        .is_null()
                        .or(initial_access_tokens::Column::ExpiresAt.gt(now.secs())),
                )
                .exec(&txn)
                .await
                .repo()?;
            if res.rows_affected == 0 {
                txn.rollback().await.repo()?;
                return Ok(Registered::TokenRefused);
            }
        }
        insert(&txn, clients::Model::from(client)).await?;
        insert(&txn, client_registrations::Model::from(registration)).await?;
        self.commit(txn).await.repo()?;
        Ok(Registered::Created)
    }

    /// `INSERT ... ON CONFLICT (realm, client_id) DO UPDATE SET token_digest`.
    async fn set_registration_token(&self, registration: &ClientRegistration) -> RepoResult<()> {
        client_registrations::Entity::insert(client_registrations::Model::from(registration).into_active_model())
            .on_conflict(
                OnConflict::columns([client_registrations::Column::Realm, client_registrations::Column::ClientId])
                    .update_column(client_registrations::Column::TokenDigest)
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await
            .repo()?;
        Ok(())
    }

    async fn registration(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<Option<ClientRegistration>> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let row = client_registrations::Entity::find_by_id((realm.to_owned(), client_id.to_owned()))
            .unique_row(self.db())
            .await?;
        Ok(row.map(ClientRegistration::from))
    }

    async fn rotate_registration_token(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
        old: &Digest,
        new: &Digest,
    ) -> RepoResult<bool> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        let res = client_registrations::Entity::update_many()
            .col_expr(client_registrations::Column::TokenDigest, Expr::value(new.as_str()))
            .filter(client_registrations::Column::Realm.eq(realm))
            .filter(client_registrations::Column::ClientId.eq(client_id))
            .filter(client_registrations::Column::TokenDigest.eq(old.as_str()))
            .exec(self.db())
            .await
            .repo()?;
        Ok(res.rows_affected == 1)
    }

    async fn update_registered_client(
        &self,
        client: &Client,
        metadata: &str,
        old: &Digest,
        new: &Digest,
    ) -> RepoResult<bool> {
        let txn = self.begin().await.repo()?;
        let res = client_registrations::Entity::update_many()
            .col_expr(client_registrations::Column::TokenDigest, Expr::value(new.as_str()))
            .col_expr(client_registrations::Column::Metadata, Expr::value(metadata))
            .filter(client_registrations::Column::Realm.eq(client.realm.as_str()))
            .filter(client_registrations::Column::ClientId.eq(client.client_id.as_str()))
            .filter(client_registrations::Column::TokenDigest.eq(old.as_str()))
            .exec(&txn)
            .await
            .repo()?;
        if res.rows_affected != 1 {
            txn.rollback().await.repo()?;
            return Ok(false);
        }
        let mut row = clients::Model::from(client).into_active_model().reset_all();
        row.realm = ActiveValue::NotSet;
        row.client_id = ActiveValue::NotSet;
        clients::Entity::update_many()
            .set(row)
            .filter(clients::Column::Realm.eq(client.realm.as_str()))
            .filter(clients::Column::ClientId.eq(client.client_id.as_str()))
            .exec(&txn)
            .await
            .repo()?;
        self.commit(txn).await.repo()?;
        Ok(true)
    }

    async fn client_count(&self, realm: RealmName<'_>) -> RepoResult<u64> {
        let realm = realm.as_str();
        use sea_orm::PaginatorTrait as _;
        clients::Entity::find().filter(clients::Column::Realm.eq(realm)).count(self.db()).await.repo()
    }

    async fn policies(&self, realm: RealmName<'_>, kind: PolicyKind) -> RepoResult<Option<String>> {
        let realm = realm.as_str();
        let row = registration_policies::Entity::find_by_id((realm.to_owned(), kind.as_str().to_owned()))
            .unique_row(self.db())
            .await?;
        Ok(row.map(|r| <(PolicyKind, String)>::from(r).1))
    }

    async fn set_policies(&self, realm: RealmName<'_>, kind: PolicyKind, json: &str) -> RepoResult<()> {
        let realm = realm.as_str();
        let row = registration_policies::Model {
            realm: realm.to_owned(),
            kind: kind.as_str().to_owned(),
            config: json.to_owned(),
        };
        registration_policies::Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::columns([registration_policies::Column::Realm, registration_policies::Column::Kind])
                    .update_column(registration_policies::Column::Config)
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await
            .repo()?;
        Ok(())
    }
}

#[async_trait]
impl ReplayRepo for Store {
    /// Forgets expired ids of the realm, then inserts: a unique violation is a replay.
    async fn use_once(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> RepoResult<bool> {
        let realm = realm.as_str();
        let client_id = client_id.as_str();
        used_assertions::Entity::delete_many()
            .filter(used_assertions::Column::Realm.eq(realm))
            .filter(used_assertions::Column::ExpiresAt.lte(now.secs()))
            .exec(self.db())
            .await
            .repo()?;
        let row = used_assertions::Model::from(crate::convert::UsedAssertion(realm, client_id, jti, expires_at));
        match insert(self.db(), row).await {
            Ok(()) => Ok(true),
            Err(RepoError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Deletes at most `batch` rows of `table` whose `expires_at` is at or
/// before `now`: `DELETE FROM t WHERE (pk...) IN (SELECT pk... FROM t WHERE
/// expires_at <= ? LIMIT ?)`, portable to SQLite and PostgreSQL, so that one
/// statement never holds the table long.
async fn delete_expired_from(
    db: &impl ConnectionTrait,
    table: &'static str,
    key: &[&'static str],
    now: UnixTime,
    batch: u64,
) -> RepoResult<u64> {
    let expired = Query::select()
        .columns(key.iter().copied())
        .from(table)
        .and_where(Expr::col("expires_at").lte(now.secs()))
        .limit(batch)
        .to_owned();
    let delete = Query::delete()
        .from_table(table)
        .and_where(Expr::tuple(key.iter().map(|c| Expr::col(*c))).in_subquery(expired))
        .to_owned();
    Ok(db.execute(&delete).await.repo()?.rows_affected())
}

#[async_trait]
impl CleanupRepo for Store {
    async fn delete_expired(&self, now: UnixTime, failures_before: UnixTime, batch: u64) -> RepoResult<Expired> {
        let db = self.db();
        // The clients each expiring session served go first, with the same bound.
        let expiring_sessions = Query::select()
            .columns(["realm", "id"])
            .from("login_sessions")
            .and_where(Expr::col("expires_at").lte(now.secs()))
            .limit(batch)
            .to_owned();
        let served = Query::delete()
            .from_table("session_clients")
            .and_where(Expr::tuple([Expr::col("realm"), Expr::col("session_id")]).in_subquery(expiring_sessions))
            .to_owned();
        db.execute(&served).await.repo()?;
        let stale = Query::select()
            .columns(["realm", "key"])
            .from("login_failures")
            .and_where(Expr::col("last_failure").lt(failures_before.secs()))
            .limit(batch)
            .to_owned();
        let forget = Query::delete()
            .from_table("login_failures")
            .and_where(Expr::tuple([Expr::col("realm"), Expr::col("key")]).in_subquery(stale))
            .to_owned();
        let failure_counts = db.execute(&forget).await.repo()?.rows_affected();
        Ok(Expired {
            failure_counts,
            codes: delete_expired_from(db, "auth_codes", &["digest"], now, batch).await?,
            access_tokens: delete_expired_from(db, "access_tokens", &["digest"], now, batch).await?,
            refresh_tokens: delete_expired_from(db, "refresh_tokens", &["digest"], now, batch).await?,
            sessions: delete_expired_from(db, "login_sessions", &["digest"], now, batch).await?,
            consents: delete_expired_from(db, "consents", &["realm", "user_id", "client_id"], now, batch).await?,
            assertions: delete_expired_from(db, "used_assertions", &["realm", "client_id", "jti"], now, batch).await?,
        })
    }
}
