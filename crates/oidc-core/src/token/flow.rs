//! The token endpoint as a state machine that says what it needs next.
//!
//! ```text
//!  TokenFlow::new(form, Authorization) ──▶ client authentication (ClientAuth):
//!      Need::Client ─▶ [Need::ClientKeys ─▶ (again once on an unknown key)] ─▶ [Need::AssertionJti]
//!  ──▶ the grant is parsed (scope, claims, resources) only now ──▶ by grant type:
//!      authorization_code: Need::Code (read, not spent) ─▶ [Need::RevokeGrant on a replay]
//!                          (answered with the code's session and user, the next two needs are skipped;
//!                          a refused request spends the code alone: Need::SpendCode)
//!      refresh_token:      [Need::RefreshRecord when narrowing] ─▶ Need::RotateRefresh ─▶ [Need::RevokeGrant]
//!      password:           Need::CheckPassword
//!      client_credentials: (no user)
//!  ──▶ [Need::Session ─▶ Need::TouchSession: a grant of a login session, not offline]
//!  ──▶ Need::User (not for client_credentials) ──▶ [Need::Roles: the `roles` scope granted]
//!  ──▶ Need::Store (a code is spent with the tokens, atomically) ──▶ Step::Done(TokenResponse)
//!      [a code redeemed meanwhile: Answer::CodeTaken ─▶ Need::RevokeGrant]
//! ```
//!
//! The adapter is one loop: it asks [`TokenFlow::step`] what is needed,
//! fetches or stores it, and hands the [`Answer`] back; a new grant type is a
//! change in here. [`Grant`](super::Grant)s exist only inside the flow.
//! Introspection and revocation reuse the client authentication step
//! ([`ClientAuth`]).

use crate::config::Settings;
use crate::error::OAuthError;
use crate::hooks::Hooks;
use crate::jose::KeySet;
use crate::model::{AccessTokenRecord, Client, RefreshTokenRecord, User};
use crate::params::Params;
use crate::rand::Random;
use crate::repo::{CodeContext, Redeemed, RoleHolder, Rotated};
use crate::scope::{Scope, ScopeRegistry};
use crate::secret::{Digest, Password};
use crate::time::UnixTime;

use super::{ClientCredentials, Grant, GrantFailure, GrantRequest};

/// What client authentication needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthNeed {
    /// The client named by the credentials (answer [`AuthAnswer::Client`]).
    Client {
        /// Its id.
        client_id: String,
    },
    /// The client with the keys of its `jwks_uri` in `jwks`, fetched again
    /// when `refresh` (answer [`AuthAnswer::ClientKeys`]).
    ClientKeys {
        /// Fetch again rather than use a cached copy.
        refresh: bool,
    },
    /// Record a client assertion's `jti` as used until `expires_at`
    /// (RFC 7523 §3 item 7; answer [`AuthAnswer::FirstUse`]).
    AssertionJti {
        /// The client.
        client_id: String,
        /// The assertion's id.
        jti: String,
        /// Until when it must not be accepted again.
        expires_at: UnixTime,
    },
}

/// The adapter's answer to an [`AuthNeed`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AuthAnswer {
    /// The client, if there is one by that id.
    Client(Option<Client>),
    /// The client with its fetched keys, and whether they were fetched for this request.
    ClientKeys(Client, bool),
    /// Whether the `jti` was recorded now (false: a replay).
    FirstUse(bool),
}

/// Where client authentication stands.
#[derive(Debug)]
// One value per request, moved a few times: boxing the client would allocate for nothing.
#[allow(clippy::large_enum_variant)]
pub enum AuthStep {
    /// Answer this.
    Need(AuthNeed),
    /// The client is authenticated.
    Authenticated(Client),
    /// Authentication failed (`invalid_client`, RFC 6749 §5.2).
    Failed(OAuthError),
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum AuthState {
    Start,
    /// A client assertion: waiting for the client, then its keys.
    Keys {
        client: Client,
        retried: bool,
        fetched: Option<bool>,
        keyed: Option<Client>,
    },
    Jti {
        client: Client,
    },
    Done(Option<Client>),
    Failed(OAuthError),
}

/// Client authentication (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9) as a
/// state machine, for the token, introspection and revocation endpoints.
#[derive(Debug)]
pub struct ClientAuth {
    creds: ClientCredentials,
    audiences: Vec<String>,
    now: UnixTime,
    state: AuthState,
}

impl ClientAuth {
    /// Authentication of `creds`; an assertion's `aud` must be one of `audiences`.
    pub fn new(creds: ClientCredentials, audiences: Vec<String>, now: UnixTime) -> ClientAuth {
        ClientAuth { creds, audiences, now, state: AuthState::Start }
    }

    /// The client id presented.
    pub fn client_id(&self) -> &str {
        self.creds.client_id()
    }

    /// What is needed next, or the outcome.
    pub fn step(&mut self) -> AuthStep {
        match &mut self.state {
            AuthState::Start => AuthStep::Need(AuthNeed::Client { client_id: self.creds.client_id().to_owned() }),
            AuthState::Keys { fetched: None, retried, .. } => {
                AuthStep::Need(AuthNeed::ClientKeys { refresh: *retried })
            }
            AuthState::Keys { .. } => {
                let AuthState::Keys { client, retried, fetched, keyed } =
                    std::mem::replace(&mut self.state, AuthState::Start)
                else {
                    return AuthStep::Failed(OAuthError::server_error("client authentication lost its state"));
                };
                let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
                match super::authenticate_assertion(&self.creds, keyed.as_ref(), &audiences, self.now) {
                    Ok(used) => {
                        self.state = AuthState::Jti { client };
                        AuthStep::Need(AuthNeed::AssertionJti {
                            client_id: self.creds.client_id().to_owned(),
                            jti: used.jti,
                            expires_at: used.expires_at,
                        })
                    }
                    // A key the cached jwks_uri document does not have: fetch it again once
                    // (not when it was fetched for this very request).
                    Err(_)
                        if !retried && fetched == Some(false) && client.jwks_uri.is_some() && client.jwks.is_none() =>
                    {
                        self.state = AuthState::Keys { client, retried: true, fetched: None, keyed: None };
                        self.step()
                    }
                    Err(e) => self.fail(e),
                }
            }
            AuthState::Jti { .. } => AuthStep::Failed(OAuthError::server_error("waiting for the assertion's jti")),
            AuthState::Done(c) => match c.take() {
                Some(c) => AuthStep::Authenticated(c),
                None => AuthStep::Failed(OAuthError::server_error("client authentication already finished")),
            },
            AuthState::Failed(e) => AuthStep::Failed(e.clone()),
        }
    }

    fn fail(&mut self, e: OAuthError) -> AuthStep {
        self.state = AuthState::Failed(e.clone());
        AuthStep::Failed(e)
    }

    /// Takes the answer to the last [`AuthNeed`].
    pub fn answer(&mut self, answer: AuthAnswer) {
        let state = std::mem::replace(&mut self.state, AuthState::Start);
        self.state = match (state, answer) {
            (AuthState::Start, AuthAnswer::Client(client)) => {
                if matches!(self.creds, ClientCredentials::Assertion { .. }) {
                    match client.filter(|c| c.enabled) {
                        Some(client) => AuthState::Keys { client, retried: false, fetched: None, keyed: None },
                        None => AuthState::Failed(OAuthError::invalid_client(
                            "client assertion refused: unknown or disabled client",
                        )),
                    }
                } else {
                    match super::authenticate(&self.creds, client.as_ref()) {
                        Ok(()) => AuthState::Done(client),
                        Err(e) => AuthState::Failed(e),
                    }
                }
            }
            (AuthState::Keys { client, retried, .. }, AuthAnswer::ClientKeys(keyed, fetched)) => {
                AuthState::Keys { client, retried, fetched: Some(fetched), keyed: Some(keyed) }
            }
            (AuthState::Jti { client }, AuthAnswer::FirstUse(true)) => AuthState::Done(Some(client)),
            (AuthState::Jti { .. }, AuthAnswer::FirstUse(false)) => {
                AuthState::Failed(OAuthError::invalid_client("client assertion refused: its jti was already used"))
            }
            (_, _) => AuthState::Failed(OAuthError::server_error("an answer that was not asked for")),
        };
    }
}

/// What the token flow needs next from the adapter (besides client authentication).
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum Need {
    /// A step of client authentication.
    Auth(AuthNeed),
    /// Read the code presented by the client, without spending it (answer
    /// [`Answer::RedeemedWith`] with the code's session and user, which spares
    /// [`Need::Session`] and [`Need::User`], or [`Answer::Redeemed`];
    /// [`Redeemed::First`] means unused). The code is spent with the tokens
    /// ([`Need::Store`]), or alone when the request is refused
    /// ([`Need::SpendCode`]).
    Code {
        /// The code's digest.
        digest: Digest,
        /// The authenticated client.
        client_id: String,
        /// Now: the code's session must be unexpired at this time.
        now: UnixTime,
    },
    /// Read the refresh token before spending it, to check what the request
    /// narrows (answer [`Answer::RefreshRecord`]).
    RefreshRecord {
        /// The token's digest.
        digest: Digest,
    },
    /// Rotate the refresh token (answer [`Answer::Rotated`]).
    RotateRefresh {
        /// The token's digest.
        digest: Digest,
        /// The authenticated client.
        client_id: String,
        /// Now, the time of the rotation.
        now: UnixTime,
        /// The realm's reuse interval.
        reuse_interval: i64,
    },
    /// Check the resource owner's password, with brute-force protection
    /// (RFC 6749 §4.3.2, §10.7; answer [`Answer::Password`]).
    CheckPassword {
        /// The username.
        username: String,
        /// The password.
        password: Password,
    },
    /// Revoke every token of a grant after a replay (RFC 6749 §4.1.2, RFC 9700
    /// §4.14.2; answer [`Answer::Done`]).
    RevokeGrant {
        /// The grant.
        grant_id: String,
    },
    /// The unexpired login session of a grant that needs one (Keycloak's SSO
    /// Session Idle/Max: refresh tokens die with their session unless
    /// offline, OIDC Core §11; answer [`Answer::Session`]).
    Session {
        /// The session's public id.
        session_id: String,
        /// Now.
        now: UnixTime,
    },
    /// Record a use of the session with its new expiry (answer [`Answer::Done`]).
    TouchSession {
        /// The session's public id.
        session_id: String,
        /// Now.
        now: UnixTime,
        /// Its expiry after this use.
        expires_at: UnixTime,
    },
    /// The grant's user (answer [`Answer::User`]).
    User {
        /// The user's id.
        user_id: String,
    },
    /// The realm roles of the grant's user, or of the client's service
    /// account for `client_credentials`; asked only when the scope grants
    /// `roles` (Keycloak's `roles` client scope; answer [`Answer::Roles`]).
    Roles {
        /// Whose roles.
        holder: RoleHolder,
    },
    /// Store the issued tokens together (answer [`Answer::Done`]); with a
    /// `code`, mark that code used by the tokens' client in the same unit of
    /// work, only if it is still unused (RFC 6749 §4.1.2: a code is used
    /// once), and store nothing otherwise (answer [`Answer::CodeTaken`]).
    Store {
        /// The access token.
        access: AccessTokenRecord,
        /// The refresh token, if one was issued.
        refresh: Option<RefreshTokenRecord>,
        /// The digest of the authorization code these tokens redeem.
        code: Option<Digest>,
    },
    /// Mark the code used by the client, though the request was refused (a
    /// wrong `redirect_uri` or `code_verifier`, or the code expired), so
    /// that a code is presented once (RFC 6749 §4.1.2; answer
    /// [`Answer::Done`]). A code of another client is never spent.
    SpendCode {
        /// The code's digest.
        digest: Digest,
        /// The authenticated client.
        client_id: String,
    },
}

/// The outcome of a password check.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum PasswordOutcome {
    /// The password is right and the user active.
    Verified(User),
    /// Wrong username or password, or an inactive user.
    Wrong,
    /// Locked by the brute-force protection for this many seconds.
    Locked(i64),
}

/// The adapter's answer to a [`Need`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    /// To [`Need::Auth`].
    Auth(AuthAnswer),
    /// To [`Need::Code`]; the flow asks for the session and the user next.
    Redeemed(Redeemed),
    /// To [`Need::Code`], with the session and user found with the code
    /// ([`crate::repo::CodeRepo::code_with_context`]).
    RedeemedWith(Redeemed, CodeContext),
    /// To [`Need::RefreshRecord`].
    RefreshRecord(Option<RefreshTokenRecord>),
    /// To [`Need::RotateRefresh`].
    Rotated(Rotated),
    /// To [`Need::CheckPassword`].
    Password(PasswordOutcome),
    /// To [`Need::Session`].
    Session(Option<crate::model::LoginSession>),
    /// To [`Need::User`].
    User(Option<User>),
    /// To [`Need::Roles`]: the holder's realm roles.
    Roles(Vec<String>),
    /// To [`Need::RevokeGrant`], [`Need::SpendCode`] and [`Need::Store`].
    Done,
    /// To [`Need::Store`] with a code: another request redeemed the code
    /// since it was read, and nothing was stored (a replay: the flow revokes
    /// the grant next).
    CodeTaken,
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: crate::secret::AccessToken,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The refresh token and its lifetime in seconds, when one was issued.
    pub refresh_token: Option<(crate::secret::RefreshToken, i64)>,
    /// The id_token, when `openid` was granted to a user.
    pub id_token: Option<String>,
    /// The granted scope.
    pub scope: Scope,
    /// The login session's public id (Keycloak's `session_state`).
    pub session_state: Option<String>,
}

/// Where the flow stands.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Answer this.
    Need(Need),
    /// Send this response.
    Done(TokenResponse),
    /// Send this error, with the seconds a locked-out client should wait.
    Failed(OAuthError, Option<i64>),
}

/// What the flow issues with: the realm's keys, scopes, hooks and settings.
#[derive(Debug, Clone, Copy)]
pub struct FlowContext<'a> {
    /// The realm.
    pub realm: &'a str,
    /// Its issuer.
    pub issuer: &'a str,
    /// The realm's secret key (salt of pairwise subjects).
    pub realm_secret: &'a [u8],
    /// The realm's keys.
    pub keys: &'a KeySet,
    /// The scopes it knows.
    pub registry: &'a ScopeRegistry,
    /// Subjects and id_token hooks.
    pub hooks: &'a Hooks,
    /// Lifetimes and switches.
    pub settings: &'a Settings,
    /// Now.
    pub now: UnixTime,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum State {
    Auth(ClientAuth),
    /// Authenticated: the grant is parsed at the next step.
    Authenticated(Client),
    Code(Client, GrantRequest),
    RefreshPrecheck(Client, GrantRequest),
    Refresh(Client, GrantRequest),
    /// The credentials are handed out once, with the need.
    Password {
        client: Client,
        scope: Scope,
        credentials: Option<(String, Password)>,
    },
    Revoke {
        grant_id: String,
        error: OAuthError,
        asked: bool,
    },
    Session(Client, Grant),
    Touch {
        client: Client,
        grant: Grant,
        expires_at: UnixTime,
        asked: bool,
    },
    User(Client, Grant),
    /// The user is known; their roles are asked once.
    Roles {
        client: Client,
        grant: Grant,
        user: User,
        asked: bool,
    },
    /// `client_credentials` under the `roles` scope: the service account's roles are asked once.
    ServiceRoles {
        client: Client,
        scope: Scope,
        asked: bool,
    },
    /// A refused request's code is spent once, then `error` is answered.
    SpendRefused {
        digest: Digest,
        client_id: String,
        error: OAuthError,
        asked: bool,
    },
    Store {
        records: Option<(AccessTokenRecord, Option<RefreshTokenRecord>)>,
        response: TokenResponse,
        /// The grant of the code spent with the tokens, revoked if another
        /// request spent the code first.
        redeeming: Option<String>,
    },
    Issued(TokenResponse),
    Finished,
    Failed(OAuthError, Option<i64>),
}

/// The token endpoint's flow for one request.
pub struct TokenFlow<'a> {
    ctx: FlowContext<'a>,
    params: Option<Params>,
    resources: Vec<String>,
    state: State,
    rng: &'a dyn Random,
    /// The grant's user, when it came with the code (`Some(None)`: the user is gone).
    user: Option<Option<User>>,
    /// The digest of the code being redeemed, once it was read unused and
    /// checked: it is spent with the tokens.
    code: Option<Digest>,
}

impl std::fmt::Debug for TokenFlow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFlow").field("state", &self.state).finish_non_exhaustive()
    }
}

fn failed(e: OAuthError, retry: Option<i64>) -> (State, Step) {
    (State::Failed(e.clone(), retry), Step::Failed(e, retry))
}

fn lost() -> OAuthError {
    OAuthError::server_error("the token flow was driven out of order")
}

impl<'a> TokenFlow<'a> {
    /// A flow for a token request: its form (with every `resource`, which
    /// RFC 8707 §2 lets repeat) and `Authorization` header. Only the
    /// credentials are read now; the grant is parsed once the client is
    /// authenticated, so an unknown client costs no parsing.
    pub fn new(
        form: Vec<(String, String)>,
        authorization: Option<&str>,
        ctx: FlowContext<'a>,
        rng: &'a dyn Random,
    ) -> TokenFlow<'a> {
        let (resources, form): (Vec<_>, Vec<_>) = form.into_iter().partition(|(k, _)| k == "resource");
        let resources = resources.into_iter().map(|(_, v)| v).collect();
        let start = Params::from_pairs(form).and_then(|mut params| {
            let creds = super::parse_credentials(&mut params, authorization)?;
            Ok((params, creds))
        });
        let (params, state) = match start {
            Ok((params, creds)) => {
                // RFC 7523 §3: the audience is the token endpoint (the issuer too, OIDC Core §9).
                let endpoint = format!("{}/protocol/openid-connect/token", ctx.issuer);
                let auth = ClientAuth::new(creds, vec![endpoint, ctx.issuer.to_owned()], ctx.now);
                (Some(params), State::Auth(auth))
            }
            Err(e) => (None, State::Failed(e, None)),
        };
        TokenFlow { ctx, params, resources, state, rng, user: None, code: None }
    }

    /// What is needed next, or the outcome.
    pub fn step(&mut self) -> Step {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let (state, step) = self.advance(state);
        self.state = state;
        step
    }

    fn advance(&mut self, state: State) -> (State, Step) {
        match state {
            State::Auth(mut auth) => match auth.step() {
                AuthStep::Need(n) => (State::Auth(auth), Step::Need(Need::Auth(n))),
                AuthStep::Authenticated(client) => self.advance(State::Authenticated(client)),
                AuthStep::Failed(e) => failed(e, None),
            },
            State::Authenticated(client) => match self.parse_grant(&client) {
                Ok(grant) => self.start_grant(client, grant),
                Err(e) => failed(e, None),
            },
            State::Code(client, grant) => match &grant {
                GrantRequest::AuthorizationCode { code, .. } => {
                    let need =
                        Need::Code { digest: code.digest(), client_id: client.client_id.clone(), now: self.ctx.now };
                    (State::Code(client, grant), Step::Need(need))
                }
                _ => failed(lost(), None),
            },
            State::RefreshPrecheck(client, grant) => match &grant {
                GrantRequest::RefreshToken { refresh_token, .. } => {
                    let need = Need::RefreshRecord { digest: refresh_token.digest() };
                    (State::RefreshPrecheck(client, grant), Step::Need(need))
                }
                _ => failed(lost(), None),
            },
            State::Refresh(client, grant) => match &grant {
                GrantRequest::RefreshToken { refresh_token, .. } => {
                    let need = Need::RotateRefresh {
                        digest: refresh_token.digest(),
                        client_id: client.client_id.clone(),
                        now: self.ctx.now,
                        reuse_interval: self.ctx.settings.refresh_reuse_interval,
                    };
                    (State::Refresh(client, grant), Step::Need(need))
                }
                _ => failed(lost(), None),
            },
            State::Password { client, scope, credentials: Some((username, password)) } => {
                let need = Need::CheckPassword { username, password };
                (State::Password { client, scope, credentials: None }, Step::Need(need))
            }
            State::Revoke { grant_id, error, asked: false } => {
                let need = Need::RevokeGrant { grant_id: grant_id.clone() };
                (State::Revoke { grant_id, error, asked: true }, Step::Need(need))
            }
            State::Session(client, grant) => match grant.session_id.clone() {
                Some(session_id) => {
                    (State::Session(client, grant), Step::Need(Need::Session { session_id, now: self.ctx.now }))
                }
                None => self.advance(State::User(client, grant)),
            },
            State::Touch { client, grant, expires_at, asked: false } => {
                let need = Need::TouchSession {
                    session_id: grant.session_id.clone().unwrap_or_default(),
                    now: self.ctx.now,
                    expires_at,
                };
                (State::Touch { client, grant, expires_at, asked: true }, Step::Need(need))
            }
            State::User(client, grant) => match self.user.take() {
                // Found with the code: no read.
                Some(user) => {
                    let state = self.user_found(client, grant, user);
                    self.advance(state)
                }
                None => {
                    let need = Need::User { user_id: grant.user_id.clone() };
                    (State::User(client, grant), Step::Need(need))
                }
            },
            State::Roles { client, grant, user, asked: false } => {
                let need = Need::Roles { holder: RoleHolder::User(user.id.clone()) };
                (State::Roles { client, grant, user, asked: true }, Step::Need(need))
            }
            State::ServiceRoles { client, scope, asked: false } => {
                let need = Need::Roles { holder: RoleHolder::Client(client.client_id.clone()) };
                (State::ServiceRoles { client, scope, asked: true }, Step::Need(need))
            }
            State::SpendRefused { digest, client_id, error, asked: false } => {
                let need = Need::SpendCode { digest: digest.clone(), client_id: client_id.clone() };
                (State::SpendRefused { digest, client_id, error, asked: true }, Step::Need(need))
            }
            State::Store { records: Some((access, refresh)), response, .. } => {
                let code = self.code.take();
                let redeeming = code.as_ref().map(|_| access.grant_id.clone());
                let need = Need::Store { access, refresh, code };
                (State::Store { records: None, response, redeeming }, Step::Need(need))
            }
            State::Issued(response) => (State::Finished, Step::Done(response)),
            State::Failed(e, retry) => failed(e, retry),
            // Asked and not answered, or finished.
            State::Password { .. }
            | State::Revoke { .. }
            | State::SpendRefused { .. }
            | State::Touch { .. }
            | State::Roles { .. }
            | State::ServiceRoles { .. }
            | State::Store { .. }
            | State::Finished => failed(lost(), None),
        }
    }

    fn parse_grant(&mut self, client: &Client) -> Result<GrantRequest, OAuthError> {
        let params = self.params.take().ok_or_else(lost)?;
        let grant = super::parse_grant(params)?;
        self.resources = super::parse_resources(std::mem::take(&mut self.resources))?;
        super::check_grant_type(&grant, client, self.ctx.settings)?;
        Ok(grant)
    }

    fn grantable(&self, client: &Client, requested: Option<&Scope>, default: &Scope) -> Result<Scope, OAuthError> {
        super::grantable_scope(requested, client, |s| self.ctx.registry.is_known(s), default)
    }

    fn start_grant(&mut self, client: Client, grant: GrantRequest) -> (State, Step) {
        match grant {
            GrantRequest::AuthorizationCode { .. } => self.advance(State::Code(client, grant)),
            // What a refresh narrows is checked before the token is spent.
            GrantRequest::RefreshToken { scope: Some(_), .. } => self.advance(State::RefreshPrecheck(client, grant)),
            GrantRequest::RefreshToken { .. } if !self.resources.is_empty() => {
                self.advance(State::RefreshPrecheck(client, grant))
            }
            GrantRequest::RefreshToken { .. } => self.advance(State::Refresh(client, grant)),
            GrantRequest::Password { username, password, scope } => {
                match self.grantable(&client, scope.as_ref(), &Scope::parse("openid").unwrap_or_default()) {
                    Ok(scope) => {
                        self.advance(State::Password { client, scope, credentials: Some((username, password)) })
                    }
                    Err(e) => failed(e, None),
                }
            }
            GrantRequest::ClientCredentials { scope } => {
                let scope = match self.grantable(&client, scope.as_ref(), &Scope::default()) {
                    Ok(s) => s,
                    Err(e) => return failed(e, None),
                };
                if scope.contains(crate::roles::ROLES_SCOPE) {
                    self.advance(State::ServiceRoles { client, scope, asked: false })
                } else {
                    let state = self.issue_service(&client, &scope, &[]);
                    self.advance(state)
                }
            }
        }
    }

    /// A token for the client's service account (RFC 6749 §4.4.3: no
    /// refresh token and no id_token).
    fn issue_service(&mut self, client: &Client, scope: &Scope, roles: &[String]) -> State {
        let ctx = super::ServiceContext {
            realm: self.ctx.realm,
            issuer: self.ctx.issuer,
            client,
            keys: self.ctx.keys,
            registry: self.ctx.registry,
            settings: self.ctx.settings,
            roles,
            now: self.ctx.now,
        };
        match super::issue_client_credentials(&ctx, scope, &self.resources, self.rng) {
            Ok(m) => {
                let response = TokenResponse {
                    access_token: m.value,
                    expires_in: m.expires_in,
                    refresh_token: None,
                    id_token: None,
                    scope: m.record.scope.clone(),
                    session_state: None,
                };
                State::Store { records: Some((m.record, None)), response, redeeming: None }
            }
            Err(e) => State::Failed(e, None),
        }
    }

    /// Takes the answer to the last [`Need`].
    pub fn answer(&mut self, answer: Answer) {
        let state = std::mem::replace(&mut self.state, State::Finished);
        self.state = self.take(state, answer);
    }

    fn take(&mut self, state: State, answer: Answer) -> State {
        let now = self.ctx.now;
        match (state, answer) {
            (State::Auth(mut auth), Answer::Auth(a)) => {
                auth.answer(a);
                State::Auth(auth)
            }
            (State::Code(client, grant), Answer::Redeemed(redeemed)) => {
                self.code_checked(client, &grant, redeemed, None)
            }
            (State::Code(client, grant), Answer::RedeemedWith(redeemed, found)) => {
                self.code_checked(client, &grant, redeemed, Some(found))
            }
            (State::RefreshPrecheck(client, grant), Answer::RefreshRecord(record)) => {
                let GrantRequest::RefreshToken { scope, .. } = &grant else {
                    return State::Failed(lost(), None);
                };
                match record.map(|r| super::precheck_refresh(&r, &client, scope.as_ref(), &self.resources)) {
                    Some(Err(e)) => State::Failed(e, None),
                    _ => State::Refresh(client, grant),
                }
            }
            (State::Refresh(client, grant), Answer::Rotated(rotated)) => {
                let GrantRequest::RefreshToken { scope, .. } = &grant else {
                    return State::Failed(lost(), None);
                };
                let checked = super::check_refresh(rotated, &client, scope.as_ref(), now);
                self.after_check(client, checked)
            }
            (State::Password { client, scope, credentials: None }, Answer::Password(outcome)) => match outcome {
                PasswordOutcome::Verified(user) => {
                    let grant = super::password_grant(&user.id, scope, now, self.rng);
                    self.with_user(client, grant, user)
                }
                PasswordOutcome::Wrong => {
                    State::Failed(OAuthError::invalid_grant("the username or password is wrong"), None)
                }
                PasswordOutcome::Locked(secs) => State::Failed(
                    OAuthError::invalid_grant(format!(
                        "too many failed attempts for this account or address; try again in {secs} seconds"
                    )),
                    Some(secs),
                ),
            },
            (State::Revoke { error, asked: true, .. }, Answer::Done) => State::Failed(error, None),
            // Tokens of a login session are issued only while it lasts; each refresh counts as a use.
            (State::Session(client, grant), Answer::Session(session)) => self.session_found(client, grant, session),
            (State::Touch { client, grant, asked: true, .. }, Answer::Done) => State::User(client, grant),
            (State::User(client, grant), Answer::User(user)) => self.user_found(client, grant, user),
            (State::Roles { client, grant, user, asked: true }, Answer::Roles(roles)) => {
                self.issue_for(&client, grant, &user, &roles)
            }
            (State::ServiceRoles { client, scope, asked: true }, Answer::Roles(roles)) => {
                self.issue_service(&client, &scope, &roles)
            }
            (State::SpendRefused { error, asked: true, .. }, Answer::Done) => State::Failed(error, None),
            (State::Store { records: None, response, .. }, Answer::Done) => State::Issued(response),
            // RFC 6749 §4.1.2: a concurrent request redeemed the code first;
            // this one is its replay, and the grant's tokens are revoked.
            (State::Store { records: None, redeeming: Some(grant_id), .. }, Answer::CodeTaken) => State::Revoke {
                grant_id,
                error: OAuthError::invalid_grant("the authorization code was already used; its tokens are revoked"),
                asked: false,
            },
            (_, _) => State::Failed(lost(), None),
        }
    }

    /// After a code's redemption: the code checked, then the session and the
    /// user, taken from `found` when they came with the code, else asked for.
    fn code_checked(
        &mut self,
        client: Client,
        request: &GrantRequest,
        redeemed: Redeemed,
        found: Option<CodeContext>,
    ) -> State {
        let GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } = request else {
            return State::Failed(lost(), None);
        };
        let unused = matches!(redeemed, Redeemed::First(_));
        let checked =
            super::check_code(redeemed, &client, redirect_uri.as_deref(), code_verifier.as_ref(), self.ctx.now);
        match &checked {
            Ok(_) => self.code = Some(code.digest()),
            // An unused code presented wrongly by its own client is spent all the same.
            Err(GrantFailure::Refused(e)) if unused => {
                let (digest, client_id) = (code.digest(), client.client_id);
                return State::SpendRefused { digest, client_id, error: e.clone(), asked: false };
            }
            Err(_) => {}
        }
        match (checked, found) {
            (Ok(grant), Some(found)) => {
                self.user = Some(found.user.filter(|u| u.id == grant.user_id));
                if grant.needs_session() {
                    self.session_found(client, grant, found.session)
                } else {
                    State::User(client, grant)
                }
            }
            (checked, _) => self.after_check(client, checked),
        }
    }

    /// With the grant's unexpired login session as found (`None`: it ended):
    /// the session's use is recorded when due, then the user.
    fn session_found(&mut self, client: Client, grant: Grant, session: Option<crate::model::LoginSession>) -> State {
        let now = self.ctx.now;
        match grant.check_session(session.as_ref()) {
            Err(e) => State::Failed(e, None),
            Ok(()) => match session.filter(|s| s.needs_touch(now)) {
                Some(s) => {
                    let expires_at = crate::model::LoginSession::expiry_after_use(s.auth_time, now, self.ctx.settings);
                    State::Touch { client, grant, expires_at, asked: false }
                }
                None => State::User(client, grant),
            },
        }
    }

    /// With the grant's user as found (`None`: gone).
    fn user_found(&mut self, client: Client, grant: Grant, user: Option<User>) -> State {
        match user {
            Some(user) => self.with_user(client, grant, user),
            None => State::Failed(OAuthError::invalid_grant("the user of this grant no longer exists"), None),
        }
    }

    /// After a code or refresh token was checked: the user next, a replay's
    /// revocation, or the refusal.
    fn after_check(&mut self, client: Client, checked: Result<Grant, GrantFailure>) -> State {
        match checked {
            Ok(grant) if grant.needs_session() => State::Session(client, grant),
            Ok(grant) => State::User(client, grant),
            Err(GrantFailure::Refused(e)) => State::Failed(e, None),
            Err(GrantFailure::Replay { grant_id, error }) => State::Revoke { grant_id, error, asked: false },
        }
    }

    /// With the grant's user: their roles next when the scope grants `roles`
    /// (the only time tokens read them), else the tokens.
    fn with_user(&mut self, client: Client, grant: Grant, user: User) -> State {
        if grant.scope.contains(crate::roles::ROLES_SCOPE) {
            State::Roles { client, grant, user, asked: false }
        } else {
            self.issue_for(&client, grant, &user, &[])
        }
    }

    fn issue_for(&mut self, client: &Client, grant: Grant, user: &User, roles: &[String]) -> State {
        let grant = match super::with_resources(grant, std::mem::take(&mut self.resources)) {
            Ok(g) => g,
            Err(e) => return State::Failed(e, None),
        };
        let subject = self.ctx.hooks.subjects.subject(user, client, self.ctx.realm_secret);
        let ictx = super::IssueContext {
            realm: self.ctx.realm,
            issuer: self.ctx.issuer,
            client,
            user,
            subject: &subject,
            registry: self.ctx.registry,
            hooks: self.ctx.hooks,
            keys: self.ctx.keys,
            realm_secret: self.ctx.realm_secret,
            settings: self.ctx.settings,
            roles,
            now: self.ctx.now,
        };
        let session_state = grant.session_id.clone();
        match super::issue(&ictx, grant, self.rng) {
            Ok(issued) => {
                let (refresh_token, refresh_record) = match issued.refresh {
                    Some((t, r)) => {
                        let lifetime = r.expires_at.secs().saturating_sub(self.ctx.now.secs());
                        (Some((t, lifetime)), Some(r))
                    }
                    None => (None, None),
                };
                let response = TokenResponse {
                    access_token: issued.access_token,
                    expires_in: issued.expires_in,
                    refresh_token,
                    id_token: issued.id_token,
                    scope: issued.scope,
                    session_state,
                };
                State::Store { records: Some((issued.access_record, refresh_record)), response, redeeming: None }
            }
            Err(e) => State::Failed(e, None),
        }
    }
}

#[cfg(test)]
mod tests;
