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
    /// Thread per core: accept loops on threads of their own (see [`PerCore`]);
    /// `None` serves on the calling runtime.
    pub per_core: Option<PerCore>,
}

/// A thread-per-core server: `threads` threads, each pinned to one of the
/// CPUs the process may use (round robin), each running a single-threaded
/// runtime with its own listening socket on the one port (`SO_REUSEPORT`; the
/// threads then deal the connections they accept out to each other in turn,
/// see `oidc_http::ConnectionCaps::balanced`) and, on an SQLite file, its
/// own database connections ([`oidc_store::Store::open_shard`]). A request
/// then stays on one core from accept to response, its database statements
/// included, instead of moving between the runtime's workers and the
/// database threads on other cores (docs/PERFORMANCE.md). Connection caps
/// are counted for the process.
#[derive(Debug, Clone)]
pub struct PerCore {
    /// Accept loops (threads); 2 or more.
    pub threads: usize,
    /// The store the server runs on, prepared with [`oidc_store::Store::with_shards`].
    pub store: oidc_store::Store,
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
            per_core: None,
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
    let listeners = bind(&opts.listen, opts.per_core.as_ref().map_or(1, |p| p.threads.max(1)))
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listeners[0].local_addr()?;
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
    let join = match &opts.per_core {
        Some(per_core) if listeners.len() > 1 => spawn_per_core(listeners, app.clone(), per_core, rx).await?,
        _ => {
            let listener = listeners.into_iter().next().context("no listening socket")?;
            tokio::spawn(oidc_http::serve(listener, app.clone(), async move {
                let _ = rx.await;
            }))
        }
    };
    Ok(ServerHandle { addr, base_url, app, shutdown: Some(tx), join, cleanup })
}

/// `n` listening sockets on `listen`: one, or `n` sharing its port through
/// `SO_REUSEPORT` (the first picks the port when `listen` asks for port 0).
async fn bind(listen: &str, n: usize) -> std::io::Result<Vec<TcpListener>> {
    if n <= 1 {
        return Ok(vec![TcpListener::bind(listen).await?]);
    }
    let mut addr = tokio::net::lookup_host(listen)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the address resolves to nothing"))?;
    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The default number of server threads: one per CPU this process may use
/// (what `taskset` or a container's CPU set allows), at most 8, so that the
/// shards' database pools stay within what a database server allows (on
/// PostgreSQL the shards split one pool's 16 connections, at least 2 each).
pub fn default_threads() -> usize {
    allowed_cpus().len().clamp(1, 8)
}

/// The CPUs this process may run on (what `taskset` allowed), in order.
fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Pins the calling thread to `cpu`; threads it starts afterwards inherit the pin.
fn pin_to(cpu: usize) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// Starts one pinned thread per listener (see [`PerCore`]) and returns once
/// every thread serves (an error if one could not start: then none serves);
/// the returned task ends when every thread has stopped after `stop` fired
/// (or was dropped), or when one stopped on its own.
async fn spawn_per_core(
    listeners: Vec<TcpListener>,
    app: Arc<App>,
    per_core: &PerCore,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let threads = listeners.len();
    // The threads deal their connections out in turn (see `ConnectionCaps::balanced`).
    let (caps, seats) = oidc_http::ConnectionCaps::balanced(&app.config().limits, threads);
    let (stop_all, stopped) = tokio::sync::watch::channel(false);
    let cpus = allowed_cpus();
    let (finished, mut done) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<()>>();
    let mut starting = Vec::with_capacity(threads);
    for ((i, listener), seat) in listeners.into_iter().enumerate().zip(seats) {
        // Moved between runtimes as a plain socket (it stays non-blocking).
        let listener = listener.into_std()?;
        let (app, caps, store, mut stopped) = (app.clone(), caps.clone(), per_core.store.clone(), stopped.clone());
        let cpu = cpus.get(i % cpus.len().max(1)).copied();
        let finished = finished.clone();
        let (ready, started) = oneshot::channel::<()>();
        starting.push(started);
        std::thread::Builder::new().name(format!("oidc-core-{i}")).spawn(move || {
            if let Some(cpu) = cpu
                && let Err(e) = pin_to(cpu)
            {
                eprintln!("warning: server thread {i} is not pinned to CPU {cpu}: {e}");
            }
            let served = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|rt| {
                rt.block_on(async move {
                    // Without connections of its own (out of file descriptors, say)
                    // the thread serves on the main pool rather than not at all.
                    if let Err(e) = store.open_shard(i).await {
                        eprintln!("warning: server thread {i} uses the shared database pool: {e}");
                    }
                    let listener = TcpListener::from_std(listener)?;
                    let _ = ready.send(());
                    oidc_http::serve_balanced(listener, app, caps, Some(seat), async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
                })
            });
            let _ = finished.send(served);
        })?;
    }
    drop(finished);
    // A thread that could not start drops its `ready` with an error on `done`.
    for started in starting {
        if started.await.is_err() {
            let _ = stop_all.send(true);
            let e = done.recv().await.and_then(Result::err);
            return Err(e.map_or_else(|| anyhow::anyhow!("a server thread did not start"), anyhow::Error::from))
                .context("cannot start the server threads");
        }
    }
    Ok(tokio::spawn(async move {
        let mut results = Vec::with_capacity(threads);
        // A thread that stops on its own (it failed) stops the others too.
        tokio::select! {
            _ = stop => {}
            Some(r) = done.recv() => results.push(r),
        }
        let _ = stop_all.send(true);
        while let Some(r) = done.recv().await {
            results.push(r);
        }
        if results.len() < threads {
            return Err(std::io::Error::other("a server thread panicked"));
        }
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }))
}
