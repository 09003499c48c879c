//! Lifetimes and switches of the protocol, with the defaults of django-oidc-provider's settings.

/// Protocol settings for a realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Authorization code lifetime in seconds (OIDC_CODE_EXPIRE, default 600).
    pub code_lifetime: i64,
    /// Access token lifetime in seconds (OIDC_TOKEN_EXPIRE, default 3600).
    pub access_token_lifetime: i64,
    /// id_token lifetime in seconds (OIDC_IDTOKEN_EXPIRE, default 600).
    pub id_token_lifetime: i64,
    /// Refresh token lifetime in seconds (default 30 days).
    pub refresh_token_lifetime: i64,
    /// Consent lifetime in seconds (OIDC_SKIP_CONSENT_EXPIRE, default 90 days).
    pub consent_lifetime: i64,
    /// Login session maximum lifetime in seconds (Keycloak's SSO Session Max, default 10 hours).
    pub session_lifetime: i64,
    /// Login session idle timeout in seconds (Keycloak's SSO Session Idle, default 30 minutes).
    pub session_idle: i64,
    /// Offline tokens (`offline_access`): idle timeout in seconds, renewed by each refresh
    /// (Keycloak's Offline Session Idle, default 30 days).
    pub offline_idle: i64,
    /// Offline tokens: maximum lifetime in seconds from the login (Offline Session Max, default 60 days).
    pub offline_max: i64,
    /// Session Management 1.0: `session_state` in authorization responses and
    /// the check_session_iframe (OIDC_SESSION_MANAGEMENT_ENABLE; on by default, as in Keycloak).
    pub session_management: bool,
    /// Whether id_tokens carry the claims of the granted scopes even when an
    /// access token is issued with them (OIDC_IDTOKEN_INCLUDE_CLAIMS, default off).
    pub idtoken_include_claims: bool,
    /// Whether the resource owner password credentials grant is accepted at
    /// all (OIDC_GRANT_TYPE_PASSWORD_ENABLE, default off); each client must
    /// also have the `password` grant type.
    pub password_grant_enabled: bool,
    /// Brute-force protection of password checks (login form and password grant).
    pub throttle: ThrottlePolicy,
    /// Who may introspect which tokens, and what the answer says (RFC 7662).
    pub introspection: IntrospectionPolicy,
    /// The access token format of clients that choose none (default opaque).
    pub access_token_format: crate::model::AccessTokenFormat,
    /// JWT access token lifetime in seconds (default 300): a resource server
    /// that only checks the signature sees a revoked one valid until it
    /// expires, so they live short.
    pub jwt_access_token_lifetime: i64,
    /// Seconds after a refresh token's rotation during which it may be
    /// presented once more, for a client whose answer was lost (default 0:
    /// off; any reuse revokes the grant).
    pub refresh_reuse_interval: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            code_lifetime: 600,
            access_token_lifetime: 3600,
            id_token_lifetime: 600,
            refresh_token_lifetime: 30 * 24 * 3600,
            consent_lifetime: 90 * 24 * 3600,
            session_lifetime: 10 * 3600,
            session_idle: 30 * 60,
            offline_idle: 30 * 24 * 3600,
            offline_max: 60 * 24 * 3600,
            session_management: true,
            idtoken_include_claims: false,
            password_grant_enabled: false,
            throttle: ThrottlePolicy::default(),
            introspection: IntrospectionPolicy::default(),
            access_token_format: crate::model::AccessTokenFormat::Opaque,
            jwt_access_token_lifetime: 300,
            refresh_reuse_interval: 0,
        }
    }
}

/// How failed password checks are counted and punished (see [`crate::throttle`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures for one username before it is locked (default 5).
    pub max_failures_per_user: i64,
    /// Failures from one client address before it is locked (default 20).
    pub max_failures_per_address: i64,
    /// Failures older than this many seconds are forgotten (default 15 minutes).
    pub window: i64,
    /// The first lockout, in seconds; each further failure doubles it (default 60).
    pub lockout: i64,
    /// The longest lockout, in seconds (default 1 hour).
    pub max_lockout: i64,
    /// What an address past `max_failures_per_address` gets (default: a delay).
    pub address_limit: AddressLimit,
    /// The longest delay before a password check from a throttled address, in seconds (default 30).
    pub max_address_delay: i64,
}

/// What happens to password checks from a client address that has failed too often.
///
/// One address may be a whole office behind NAT or every user behind a reverse
/// proxy, so by default it is slowed down, not locked: real users behind it still
/// sign in, and password spraying from it becomes slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressLimit {
    /// Each further check from the address waits first, doubling from one second
    /// up to `max_address_delay` (the default).
    #[default]
    Delay,
    /// The address is locked like a username (the operator's choice).
    Lock,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            max_failures_per_user: 5,
            max_failures_per_address: 20,
            window: 900,
            lockout: 60,
            max_lockout: 3600,
            address_limit: AddressLimit::Delay,
            max_address_delay: 30,
        }
    }
}

/// The introspection endpoint's rules (RFC 7662 §2.1, §4), with
/// django-oidc-provider's `OIDC_INTROSPECTION_*` settings as switches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectionPolicy {
    /// A caller may only introspect tokens whose audience includes it
    /// (`OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE`); default off: any
    /// authenticated confidential client of the realm may (Keycloak's behaviour).
    pub require_audience: bool,
    /// Whether an active answer carries `scope` (`OIDC_INTROSPECTION_RESPONSE_SCOPE_ENABLE`); default on.
    pub include_scope: bool,
}

impl Default for IntrospectionPolicy {
    fn default() -> Self {
        IntrospectionPolicy { require_audience: false, include_scope: true }
    }
}
