//! The application state shared by every request: repositories, settings,
//! templates, and the per-realm cache of parsed keys and precomputed documents.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oidc_core::config::Settings;
use oidc_core::hooks::Hooks;
use oidc_core::ids::{ClientId, RealmName};
use oidc_core::jose::KeySet;
use oidc_core::model::User;
use oidc_core::model::{Client, Realm};
use oidc_core::rand::Random;
use oidc_core::repo::{RepoError, Repositories};
use oidc_core::scope::ScopeRegistry;
use oidc_core::time::Clock;

use crate::templates::Templates;

/// Configuration of the HTTP adapter.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The public base URL, without a trailing slash (e.g. `https://login.example.com`).
    pub base_url: String,
    /// Protocol lifetimes.
    pub settings: Settings,
    /// The client_id of the built-in demo relying party, if the demo is on.
    pub demo_client_id: Option<String>,
    /// Whether to write one access-log line per request to standard error.
    pub log_requests: bool,
    /// The scopes the realms know: the standard ones and the configured custom ones.
    pub scopes: ScopeRegistry,
    /// Let outbound fetches (request_uri, sector_identifier_uri) use plain http
    /// on loopback addresses: for tests only, never in production.
    pub allow_http_fetch_loopback: bool,
    /// Connection limits and request deadlines.
    pub limits: crate::server::ServerLimits,
    /// Private networks that outbound fetches (jwks_uri, request_uri,
    /// sector_identifier_uri) may reach besides public addresses.
    pub allow_fetch_networks: Vec<crate::net::Cidr>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the
    /// client's address (none by default: the TCP peer is the client).
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// The browser-state key of browsers with no session (the seed's
    /// OIDC_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY): give every instance the
    /// same one; `None` draws a random one at start-up.
    pub unauthenticated_session_key: Option<String>,
    /// How long realm keys, discovery, JWKS and clients are served from memory
    /// before they are read again: the bound within which a change made by
    /// another instance or by the CLI reaches this one ([`DEFAULT_CACHE_REFRESH`]).
    pub cache_refresh: Duration,
}

impl AppConfig {
    /// Whether cookies get the `Secure` attribute: when the base URL is https.
    pub(crate) fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The path part of the base URL (empty when served at the root).
    pub(crate) fn base_url_path(&self) -> &str {
        let rest = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, r)| r);
        rest.find('/').map_or("", |i| &rest[i..])
    }

    /// The issuer of `realm`: `{base_url}/realms/{realm}`.
    pub(crate) fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base_url)
    }
}

/// What the server keeps in memory for one realm.
#[derive(Debug)]
pub struct RealmState {
    /// The realm.
    pub realm: Realm,
    /// Its issuer URL.
    pub issuer: String,
    /// Its keys, parsed once.
    pub keys: KeySet,
    /// The discovery document, serialized once.
    pub(crate) discovery: Bytes,
    /// The JWKS document, serialized once.
    pub(crate) jwks: Bytes,
    /// When this state was loaded; it is reloaded after [`AppConfig::cache_refresh`].
    loaded: Instant,
}

/// How long a realm's keys and documents and its clients are served from
/// memory before they are read again by default, so that `oidc key rotate`,
/// `oidc client update` and the like take effect on a running server (and on
/// every instance sharing the database) without a restart.
pub const DEFAULT_CACHE_REFRESH: Duration = Duration::from_secs(30);

/// How long keys fetched from a client's jwks_uri are kept.
const CLIENT_KEYS_REFRESH: Duration = Duration::from_secs(300);

/// Failure to load a realm.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("the realm's keys are unusable: {0}")]
    Keys(#[from] oidc_core::jose::JoseError),
}

/// The state shared by all requests.
pub struct App {
    pub(crate) repos: Arc<dyn Repositories>,
    pub(crate) config: AppConfig,
    pub(crate) templates: Templates,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Random>,
    realms: RwLock<HashMap<String, Arc<RealmState>>>,
    clients: RwLock<HashMap<(String, String), CachedClient>>,
    /// Password hashing is CPU- and memory-bound (Argon2id uses 12 MiB per
    /// check): one thread per core with reused memory, the rest wait.
    pub(crate) passwords: crate::hashing::PasswordPool,
    pub(crate) hooks: Hooks,
    pub(crate) fetcher: crate::fetch::Fetcher,
    /// Keys fetched from clients' jwks_uri, by (realm, client_id).
    client_keys: RwLock<HashMap<(String, String), CachedKeys>>,
    /// The browser state of browsers with no session (Session Management 1.0 §3).
    pub(crate) unauthenticated_browser_state: String,
    /// (session id, client_id) pairs this process already recorded, so that
    /// repeated authorizations in a session do not write the same row again.
    session_clients_seen: RwLock<std::collections::HashSet<(String, String)>>,
}

/// A client's JWK Set fetched from its jwks_uri, and when.
type CachedKeys = (Arc<String>, Instant);

/// A client read from storage, and when.
type CachedClient = (Arc<Client>, Instant);

/// The most clients kept in memory; beyond it the cache starts over.
const CLIENT_CACHE_MAX: usize = 10_000;

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("config", &self.config).finish_non_exhaustive()
    }
}

impl App {
    /// A new application over `repos`.
    pub fn new(
        repos: Arc<dyn Repositories>,
        config: AppConfig,
        templates: Templates,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
    ) -> App {
        let fetcher = crate::fetch::Fetcher::new(crate::fetch::OutboundPolicy {
            allow_networks: config.allow_fetch_networks.clone(),
            allow_http_loopback: config.allow_http_fetch_loopback,
        });
        let passwords = crate::hashing::PasswordPool::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            rng.clone(),
        );
        let key = match &config.unauthenticated_session_key {
            Some(k) => k.as_bytes().to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                rng.fill(&mut k);
                k
            }
        };
        let unauthenticated_browser_state = oidc_core::session::unauthenticated_browser_state(&key);
        App {
            unauthenticated_browser_state,
            session_clients_seen: RwLock::new(std::collections::HashSet::new()),
            repos,
            config,
            templates,
            clock,
            rng,
            realms: RwLock::new(HashMap::new()),
            clients: RwLock::new(HashMap::new()),
            passwords,
            hooks: Hooks::default(),
            fetcher,
            client_keys: RwLock::new(HashMap::new()),
        }
    }

    /// `client` with its keys in `jwks`: those registered inline, or those at
    /// its `jwks_uri` (fetched, then kept for [`CLIENT_KEYS_REFRESH`]), and
    /// whether they were fetched just now. `refresh` fetches again (when a
    /// signature did not verify, so that a client's key rotation works); callers
    /// refresh only keys they did not fetch in the same request, so one bad
    /// assertion causes at most one fetch, and the fetcher's per-client allowance
    /// bounds how many a stream of them can cause.
    pub(crate) async fn with_client_keys(&self, client: &Client, refresh: bool) -> (Client, bool) {
        let Some(uri) = client.jwks_uri.as_deref().filter(|_| client.jwks.is_none()) else {
            return (client.clone(), false);
        };
        let key = (client.realm.clone(), client.client_id.clone());
        let cached = self
            .client_keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .filter(|(_, at)| !refresh && at.elapsed() < CLIENT_KEYS_REFRESH)
            .map(|(doc, _)| doc.clone());
        let fetched = cached.is_none();
        let doc = match cached {
            Some(doc) => Some(doc),
            None => {
                match self.fetcher.get(uri, &format!("client '{}' of realm '{}'", client.client_id, client.realm)).await
                {
                    Ok(body) => match String::from_utf8(body.to_vec()) {
                        Ok(text) if oidc_core::manage::check_jwks(&text).is_ok() => {
                            let doc = Arc::new(text);
                            let mut cache = self.client_keys.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                            if cache.len() >= CLIENT_CACHE_MAX {
                                cache.clear();
                            }
                            cache.insert(key, (doc.clone(), Instant::now()));
                            Some(doc)
                        }
                        _ => {
                            crate::log::warn(&format!(
                                "the jwks_uri of client '{}' is not a usable JWK Set",
                                client.client_id
                            ));
                            None
                        }
                    },
                    // The fetcher logs the reason.
                    Err(_) => None,
                }
            }
        };
        let mut c = client.clone();
        c.jwks = doc.map(|d| d.as_str().to_owned());
        (c, fetched)
    }

    /// Records that session `session_id` issued to `client_id` (once per
    /// process and pair; the store's insert is idempotent anyway).
    pub(crate) async fn add_session_client(
        &self,
        realm: &str,
        session_id: &str,
        client_id: &str,
        now: oidc_core::time::UnixTime,
    ) -> Result<(), RepoError> {
        let key = (session_id.to_owned(), client_id.to_owned());
        if self.session_clients_seen.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&key) {
            return Ok(());
        }
        self.repos.add_session_client(RealmName::new(realm), session_id, ClientId::new(client_id), now).await?;
        let mut seen = self.session_clients_seen.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= CLIENT_CACHE_MAX {
            seen.clear();
        }
        seen.insert(key);
        Ok(())
    }

    /// The application with `hooks` (subject generator, UserInfo and id_token
    /// hooks, after-login hook, consent listeners) instead of the defaults.
    #[must_use]
    pub fn with_hooks(mut self, hooks: Hooks) -> App {
        self.hooks = hooks;
        self
    }

    /// The subject identifier of `user` for `client` (OIDC Core §8), salted
    /// with the realm's secret for pairwise clients.
    pub(crate) fn subject(&self, realm: &RealmState, user: &User, client: &Client) -> String {
        self.hooks.subjects.subject(user, client, &realm.realm.secret_key)
    }

    /// The configuration.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The realm `name`, loaded once and then served from memory.
    pub(crate) async fn realm(&self, name: &str) -> Result<Option<Arc<RealmState>>, LoadError> {
        if let Some(r) = self.realms.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name)
            && r.loaded.elapsed() < self.config.cache_refresh
        {
            return Ok(Some(r.clone()));
        }
        let Some(realm) = self.repos.realm(RealmName::new(name)).await? else {
            return Ok(None);
        };
        let keys = KeySet::from_records(&self.repos.keys(RealmName::new(name)).await?, self.clock.now())?;
        let state = Arc::new(self.build_state(realm, keys));
        self.realms.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_owned(), state.clone());
        Ok(Some(state))
    }

    /// The client `client_id` of `realm`, served from memory for up to
    /// [`AppConfig::cache_refresh`] after it was read (so a change made by another
    /// process, such as `oidc client update`, takes effect within that time).
    /// Unknown client_ids are not cached.
    pub(crate) async fn client(&self, realm: &str, client_id: &str) -> Result<Option<Arc<Client>>, RepoError> {
        let key = (realm.to_owned(), client_id.to_owned());
        if let Some((c, at)) = self.clients.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key)
            && at.elapsed() < self.config.cache_refresh
        {
            return Ok(Some(c.clone()));
        }
        let Some(client) = self.repos.client(RealmName::new(realm), ClientId::new(client_id)).await? else {
            self.invalidate_client(realm, client_id);
            return Ok(None);
        };
        let client = Arc::new(client);
        let mut cache = self.clients.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CLIENT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (client.clone(), Instant::now()));
        Ok(Some(client))
    }

    /// The realm roles of `holder` that a token with `scope` may need: read
    /// only when the `roles` scope is granted (Keycloak's `roles` client
    /// scope), so other tokens cost no query. `oidc_core::roles` then keeps
    /// those within the client's role scope.
    pub(crate) async fn roles_for(
        &self,
        realm: &str,
        holder: &oidc_core::repo::RoleHolder,
        scope: &oidc_core::scope::Scope,
    ) -> Result<Vec<String>, RepoError> {
        if !scope.contains(oidc_core::roles::ROLES_SCOPE) {
            return Ok(Vec::new());
        }
        self.repos.roles(RealmName::new(realm), holder).await
    }

    /// Forgets the cached copy of a client (after it changed in this process).
    pub fn invalidate_client(&self, realm: &str, client_id: &str) {
        self.clients
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(realm.to_owned(), client_id.to_owned()));
    }

    /// Forgets the cached state of `name` (after its keys changed), so the next request reloads it.
    pub fn invalidate_realm(&self, name: &str) {
        self.realms.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(name);
    }

    fn build_state(&self, realm: Realm, keys: KeySet) -> RealmState {
        let issuer = self.config.issuer(&realm.name);
        let oidc = format!("{issuer}/protocol/openid-connect");
        // OpenID Connect Discovery 1.0 §3: the core lists what its flows accept.
        let endpoints = oidc_core::discovery::Endpoints {
            authorization: format!("{oidc}/auth"),
            token: format!("{oidc}/token"),
            userinfo: format!("{oidc}/userinfo"),
            jwks: format!("{oidc}/certs"),
            end_session: format!("{oidc}/logout"),
            registration: format!("{issuer}/clients-registrations/openid-connect"),
            introspection: format!("{oidc}/token/introspect"),
            revocation: format!("{oidc}/revoke"),
            // Session Management 1.0 §3.3.
            check_session_iframe: self
                .config
                .settings
                .session_management
                .then(|| format!("{oidc}/login-status-iframe.html")),
        };
        let discovery =
            serde_json::Value::Object(oidc_core::discovery::document(&oidc_core::discovery::DiscoveryInput {
                issuer: &issuer,
                endpoints: &endpoints,
                keys: &keys,
                scopes: &self.config.scopes,
                settings: &self.config.settings,
            }));
        RealmState {
            discovery: Bytes::from(discovery.to_string()),
            jwks: Bytes::from(keys.jwks_json().to_owned()),
            issuer,
            keys,
            realm,
            loaded: Instant::now(),
        }
    }
}
