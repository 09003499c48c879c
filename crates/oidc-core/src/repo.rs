//! Repository traits: the storage the flows need, small and role-based.
//!
//! Flows never call these; adapters fetch what a flow asks for and store what
//! it returns. `oidc-store` implements every trait over SeaORM; tests can
//! implement them in memory.
//!
//! Realms, clients and users are named by the typed ids of [`crate::ids`],
//! which the records hand out (`client.client_id()`, `user.id()`), so a call
//! with two ids swapped is a compile error, not a query that finds nothing:
//!
//! ```
//! # use oidc_core::{model::{Client, User}, repo::{ConsentRepo, RepoResult}};
//! async fn consent_given(repo: &impl ConsentRepo, user: &User, client: &Client) -> RepoResult<bool> {
//!     Ok(repo.consent(client.realm(), user.id(), client.client_id()).await?.is_some())
//! }
//! ```
//!
//! ```compile_fail
//! # use oidc_core::{model::{Client, User}, repo::{ConsentRepo, RepoResult}};
//! async fn consent_given(repo: &impl ConsentRepo, user: &User, client: &Client) -> RepoResult<bool> {
//!     // expected `UserId<'_>`, found `ClientId<'_>`
//!     Ok(repo.consent(client.realm(), client.client_id(), user.id()).await?.is_some())
//! }
//! ```

use async_trait::async_trait;

use crate::ids::{ClientId, RealmName, UserId};
use crate::model::{
    AccessTokenRecord, AuditEvent, Client, CodeRecord, Consent, KeyRecord, KeyState, LoginSession, PasswordHash, Realm,
    RefreshTokenRecord, User,
};
use crate::registration::{ClientRegistration, InitialAccessToken, PolicyKind};
use crate::secret::Digest;
use crate::throttle::FailureCount;
use crate::time::UnixTime;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// A row with the same unique key exists (for example a client_id or username).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend failed.
    #[error("storage failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Shorthand for repository results.
pub type RepoResult<T> = Result<T, RepoError>;

/// Realms.
#[async_trait]
pub trait RealmRepo: Send + Sync {
    /// The realm named `name`.
    async fn realm(&self, name: RealmName<'_>) -> RepoResult<Option<Realm>>;
    /// Creates a realm; `Conflict` if it exists.
    async fn create_realm(&self, realm: &Realm) -> RepoResult<()>;
    /// Every realm's name.
    async fn realm_names(&self) -> RepoResult<Vec<String>>;
}

/// Server signing keys.
#[async_trait]
pub trait KeyRepo: Send + Sync {
    /// Every key of `realm`, in any state.
    async fn keys(&self, realm: RealmName<'_>) -> RepoResult<Vec<KeyRecord>>;
    /// Stores a new key.
    async fn add_key(&self, key: &KeyRecord) -> RepoResult<()>;
    /// Changes a key's state and, for a retired key, until when it stays
    /// published; `NotFound` if there is no such key.
    async fn set_key_state(
        &self,
        realm: RealmName<'_>,
        kid: &str,
        state: KeyState,
        published_until: Option<UnixTime>,
    ) -> RepoResult<()>;
}

/// Relying parties.
#[async_trait]
pub trait ClientRepo: Send + Sync {
    /// The client `client_id` of `realm`.
    async fn client(&self, realm: RealmName<'_>, client_id: ClientId<'_>) -> RepoResult<Option<Client>>;
    /// Every client of `realm`, by client_id.
    async fn clients(&self, realm: RealmName<'_>) -> RepoResult<Vec<Client>>;
    /// Stores a new client; `Conflict` if the client_id is taken.
    async fn create_client(&self, client: &Client) -> RepoResult<()>;
    /// Replaces a client; `NotFound` if absent.
    async fn update_client(&self, client: &Client) -> RepoResult<()>;
    /// Deletes a client with its codes, tokens and consents; `NotFound` if absent.
    async fn delete_client(&self, realm: RealmName<'_>, client_id: ClientId<'_>) -> RepoResult<()>;
}

/// End-users.
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// The user with `username` in `realm`.
    async fn user_by_username(&self, realm: RealmName<'_>, username: &str) -> RepoResult<Option<User>>;
    /// The user with id (`sub`) `id` in `realm`.
    async fn user(&self, realm: RealmName<'_>, id: UserId<'_>) -> RepoResult<Option<User>>;
    /// Every user of `realm`, by username.
    async fn users(&self, realm: RealmName<'_>) -> RepoResult<Vec<User>>;
    /// Stores a new user; `Conflict` if the username is taken.
    async fn create_user(&self, user: &User) -> RepoResult<()>;
    /// Replaces a user's username, state, claims and attributes (not the
    /// password hash); `NotFound` if absent, `Conflict` if the username is taken.
    async fn update_user(&self, user: &User) -> RepoResult<()>;
    /// Replaces a user's password hash.
    async fn set_password_hash(&self, realm: RealmName<'_>, id: UserId<'_>, hash: &PasswordHash) -> RepoResult<()>;
    /// Deletes a user with sessions, codes, tokens and consents; `NotFound` if absent.
    async fn delete_user(&self, realm: RealmName<'_>, id: UserId<'_>) -> RepoResult<()>;
}

/// Login sessions at the provider.
#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &LoginSession) -> RepoResult<()>;
    /// The unexpired session whose cookie has digest `digest`.
    async fn session(&self, realm: RealmName<'_>, digest: &Digest, now: UnixTime) -> RepoResult<Option<LoginSession>>;
    /// The unexpired session with its user (`None` when the user is gone), in
    /// one read where the storage can join.
    async fn session_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        now: UnixTime,
    ) -> RepoResult<Option<(LoginSession, Option<User>)>>;
    /// Ends a session.
    async fn delete_session(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<()>;
    /// The unexpired session with public id `id`.
    async fn session_by_id(&self, realm: RealmName<'_>, id: &str, now: UnixTime) -> RepoResult<Option<LoginSession>>;
    /// The unexpired sessions of a user, newest first.
    async fn sessions_of_user(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        now: UnixTime,
    ) -> RepoResult<Vec<LoginSession>>;
    /// Records a use of session `id` at `now`, with its new expiry.
    async fn touch_session(
        &self,
        realm: RealmName<'_>,
        id: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> RepoResult<()>;
    /// Records that session `id` issued tokens (or a code) to `client_id`
    /// (idempotent), so that logout notifies exactly those clients.
    async fn add_session_client(
        &self,
        realm: RealmName<'_>,
        id: &str,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<()>;
    /// The clients session `id` issued tokens to, in the order they were first issued.
    async fn session_clients(&self, realm: RealmName<'_>, id: &str) -> RepoResult<Vec<String>>;
    /// Ends session `id` and what belongs to it, together: the session, its
    /// list of clients, the access tokens and (not offline) refresh tokens
    /// issued in it; its unused codes are spent. Idempotent.
    async fn end_session(&self, realm: RealmName<'_>, id: &str) -> RepoResult<()>;
}

/// Consents (the seed's `UserConsent`).
#[async_trait]
pub trait ConsentRepo: Send + Sync {
    /// The consent of `user_id` to `client_id`, expired or not.
    async fn consent(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<Option<Consent>>;
    /// Creates or replaces the consent of its user to its client.
    async fn save_consent(&self, consent: &Consent) -> RepoResult<()>;
    /// The consents a user has given: the apps they authorized.
    async fn consents_of_user(&self, realm: RealmName<'_>, user_id: UserId<'_>) -> RepoResult<Vec<Consent>>;
    /// Withdraws a consent and revokes the access and refresh tokens the
    /// client holds for the user, together.
    async fn delete_consent(
        &self,
        realm: RealmName<'_>,
        user_id: UserId<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<()>;
}

/// What redeeming an authorization code found, or reading it before its
/// redemption ([`CodeRepo::code_with_context`]).
#[derive(Debug)]
pub enum Redeemed {
    /// No code with that digest.
    Unknown,
    /// The code, redeemed now for the first time (or, when only read,
    /// unused when it was read).
    First(CodeRecord),
    /// The code was redeemed before by its own client: a replay (RFC 6749 §4.1.2).
    Replayed(CodeRecord),
    /// The code was issued to another client: nothing was changed
    /// (RFC 6749 §4.1.3: the code is bound to its client).
    OtherClient,
}

/// Authorization codes.
#[async_trait]
pub trait CodeRepo: Send + Sync {
    /// Stores a new code.
    async fn save_code(&self, code: &CodeRecord) -> RepoResult<()>;
    /// Marks the code of `client_id` used and returns it, atomically: of
    /// concurrent calls for one code exactly one sees [`Redeemed::First`]. A
    /// code of another client is left as it is ([`Redeemed::OtherClient`]),
    /// so that presenting a leaked code cannot spend it. A first redemption
    /// comes with what the token endpoint reads next, found with the code in
    /// one read where the storage can join: its login session if it has one
    /// that is unexpired at `now`, and its user. For any other outcome the
    /// [`CodeContext`] is empty.
    async fn redeem_code_with_context(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<(Redeemed, CodeContext)>;
    /// Marks the code of `realm` and `client_id` used if it is unused, and
    /// nothing else: `true` if this call spent it. A code of another client,
    /// or an unknown one, is left as it is (`false`). For a presentation the
    /// token endpoint refused, so that a code is presented once (RFC 6749
    /// §4.1.2).
    async fn spend_code(&self, realm: RealmName<'_>, digest: &Digest, client_id: ClientId<'_>) -> RepoResult<bool>;
    /// Reads the code as [`CodeRepo::redeem_code_with_context`] would find
    /// it, without spending it: [`Redeemed::First`] for a code of
    /// `client_id` unused at the time of the read (with its context),
    /// [`Redeemed::Replayed`] for one it used before. The token endpoint
    /// reads first and spends the code with the tokens it issues
    /// ([`CodeRepo::redeem_code_with_tokens`]).
    async fn code_with_context(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
    ) -> RepoResult<(Redeemed, CodeContext)>;
    /// Marks the code of `realm` and `client_id` used and stores the tokens
    /// that redeem it, only if the code is still unused; `false` (nothing
    /// stored, nothing changed) when it is used, unknown or another
    /// client's. Of concurrent calls for one code at most one returns
    /// `true`. The spend and the tokens are one unit of work where the
    /// storage allows it (one statement on PostgreSQL); otherwise the spend
    /// commits first, so that a failure between the two can lose tokens
    /// never sent, never spend a code twice.
    async fn redeem_code_with_tokens(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        access: &AccessTokenRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> RepoResult<bool>;
}

/// What [`CodeRepo::redeem_code_with_context`] found with a code redeemed
/// for the first time.
#[derive(Debug, Default)]
pub struct CodeContext {
    /// The code's login session, unexpired (`None`: the code has none, or it ended).
    pub session: Option<LoginSession>,
    /// The code's user (`None`: the user is gone).
    pub user: Option<User>,
}

/// What rotating a refresh token found.
#[derive(Debug)]
pub enum Rotated {
    /// No refresh token with that digest.
    Unknown,
    /// The token, used now for the first time; it no longer works.
    First(RefreshTokenRecord),
    /// The token was rotated less than the reuse interval ago and is
    /// presented once more by its client (whose answer may have been lost):
    /// it yields a new pair from the same grant, once.
    Reused(RefreshTokenRecord),
    /// The token was used before by its own client: a replay.
    Replayed(RefreshTokenRecord),
    /// The token was issued to another client: nothing was changed
    /// (RFC 6749 §6: the refresh token is bound to its client).
    OtherClient,
}

/// Access and refresh tokens.
#[async_trait]
pub trait TokenRepo: Send + Sync {
    /// Stores the tokens of one token response together, in one statement
    /// where the storage can.
    async fn save_tokens(&self, access: &AccessTokenRecord, refresh: Option<&RefreshTokenRecord>) -> RepoResult<()>;
    /// The access token with digest `digest`, if stored (expired or not).
    async fn access_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<Option<AccessTokenRecord>>;
    /// The access token with its user (`None` for a token without one, or
    /// when the user is gone), in one read where the storage can join.
    async fn access_token_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<(AccessTokenRecord, Option<User>)>>;
    /// The refresh token with digest `digest` (expired, used or not), whether
    /// it was used, and its user (`None` when the user is gone), in one read
    /// where the storage can join (for introspection and revocation).
    async fn refresh_token_with_user(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<(RefreshTokenRecord, bool, Option<User>)>>;
    /// Marks a refresh token of `client_id` used at `now` and returns it,
    /// atomically; another client's token is left as it is
    /// ([`Rotated::OtherClient`]). With a `reuse_interval` (seconds, 0 for
    /// none), a token rotated less than that long ago may be used once more
    /// ([`Rotated::Reused`]); of concurrent reuses one wins.
    async fn use_refresh_token(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
        client_id: ClientId<'_>,
        now: UnixTime,
        reuse_interval: i64,
    ) -> RepoResult<Rotated>;
    /// Deletes one access token (RFC 7009 §2.1); false when there was none.
    async fn revoke_access_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<bool>;
    /// The refresh token with digest `digest` if it was never used (expired or not), without using it.
    async fn unused_refresh_token(
        &self,
        realm: RealmName<'_>,
        digest: &Digest,
    ) -> RepoResult<Option<RefreshTokenRecord>>;
    /// Revokes every token of a grant (after a code or refresh token replay).
    async fn revoke_grant(&self, realm: RealmName<'_>, grant_id: &str) -> RepoResult<()>;
}

/// Failed password checks, for brute-force protection ([`crate::throttle`]).
/// Counts are shared by every server instance using the same storage.
#[async_trait]
pub trait ThrottleRepo: Send + Sync {
    /// The failures recorded for `key`.
    async fn failures(&self, realm: RealmName<'_>, key: &str) -> RepoResult<Option<FailureCount>>;
    /// Records one failure at `now` atomically, resetting the count first when
    /// the previous failure is more than `window` seconds old; returns the new count.
    async fn record_failure(
        &self,
        realm: RealmName<'_>,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> RepoResult<FailureCount>;
    /// Forgets the failures of `key` (after a successful check).
    async fn clear_failures(&self, realm: RealmName<'_>, key: &str) -> RepoResult<()>;
    /// Replaces the count of `key` with `next` if it is still `expected`
    /// (`None`: no count yet), atomically; `false` when another attempt changed
    /// it first. Counting attempts this way before checking their passwords lets
    /// no more than the threshold through, however many arrive at once.
    async fn swap_failures(
        &self,
        realm: RealmName<'_>,
        key: &str,
        expected: Option<&FailureCount>,
        next: &FailureCount,
    ) -> RepoResult<bool>;
    /// Takes one attempt back from the count of `key` (an attempt counted in
    /// advance that succeeded), never below zero.
    async fn refund_failure(&self, realm: RealmName<'_>, key: &str) -> RepoResult<()>;
}

/// What registering a client with an initial access token found.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// The client and its registration were stored (and a use of the token counted).
    Created,
    /// The initial access token is unknown, expired or used up: nothing was stored.
    TokenRefused,
    /// The realm already has `max_clients` clients (the max-clients policy): nothing was stored.
    LimitReached,
}

/// Dynamic registration: initial access tokens, registrations and policies.
#[async_trait]
pub trait RegistrationRepo: Send + Sync {
    /// Stores a new initial access token.
    async fn create_initial_token(&self, token: &InitialAccessToken) -> RepoResult<()>;
    /// The initial access tokens of `realm`.
    async fn initial_tokens(&self, realm: RealmName<'_>) -> RepoResult<Vec<InitialAccessToken>>;
    /// Deletes an initial access token by id; `NotFound` if absent.
    async fn delete_initial_token(&self, realm: RealmName<'_>, id: &str) -> RepoResult<()>;
    /// The initial access token with `digest`, if there is one (expired or not).
    async fn initial_token(&self, realm: RealmName<'_>, digest: &Digest) -> RepoResult<Option<InitialAccessToken>>;
    /// In one transaction: when `max_clients` is given, refuses if the realm
    /// already has that many clients; counts a use of the initial access
    /// token with `token_digest` (when given) if it is unexpired at `now` and
    /// not used up; then stores the client and its registration. Concurrent
    /// calls never exceed the token's count nor `max_clients`; a refusal or
    /// failure stores nothing.
    async fn register_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
        token_digest: Option<&Digest>,
        now: UnixTime,
        max_clients: Option<u64>,
    ) -> RepoResult<Registered>;
    /// Gives a client a new registration access token (Keycloak's "Generate
    /// registration access token"): replaces the digest of its registration,
    /// or creates one (not anonymous) for a client an operator created.
    async fn set_registration_token(&self, registration: &ClientRegistration) -> RepoResult<()>;
    /// The registration of a client.
    async fn registration(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
    ) -> RepoResult<Option<ClientRegistration>>;
    /// Replaces the registration access token's digest if it is still
    /// `old`: true when this call rotated it (one winner among concurrent uses).
    async fn rotate_registration_token(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
        old: &Digest,
        new: &Digest,
    ) -> RepoResult<bool>;
    /// In one transaction: rotates the token like [`Self::rotate_registration_token`]
    /// and, if that succeeded, replaces the client and its stored metadata.
    async fn update_registered_client(
        &self,
        client: &Client,
        metadata: &str,
        old: &Digest,
        new: &Digest,
    ) -> RepoResult<bool>;
    /// The number of clients in `realm` (for the max-clients policy).
    async fn client_count(&self, realm: RealmName<'_>) -> RepoResult<u64>;
    /// The stored policies of a kind as JSON, if any were set.
    async fn policies(&self, realm: RealmName<'_>, kind: PolicyKind) -> RepoResult<Option<String>>;
    /// Stores the policies of a kind.
    async fn set_policies(&self, realm: RealmName<'_>, kind: PolicyKind, json: &str) -> RepoResult<()>;
}

/// One-time values: client assertion `jti`s (RFC 7523 §3 item 7).
#[async_trait]
pub trait ReplayRepo: Send + Sync {
    /// Records `jti` of `client_id` as used until `expires_at`; false when it
    /// was already recorded (a replay). Records past their expiry at `now`
    /// may be forgotten.
    async fn use_once(
        &self,
        realm: RealmName<'_>,
        client_id: ClientId<'_>,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> RepoResult<bool>;
}

/// Who holds a realm role: a user, or a client acting on its own behalf
/// (a service account, with `client_credentials` tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleHolder {
    /// A user, by id.
    User(String),
    /// A client's service account, by client_id.
    Client(String),
}

/// Realm roles: their definitions (Keycloak's realm roles) and who holds them.
/// The built-in roles (`create-client`, `manage-clients`, `view-clients`,
/// [`crate::roles::BUILTIN_ROLES`]) are never stored as definitions.
#[async_trait]
pub trait RoleRepo: Send + Sync {
    /// The roles defined in `realm`, by name.
    async fn role_definitions(&self, realm: RealmName<'_>) -> RepoResult<Vec<crate::roles::RoleDef>>;
    /// Defines a role; `Conflict` if one of that name exists.
    async fn define_role(&self, realm: RealmName<'_>, role: &crate::roles::RoleDef) -> RepoResult<()>;
    /// Deletes a role's definition, every grant of it and its place in
    /// clients' role scopes, in one transaction; `NotFound` if it was not defined.
    async fn delete_role(&self, realm: RealmName<'_>, name: &str) -> RepoResult<()>;
    /// The roles `holder` has in `realm`.
    async fn roles(&self, realm: RealmName<'_>, holder: &RoleHolder) -> RepoResult<Vec<String>>;
    /// Gives `holder` a role (idempotent).
    async fn grant_role(&self, realm: RealmName<'_>, holder: &RoleHolder, role: &str) -> RepoResult<()>;
    /// Takes a role away; `NotFound` if the holder did not have it.
    async fn revoke_role(&self, realm: RealmName<'_>, holder: &RoleHolder, role: &str) -> RepoResult<()>;
    /// Every role assignment of `realm`.
    async fn role_assignments(&self, realm: RealmName<'_>) -> RepoResult<Vec<(RoleHolder, String)>>;
}

/// The audit log: security-relevant events, newest last.
#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// Appends an event.
    async fn record_event(&self, event: &AuditEvent) -> RepoResult<()>;
    /// The most recent `limit` events of `realm`, newest first.
    async fn events(&self, realm: RealmName<'_>, limit: u64) -> RepoResult<Vec<AuditEvent>>;
}

/// How many expired rows one cleanup round deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Authorization codes.
    pub codes: u64,
    /// Access tokens.
    pub access_tokens: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Login sessions.
    pub sessions: u64,
    /// Consents.
    pub consents: u64,
    /// Client assertion ids (RFC 7523 replay records).
    pub assertions: u64,
    /// Failed-password counters nobody has added to for longer than any lockout lasts.
    pub failure_counts: u64,
}

impl Expired {
    /// Every count.
    pub fn counts(&self) -> [u64; 7] {
        [
            self.codes,
            self.access_tokens,
            self.refresh_tokens,
            self.sessions,
            self.consents,
            self.assertions,
            self.failure_counts,
        ]
    }

    /// The rows deleted in all.
    pub fn total(&self) -> u64 {
        self.counts().iter().sum()
    }

    /// Adds another round's counts.
    pub fn add(&mut self, other: Expired) {
        self.codes += other.codes;
        self.access_tokens += other.access_tokens;
        self.refresh_tokens += other.refresh_tokens;
        self.sessions += other.sessions;
        self.consents += other.consents;
        self.assertions += other.assertions;
        self.failure_counts += other.failure_counts;
    }
}

/// Removing what has expired, so that tables do not grow forever.
#[async_trait]
pub trait CleanupRepo: Send + Sync {
    /// Deletes, in every realm, at most `batch` rows of each table of
    /// expiring things whose expiry is at or before `now`: codes, access and
    /// refresh tokens (used or not), login sessions (with the record of the
    /// clients each one served), consents and client assertion ids, and the
    /// failed-password counters last touched before `failures_before`. Live
    /// rows stay. The caller repeats while a table had a full batch.
    async fn delete_expired(&self, now: UnixTime, failures_before: UnixTime, batch: u64) -> RepoResult<Expired>;
}

/// Every repository: what an adapter holds as one object.
pub trait Repositories:
    RealmRepo
    + KeyRepo
    + ClientRepo
    + UserRepo
    + SessionRepo
    + ConsentRepo
    + CodeRepo
    + TokenRepo
    + ThrottleRepo
    + AuditRepo
    + RegistrationRepo
    + RoleRepo
    + ReplayRepo
    + CleanupRepo
{
}

impl<T> Repositories for T where
    T: RealmRepo
        + KeyRepo
        + ClientRepo
        + UserRepo
        + SessionRepo
        + ConsentRepo
        + CodeRepo
        + TokenRepo
        + ThrottleRepo
        + AuditRepo
        + RegistrationRepo
        + RoleRepo
        + ReplayRepo
        + CleanupRepo
{
}
