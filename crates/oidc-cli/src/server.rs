//! Starting the server: bootstrap the realm, build the application, listen.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use oidc_core::config::Settings;
use oidc_core::hooks::Hooks;
use oidc_core::ids::RealmName;
use oidc_core::model::Realm;
use oidc_core::rand::{OsRandom, Random};
use oidc_core::repo::{RepoError, Repositories};
use oidc_core::scope::ScopeRegistry;
use oidc_core::time::{Clock, UnixTime};
use oidc_http::{App, AppConfig, Cidr, ServerLimits, Templates};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that reads the system clock; everything else takes a Clock.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        UnixTime(secs)
    }
}

/// What bootstrapping created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Bootstrapped {
    /// The realm was created now.
    pub realm_created: bool,
    /// A signing key was created now (kid).
    pub key_created: Option<String>,
}

/// Makes sure `realm` exists and has an active signing key.
pub async fn bootstrap(repos: &dyn Repositories, realm: &str) -> anyhow::Result<Bootstrapped> {
    let rng = OsRandom::new();
    let now = SystemClock.now();
    let mut out = Bootstrapped::default();
    if repos.realm(RealmName::new(realm)).await?.is_none() {
        let mut secret_key = vec![0u8; 32];
        rng.fill(&mut secret_key);
        match repos.create_realm(&Realm { name: realm.to_owned(), secret_key, created_at: now }).await {
            Ok(()) => out.realm_created = true,
            // Another instance created it at the same moment.
            Err(RepoError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let keys = repos.keys(RealmName::new(realm)).await?;
    if !keys.iter().any(|k| k.state == oidc_core::model::KeyState::Active) {
        let key = crate::keys::generate_rs256(realm, now, &rng)?;
        repos.add_key(&key).await?;
        out.key_created = Some(key.kid);
    }
    Ok(out)
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to bind (port 0 for a free port).
    pub listen: String,
    /// Public base URL; `None` derives `http://{bound address}`.
    pub base_url: Option<String>,
    /// Protocol lifetimes.
    pub settings: Settings,
    /// Template override directory.
    pub templates_dir: Option<PathBuf>,
    /// The demo client's id, when the demo is on.
    pub demo_client_id: Option<String>,
    /// Access log.
    pub log_requests: bool,
    /// The custom scopes besides the standard ones.
    pub scopes: ScopeRegistry,
    /// Subject generator, claim hooks, after-login hook, consent listeners.
    pub hooks: Hooks,
    /// Let outbound fetches use plain http on loopback: tests only.
    pub allow_http_fetch_loopback: bool,
    /// Delete expired rows every interval, this many per table and statement
    /// (`None`: never; the binary's default is hourly).
    pub cleanup: Option<(std::time::Duration, u64)>,
    /// The browser-state key for browsers with no session (Session Management); random when `None`.
    pub unauthenticated_session_key: Option<String>,
    /// Private networks outbound fetches may reach.
    pub allow_fetch_networks: Vec<Cidr>,
    /// Connection limits and request deadlines.
    pub limits: ServerLimits,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<Cidr>,
    /// How long keys and clients are served from memory before they are read
    /// again (the bound for changes made elsewhere to reach this instance).
    pub cache_refresh: std::time::Duration,
}

impl ServerOptions {
    /// Options with the defaults: no custom scopes, default hooks, no demo.
    pub fn new(listen: impl Into<String>, settings: Settings) -> ServerOptions {
        ServerOptions {
            listen: listen.into(),
            base_url: None,
            settings,
            templates_dir: None,
            demo_client_id: None,
            log_requests: false,
            scopes: ScopeRegistry::default(),
            hooks: Hooks::default(),
            allow_http_fetch_loopback: false,
            cleanup: None,
            unauthenticated_session_key: None,
            allow_fetch_networks: Vec::new(),
            limits: ServerLimits::default(),
            trusted_proxies: Vec::new(),
            cache_refresh: oidc_http::DEFAULT_CACHE_REFRESH,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    /// The bound address.
    pub addr: SocketAddr,
    /// The public base URL.
    pub base_url: String,
    /// The application (to invalidate caches after management changes).
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    cleanup: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// Stops accepting, lets open requests finish, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after a shutdown signal), then stops the periodic cleanup.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let served = (&mut self.join).await;
        if let Some(c) = self.cleanup.take() {
            c.abort();
        }
        served.context("the server task failed")?.context("the server failed")
    }

    /// Takes the shutdown trigger, to fire from elsewhere (a signal handler).
    pub fn take_shutdown(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// Binds and starts the server over `repos` in the background.
pub async fn spawn(opts: ServerOptions, repos: Arc<dyn Repositories>) -> anyhow::Result<ServerHandle> {
    let listener =
        TcpListener::bind(&opts.listen).await.with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let base_url = opts.base_url.clone().unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_owned();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        anyhow::bail!("base_url must start with http:// or https://, got '{base_url}'");
    }
    let templates = Templates::load(opts.templates_dir.as_deref()).context("cannot load the templates")?;
    let config = AppConfig {
        base_url: base_url.clone(),
        settings: opts.settings.clone(),
        demo_client_id: opts.demo_client_id.clone(),
        log_requests: opts.log_requests,
        scopes: opts.scopes.clone(),
        allow_http_fetch_loopback: opts.allow_http_fetch_loopback,
        unauthenticated_session_key: opts.unauthenticated_session_key.clone(),
        allow_fetch_networks: opts.allow_fetch_networks.clone(),
        limits: opts.limits.clone(),
        trusted_proxies: opts.trusted_proxies.clone(),
        cache_refresh: opts.cache_refresh,
    };
    let horizon = opts.settings.throttle.window.max(opts.settings.throttle.max_lockout);
    let cleanup =
        opts.cleanup.map(|(interval, batch)| crate::cleanup::spawn_periodic(repos.clone(), interval, batch, horizon));
    let app = Arc::new(
        App::new(repos, config, templates, Arc::new(SystemClock), Arc::new(OsRandom::new()))
            .with_hooks(opts.hooks.clone()),
    );
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(oidc_http::serve(listener, app.clone(), async move {
        let _ = rx.await;
    }));
    Ok(ServerHandle { addr, base_url, app, shutdown: Some(tx), join, cleanup })
}
