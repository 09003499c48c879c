//! Configuration: a TOML file, overridden by environment variables and flags.
//!
//! ```toml
//! database_url = "sqlite://oidc.sqlite"
//! realm = "main"
//! listen = "127.0.0.1:8080"
//! base_url = "https://login.example.com"
//! templates_dir = "/etc/oidc/templates"
//! log_requests = true
//!
//! [lifetimes]          # seconds, except consent_days
//! code = 600           # OIDC_CODE_EXPIRE
//! access_token = 3600  # OIDC_TOKEN_EXPIRE
//! id_token = 600       # OIDC_IDTOKEN_EXPIRE
//! refresh_token = 2592000
//! consent_days = 90    # OIDC_SKIP_CONSENT_EXPIRE
//! session = 36000      # SSO Session Max
//! session_idle = 1800  # SSO Session Idle
//! offline_idle = 2592000   # offline_access refresh tokens: idle
//! offline_max = 5184000    # offline_access refresh tokens: maximum
//!
//! [session_management]      # OIDC_SESSION_MANAGEMENT_ENABLE
//! enabled = true
//! unauthenticated_key = "..." # OIDC_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY (random when unset)
//!
//! [grants]
//! password = false                # OIDC_GRANT_TYPE_PASSWORD_ENABLE
//! idtoken_include_claims = false  # OIDC_IDTOKEN_INCLUDE_CLAIMS
//!
//! [brute_force]        # failed password checks (login form and password grant)
//! max_failures_per_user = 5
//! max_failures_per_address = 20
//! window = 900         # seconds without failures after which counts reset
//! lockout = 60         # first lockout in seconds, doubling per further failure
//! max_lockout = 3600
//!
//! [tokens]
//! access_token_format = "opaque"  # or "jwt" (RFC 9068), for clients that choose none
//! jwt_access_token_lifetime = 300 # seconds
//! refresh_reuse_interval = 0      # seconds a rotated refresh token may be presented once more (0: off)
//!
//! [cleanup]            # expired codes, tokens, sessions, consents, replay records
//! interval = 3600      # seconds between two runs; 0: never
//! batch = 1000         # rows of one table per statement
//!
//! [introspection]      # RFC 7662
//! require_audience = false  # OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE
//! include_scope = true      # OIDC_INTROSPECTION_RESPONSE_SCOPE_ENABLE
//!
//! [[scopes]]           # custom scopes (OIDC_EXTRA_SCOPE_CLAIMS)
//! name = "work"
//! display_name = "Work information"          # info_work's name
//! description = "Your department and badge"  # info_work's description
//! claims = ["department", "badge"]           # scope_work: from the user's attributes
//!
//! [extra_claims]                 # added to every id_token
//! tenant = "acme"
//! [client_claims."my-client-id"] # added to one client's id_tokens
//! role = "reader"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use std::sync::Arc;

use oidc_core::config::{AddressLimit, IntrospectionPolicy, Settings, ThrottlePolicy};
use oidc_core::hooks::{Hooks, StaticClaims};
use oidc_core::scope::{ScopeDef, ScopeRegistry};
use oidc_http::{Cidr, ServerLimits};
use serde::Deserialize;

/// The configuration file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Database URL.
    pub database_url: Option<String>,
    /// Realm name.
    pub realm: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
    /// Public base URL.
    pub base_url: Option<String>,
    /// Template override directory.
    pub templates_dir: Option<PathBuf>,
    /// Access log on or off.
    pub log_requests: Option<bool>,
    /// Lifetimes.
    #[serde(default)]
    pub lifetimes: Lifetimes,
    /// Grant switches.
    #[serde(default)]
    pub grants: Grants,
    /// Connection limits and deadlines.
    #[serde(default)]
    pub server: ServerSection,
    /// Trusted reverse proxies.
    #[serde(default)]
    pub proxy: ProxySection,
    /// Outbound fetches (jwks_uri, request_uri, sector_identifier_uri).
    #[serde(default)]
    pub outbound: OutboundSection,
    /// Brute-force protection.
    #[serde(default)]
    pub brute_force: BruteForce,
    /// Access token format and lifetime.
    #[serde(default)]
    pub tokens: Tokens,
    /// Token introspection.
    #[serde(default)]
    pub introspection: Introspection,
    /// The periodic cleanup of expired rows.
    #[serde(default)]
    pub cleanup: CleanupConfig,
    /// Session Management 1.0.
    #[serde(default)]
    pub session_management: SessionManagement,
    /// Custom scopes.
    #[serde(default)]
    pub scopes: Vec<ScopeConfig>,
    /// Claims added to every id_token.
    #[serde(default)]
    pub extra_claims: toml::Table,
    /// Claims added to the id_tokens of one client, by client_id.
    #[serde(default)]
    pub client_claims: std::collections::BTreeMap<String, toml::Table>,
}

/// A custom scope in the configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// The scope token.
    pub name: String,
    /// The name on the consent page (defaults to the token).
    pub display_name: Option<String>,
    /// The sentence on the consent page.
    #[serde(default)]
    pub description: String,
    /// The claims it releases.
    #[serde(default)]
    pub claims: Vec<String>,
}

/// Grant switches in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Accept the resource owner password credentials grant.
    pub password: Option<bool>,
    /// Put the scope's claims in every id_token.
    pub idtoken_include_claims: Option<bool>,
}

/// Access tokens in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// `opaque` or `jwt`: the format of clients that choose none.
    pub access_token_format: Option<String>,
    /// JWT access token lifetime, seconds.
    pub jwt_access_token_lifetime: Option<i64>,
    /// Seconds after a rotation during which the previous refresh token may be used once more.
    pub refresh_reuse_interval: Option<i64>,
}

/// The periodic cleanup in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupConfig {
    /// Seconds between two runs; 0 turns it off.
    pub interval: Option<u64>,
    /// Rows of one table deleted per statement.
    pub batch: Option<u64>,
}

/// Token introspection (RFC 7662) in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Introspection {
    /// A caller may only introspect tokens whose audience includes it.
    pub require_audience: Option<bool>,
    /// Active answers carry `scope`.
    pub include_scope: Option<bool>,
}

/// Session Management 1.0 in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionManagement {
    /// `session_state` and the check_session_iframe (default on).
    pub enabled: Option<bool>,
    /// The fixed browser-state key of browsers with no session, shared by
    /// every instance; random at start-up when unset.
    pub unauthenticated_key: Option<String>,
}

/// Brute-force protection in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BruteForce {
    /// Failures per username before a lockout.
    pub max_failures_per_user: Option<i64>,
    /// Failures per client address before a lockout.
    pub max_failures_per_address: Option<i64>,
    /// Seconds without failures after which counts reset.
    pub window: Option<i64>,
    /// The first lockout in seconds.
    pub lockout: Option<i64>,
    /// The longest lockout in seconds.
    pub max_lockout: Option<i64>,
    /// What an address past its limit gets: `delay` (default) or `lock`.
    pub address_limit: Option<String>,
    /// The longest delay for a throttled address, seconds (default 30).
    pub max_address_delay: Option<i64>,
}

/// `[server]`: connection limits and request deadlines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Open connections at most.
    pub max_connections: Option<usize>,
    /// Open connections per client address at most.
    pub max_connections_per_address: Option<usize>,
    /// Seconds from a request's first byte until its body has arrived.
    pub request_timeout: Option<u64>,
    /// Seconds a keep-alive connection may stay idle.
    pub idle_timeout: Option<u64>,
    /// Seconds realm keys and clients are served from memory before they are
    /// read again: the bound within which changes made by another instance or
    /// the CLI take effect (default 30).
    pub cache_refresh: Option<u64>,
    /// Server threads, each pinned to a CPU with its own accept loop and its
    /// own database connections (thread per core); 1 serves on one
    /// multi-threaded runtime. Default: one per CPU the process may use, at most 8.
    pub threads: Option<usize>,
}

/// `[outbound]`: where outbound fetches may go besides public https hosts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// Private networks (`10.0.0.0/8`) relying parties live in.
    #[serde(default)]
    pub allow_networks: Vec<String>,
    /// Plain http to loopback, for development only.
    #[serde(default)]
    pub allow_http_loopback: bool,
}

/// `[proxy]`: reverse proxies whose forwarding headers are believed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// Addresses or blocks (`10.0.0.0/8`) of the proxies in front of the server.
    #[serde(default)]
    pub trusted: Vec<String>,
}

/// Lifetimes in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    /// Authorization code, seconds.
    pub code: Option<i64>,
    /// Access token, seconds.
    pub access_token: Option<i64>,
    /// id_token, seconds.
    pub id_token: Option<i64>,
    /// Refresh token, seconds.
    pub refresh_token: Option<i64>,
    /// Consent, days.
    pub consent_days: Option<i64>,
    /// Login session maximum, seconds.
    pub session: Option<i64>,
    /// Login session idle timeout, seconds.
    pub session_idle: Option<i64>,
    /// Offline token idle timeout, seconds.
    pub offline_idle: Option<i64>,
    /// Offline token maximum lifetime, seconds.
    pub offline_max: Option<i64>,
}

impl FileConfig {
    /// Reads `path`; a missing or invalid file is an error naming it.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// The protocol settings, checked.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let d = Settings::default();
        let l = &self.lifetimes;
        let b = &self.brute_force;
        let s = Settings {
            code_lifetime: l.code.unwrap_or(d.code_lifetime),
            access_token_lifetime: l.access_token.unwrap_or(d.access_token_lifetime),
            id_token_lifetime: l.id_token.unwrap_or(d.id_token_lifetime),
            refresh_token_lifetime: l.refresh_token.unwrap_or(d.refresh_token_lifetime),
            consent_lifetime: l.consent_days.map_or(d.consent_lifetime, |days| days.saturating_mul(86_400)),
            session_lifetime: l.session.unwrap_or(d.session_lifetime),
            session_idle: l.session_idle.unwrap_or(d.session_idle),
            offline_idle: l.offline_idle.unwrap_or(d.offline_idle),
            offline_max: l.offline_max.unwrap_or(d.offline_max),
            session_management: self.session_management.enabled.unwrap_or(d.session_management),
            idtoken_include_claims: self.grants.idtoken_include_claims.unwrap_or(d.idtoken_include_claims),
            password_grant_enabled: self.grants.password.unwrap_or(d.password_grant_enabled),
            throttle: ThrottlePolicy {
                max_failures_per_user: b.max_failures_per_user.unwrap_or(d.throttle.max_failures_per_user),
                max_failures_per_address: b.max_failures_per_address.unwrap_or(d.throttle.max_failures_per_address),
                window: b.window.unwrap_or(d.throttle.window),
                lockout: b.lockout.unwrap_or(d.throttle.lockout),
                max_lockout: b.max_lockout.unwrap_or(d.throttle.max_lockout),
                address_limit: match b.address_limit.as_deref() {
                    None => d.throttle.address_limit,
                    Some("delay") => AddressLimit::Delay,
                    Some("lock") => AddressLimit::Lock,
                    Some(other) => bail!("brute_force.address_limit must be \"delay\" or \"lock\", got \"{other}\""),
                },
                max_address_delay: b.max_address_delay.unwrap_or(d.throttle.max_address_delay),
            },
            introspection: IntrospectionPolicy {
                require_audience: self.introspection.require_audience.unwrap_or(d.introspection.require_audience),
                include_scope: self.introspection.include_scope.unwrap_or(d.introspection.include_scope),
            },
            access_token_format: match &self.tokens.access_token_format {
                Some(f) => f.parse().map_err(|e: String| anyhow::anyhow!("tokens.access_token_format: {e}"))?,
                None => d.access_token_format,
            },
            jwt_access_token_lifetime: self.tokens.jwt_access_token_lifetime.unwrap_or(d.jwt_access_token_lifetime),
            refresh_reuse_interval: self.tokens.refresh_reuse_interval.unwrap_or(d.refresh_reuse_interval),
        };
        if !(0..=300).contains(&s.refresh_reuse_interval) {
            bail!("tokens.refresh_reuse_interval must be 0 (off) to 300 seconds, got {}", s.refresh_reuse_interval);
        }
        for (name, v) in [
            ("lifetimes.code", s.code_lifetime),
            ("lifetimes.access_token", s.access_token_lifetime),
            ("lifetimes.id_token", s.id_token_lifetime),
            ("lifetimes.refresh_token", s.refresh_token_lifetime),
            ("lifetimes.consent_days", s.consent_lifetime),
            ("lifetimes.session", s.session_lifetime),
            ("tokens.jwt_access_token_lifetime", s.jwt_access_token_lifetime),
            ("lifetimes.session_idle", s.session_idle),
            ("lifetimes.offline_idle", s.offline_idle),
            ("lifetimes.offline_max", s.offline_max),
            ("brute_force.max_failures_per_user", s.throttle.max_failures_per_user),
            ("brute_force.max_failures_per_address", s.throttle.max_failures_per_address),
            ("brute_force.window", s.throttle.window),
            ("brute_force.lockout", s.throttle.lockout),
            ("brute_force.max_lockout", s.throttle.max_lockout),
            ("brute_force.max_address_delay", s.throttle.max_address_delay),
        ] {
            if v <= 0 {
                bail!("{name} must be positive, got {v}");
            }
        }
        Ok(s)
    }
}

impl FileConfig {
    /// The periodic cleanup: every `interval` (default hourly), `batch` rows
    /// at a time (default 1000); `None` when `interval = 0`.
    pub fn cleanup(&self) -> anyhow::Result<Option<(std::time::Duration, u64)>> {
        let interval = self.cleanup.interval.map_or(crate::cleanup::DEFAULT_INTERVAL, std::time::Duration::from_secs);
        let batch = self.cleanup.batch.unwrap_or(crate::cleanup::DEFAULT_BATCH);
        if batch == 0 {
            bail!("cleanup.batch must be positive");
        }
        Ok((!interval.is_zero()).then_some((interval, batch)))
    }

    /// The connection limits of `[server]`, checked.
    pub fn limits(&self) -> anyhow::Result<ServerLimits> {
        let d = ServerLimits::default();
        let s = &self.server;
        let limits = ServerLimits {
            max_connections: s.max_connections.unwrap_or(d.max_connections),
            max_connections_per_address: s.max_connections_per_address.unwrap_or(d.max_connections_per_address),
            request_timeout: s.request_timeout.map_or(d.request_timeout, std::time::Duration::from_secs),
            idle_timeout: s.idle_timeout.map_or(d.idle_timeout, std::time::Duration::from_secs),
        };
        if limits.max_connections == 0 || limits.max_connections_per_address == 0 {
            bail!("server.max_connections and server.max_connections_per_address must be positive");
        }
        if limits.request_timeout.is_zero() || limits.idle_timeout.is_zero() {
            bail!("server.request_timeout and server.idle_timeout must be positive");
        }
        Ok(limits)
    }

    /// `[server] threads`, checked: 1 to 256; `None` when not set (one per CPU).
    pub fn server_threads(&self) -> anyhow::Result<Option<usize>> {
        match self.server.threads {
            None => Ok(None),
            Some(n) if (1..=256).contains(&n) => Ok(Some(n)),
            Some(n) => bail!("server.threads must be between 1 and 256, got {n}"),
        }
    }

    /// `[server] cache_refresh`, checked: between 1 second and 1 hour.
    pub fn cache_refresh(&self) -> anyhow::Result<std::time::Duration> {
        match self.server.cache_refresh {
            None => Ok(oidc_http::DEFAULT_CACHE_REFRESH),
            Some(s) if (1..=3600).contains(&s) => Ok(std::time::Duration::from_secs(s)),
            Some(s) => bail!("server.cache_refresh must be between 1 and 3600 seconds, got {s}"),
        }
    }

    /// The private networks of `[outbound]`, checked.
    pub fn fetch_networks(&self) -> anyhow::Result<Vec<Cidr>> {
        let parse = |t: &String| Cidr::parse(t).map_err(|e| anyhow::anyhow!("outbound.allow_networks: {e}"));
        self.outbound.allow_networks.iter().map(parse).collect()
    }

    /// The trusted proxies of `[proxy]`, checked.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<Cidr>> {
        self.proxy.trusted.iter().map(|t| Cidr::parse(t).map_err(|e| anyhow::anyhow!("proxy.trusted: {e}"))).collect()
    }
}

impl FileConfig {
    /// The custom scopes, checked.
    pub fn scope_registry(&self) -> anyhow::Result<ScopeRegistry> {
        let defs = self
            .scopes
            .iter()
            .map(|c| ScopeDef {
                name: c.name.clone(),
                display_name: c.display_name.clone().unwrap_or_else(|| c.name.clone()),
                description: c.description.clone(),
                claims: c.claims.clone(),
            })
            .collect();
        ScopeRegistry::new(defs).map_err(|e| anyhow::anyhow!("invalid [[scopes]]: {e}"))
    }

    /// The hooks the configuration asks for: fixed id_token claims for every
    /// client and per client.
    pub fn hooks(&self) -> anyhow::Result<Hooks> {
        let to_map = |t: &toml::Table, what: &str| -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
            match serde_json::to_value(t).with_context(|| format!("invalid {what}"))? {
                serde_json::Value::Object(m) => Ok(m),
                _ => bail!("{what} must be a table"),
            }
        };
        let mut hooks = Hooks::default();
        if !self.extra_claims.is_empty() {
            let claims = to_map(&self.extra_claims, "[extra_claims]")?;
            hooks.id_token.push(Arc::new(StaticClaims { client_id: None, claims }));
        }
        for (client_id, table) in &self.client_claims {
            let claims = to_map(table, &format!("[client_claims.\"{client_id}\"]"))?;
            hooks.id_token.push(Arc::new(StaticClaims { client_id: Some(client_id.clone()), claims }));
        }
        Ok(hooks)
    }
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://oidc.sqlite";
/// The default realm.
pub const DEFAULT_REALM: &str = "main";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<FileConfig> {
        Ok(toml::from_str(text)?)
    }

    #[test]
    fn scopes_claims_grants_and_brute_force_sections() {
        let c = parse(
            r#"
            [grants]
            password = true
            [brute_force]
            max_failures_per_user = 3
            [introspection]
            require_audience = true
            [tokens]
            access_token_format = "jwt"
            [[scopes]]
            name = "work"
            description = "Your department"
            claims = ["department"]
            [extra_claims]
            tenant = "acme"
            [client_claims."rp-1"]
            roles = ["a", "b"]
            "#,
        )
        .unwrap();
        let s = c.settings().unwrap();
        assert!(s.password_grant_enabled);
        assert_eq!(s.throttle.max_failures_per_user, 3);
        assert_eq!(s.throttle.max_failures_per_address, 20, "defaults fill the rest");
        assert!(s.introspection.require_audience && s.introspection.include_scope);
        assert_eq!(s.access_token_format, oidc_core::model::AccessTokenFormat::Jwt);
        assert_eq!(s.jwt_access_token_lifetime, 300);
        assert_eq!(s.refresh_reuse_interval, 0, "off by default");
        assert_eq!(c.cleanup().unwrap(), Some((crate::cleanup::DEFAULT_INTERVAL, 1000)), "hourly by default");
        assert_eq!(parse("[cleanup]\ninterval = 0\n").unwrap().cleanup().unwrap(), None);
        let r = c.scope_registry().unwrap();
        assert!(r.is_known("work"));
        assert_eq!(r.custom()[0].display_name, "work", "the name defaults to the token");
        assert_eq!(c.hooks().unwrap().id_token.len(), 2);
    }

    #[test]
    fn bad_sections_are_clear_errors() {
        let e = parse("[[scopes]]\nname = \"email\"\n").unwrap().scope_registry().unwrap_err();
        assert!(e.to_string().contains("standard scope"), "{e}");
        let e = parse("[brute_force]\nlockout = 0\n").unwrap().settings().unwrap_err();
        assert!(e.to_string().contains("brute_force.lockout"), "{e}");
        assert!(parse("[grants]\npasword = true\n").is_err(), "unknown keys are refused");
        let e = parse("[tokens]\naccess_token_format = \"paseto\"\n").unwrap().settings().unwrap_err();
        assert!(e.to_string().contains("tokens.access_token_format"), "{e}");
        let e = parse("[tokens]\nrefresh_reuse_interval = -1\n").unwrap().settings().unwrap_err();
        assert!(e.to_string().contains("refresh_reuse_interval"), "{e}");
        let e = parse("[lifetimes]\nsession_idle = 0\n").unwrap().settings().unwrap_err();
        assert!(e.to_string().contains("lifetimes.session_idle"), "{e}");
    }

    #[test]
    fn session_management_and_session_lifetimes_sections() {
        let c = parse(
            "[session_management]\nenabled = false\nunauthenticated_key = \"k\"\n\
             [lifetimes]\nsession = 7200\nsession_idle = 600\noffline_idle = 100\noffline_max = 200\n",
        )
        .unwrap();
        let s = c.settings().unwrap();
        assert!(!s.session_management);
        assert_eq!((s.session_lifetime, s.session_idle, s.offline_idle, s.offline_max), (7200, 600, 100, 200));
        assert_eq!(c.session_management.unauthenticated_key.as_deref(), Some("k"));
        assert!(parse("").unwrap().settings().unwrap().session_management, "on by default, as in Keycloak");
    }

    #[test]
    fn server_threads_default_to_one_per_cpu_and_are_bounded() {
        for (text, want) in [("", None), ("threads = 1\n", Some(1)), ("threads = 8\n", Some(8))] {
            assert_eq!(parse(&format!("[server]\n{text}")).unwrap().server_threads().unwrap(), want);
        }
        for bad in [0, 257] {
            let e = parse(&format!("[server]\nthreads = {bad}\n")).unwrap().server_threads().unwrap_err();
            assert!(e.to_string().contains("server.threads"), "{e}");
        }
    }

    #[test]
    fn cache_refresh_defaults_to_30_seconds_and_is_bounded() {
        assert_eq!(parse("").unwrap().cache_refresh().unwrap(), oidc_http::DEFAULT_CACHE_REFRESH);
        let c = parse("[server]\ncache_refresh = 5\n").unwrap();
        assert_eq!(c.cache_refresh().unwrap(), std::time::Duration::from_secs(5));
        for bad in [0, 3601] {
            let e = parse(&format!("[server]\ncache_refresh = {bad}\n")).unwrap().cache_refresh().unwrap_err();
            assert!(e.to_string().contains("server.cache_refresh"), "{e}");
        }
    }
}
