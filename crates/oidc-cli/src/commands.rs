//! The commands.

/// Prints a line to standard output. When the reader has gone away (`oidc client
/// list | head -1`), the command stops quietly with the status a process killed
/// by SIGPIPE has (141) instead of panicking; other write errors are reported.
macro_rules! say {
    () => {
        $crate::commands::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::commands::write_line(format_args!($($arg)*))
    };
}

use std::io::{BufRead as _, IsTerminal as _};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::{Client, ClientType, GrantType, JwtAlg, KeyState, ResponseType, StandardClaims};
use oidc_core::rand::OsRandom;
use oidc_core::registration::{InitialAccessToken, Policies, PolicyKind};
use oidc_core::repo::Repositories;
use oidc_core::secret::{ClientSecret, Password};
use oidc_core::time::Clock as _;
use oidc_store::Store;

use crate::cli::{
    Cli, ClientCommand, ClientOpts, Command, InitialTokenCommand, KeyCommand, PolicyCommand, RealmCommand, ServeArgs,
    UserCommand,
};
use crate::config::{DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DEFAULT_REALM, FileConfig};
use crate::server::{self, ServerOptions, SystemClock};

mod roles;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let database_url = cli.database_url.clone().or(file.database_url.clone()).unwrap_or(DEFAULT_DATABASE_URL.into());
    let realm = cli.realm.clone().or(file.realm.clone()).unwrap_or(DEFAULT_REALM.into());
    if !valid_realm(&realm) {
        bail!("invalid realm name '{realm}': use 1 to 64 letters, digits, '-' or '_'");
    }
    let store = Store::connect(&database_url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&database_url)))?;
    match cli.command {
        Command::Migrate => {
            store.migrate().await.context("migration failed")?;
            say!("Database is up to date.");
            Ok(())
        }
        Command::Serve(args) => serve(store, &database_url, &file, &realm, args).await,
        other => {
            store.migrate().await.context("migration failed")?;
            let store: Arc<dyn Repositories> = Arc::new(store);
            match other {
                Command::Realm(c) => realm_cmd(store.as_ref(), c).await,
                Command::Key(c) => key_cmd(store.as_ref(), &realm, c).await,
                Command::Client(c) => {
                    require_realm(store.as_ref(), &realm).await?;
                    client_cmd(store.as_ref(), &realm, *c).await
                }
                Command::User(UserCommand::Logout { username }) => {
                    require_realm(store.as_ref(), &realm).await?;
                    user_logout(store, &file, &realm, &username).await
                }
                Command::User(c) => {
                    require_realm(store.as_ref(), &realm).await?;
                    user_cmd(store.as_ref(), &realm, c).await
                }
                Command::InitialAccessToken(c) => {
                    require_realm(store.as_ref(), &realm).await?;
                    initial_token_cmd(store.as_ref(), &realm, c).await
                }
                Command::RegistrationPolicy(c) => {
                    require_realm(store.as_ref(), &realm).await?;
                    policy_cmd(store.as_ref(), &realm, c).await
                }
                Command::Role(c) => {
                    require_realm(store.as_ref(), &realm).await?;
                    roles::role_cmd(store.as_ref(), &realm, c).await
                }
                Command::Cleanup { batch } => {
                    let throttle = file.settings()?.throttle;
                    let horizon = throttle.window.max(throttle.max_lockout);
                    let n = crate::cleanup::run_once(store.as_ref(), batch, horizon).await?;
                    say!(
                        "Deleted {} expired rows: {} codes, {} access tokens, {} refresh tokens, {} sessions, \
                         {} consents, {} assertion ids, {} failed-password counters.",
                        n.total(),
                        n.codes,
                        n.access_tokens,
                        n.refresh_tokens,
                        n.sessions,
                        n.consents,
                        n.assertions,
                        n.failure_counts
                    );
                    Ok(())
                }
                Command::Migrate | Command::Serve(_) => Ok(()),
            }
        }
    }
}

fn valid_realm(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn require_realm(store: &dyn Repositories, realm: &str) -> anyhow::Result<()> {
    if store.realm(RealmName::new(realm)).await?.is_none() {
        bail!("realm '{realm}' does not exist; run `oidc serve` once, or `oidc realm create {realm}`");
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit; returns the limit in force.
fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("warning: cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

async fn serve(store: Store, url: &str, file: &FileConfig, realm: &str, args: ServeArgs) -> anyhow::Result<()> {
    SERVING.store(true, std::sync::atomic::Ordering::Relaxed);
    store.migrate().await.context("migration failed")?;
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => file.server_threads()?.unwrap_or_else(server::default_threads),
    };
    let store = store.with_shards(url, threads);
    let per_core = (threads > 1).then(|| server::PerCore { threads, store: store.clone() });
    let store: Arc<dyn Repositories> = Arc::new(store);
    let boot = server::bootstrap(store.as_ref(), realm).await?;
    if boot.realm_created {
        say!("Created realm '{realm}'.");
    }
    if let Some(kid) = &boot.key_created {
        say!("Created RS256 signing key {kid}.");
    }
    let demo = if args.demo { Some(()) } else { None };
    let listen = args.listen.clone().or(file.listen.clone()).unwrap_or(DEFAULT_LISTEN.into());
    let mut opts = ServerOptions::new(listen, file.settings()?);
    opts.base_url = args.base_url.clone().or(file.base_url.clone());
    opts.templates_dir = args.templates_dir.clone().or(file.templates_dir.clone());
    opts.demo_client_id = demo.map(|()| DEMO_CLIENT.to_owned());
    opts.log_requests = !args.quiet && file.log_requests.unwrap_or(true);
    opts.scopes = file.scope_registry()?;
    opts.hooks = file.hooks()?;
    opts.limits = file.limits()?;
    opts.cache_refresh = file.cache_refresh()?;
    opts.trusted_proxies = file.trusted_proxies()?;
    opts.allow_fetch_networks = file.fetch_networks()?;
    opts.allow_http_fetch_loopback = file.outbound.allow_http_loopback;
    opts.unauthenticated_session_key = file.session_management.unauthenticated_key.clone();
    if opts.allow_http_fetch_loopback {
        eprintln!("WARNING: [outbound] allow_http_loopback is on: jwks_uri, request_uri and sector_identifier_uri");
        eprintln!("WARNING: may be fetched over plain http from this machine. Use it for development only.");
    }
    // Every connection is a file descriptor: take what the hard limit allows.
    let files = raise_open_file_limit();
    let usable = usize::try_from(files.saturating_sub(64)).unwrap_or(usize::MAX).max(16);
    if opts.limits.max_connections > usable {
        eprintln!(
            "warning: server.max_connections lowered from {} to {usable} (the open-file limit is {files})",
            opts.limits.max_connections
        );
        opts.limits.max_connections = usable;
    }
    opts.cleanup = file.cleanup()?;
    opts.per_core = per_core;
    let mut handle = server::spawn(opts, store.clone()).await?;
    let issuer = format!("{}/realms/{realm}", handle.base_url);
    say!("Listening on http://{}", handle.addr);
    say!("Issuer:    {issuer}");
    say!("Discovery: {issuer}/.well-known/openid-configuration");
    if args.demo {
        let password = seed_demo(store.as_ref(), realm, &handle.base_url).await?;
        say!();
        say!("Demo: open {issuer}/demo in a browser and sign in as user 'demo' with password '{password}'.");
        say!("      The page runs the code flow with PKCE and shows the decoded id_token and userinfo.");
    } else if boot.realm_created {
        say!();
        say!("Next: register a client with `oidc client create --name App --redirect-uri https://app.example/cb`");
        say!("      and a user with `oidc user create alice --email alice@example.com`,");
        say!("      or restart with `--demo` to try a login in the browser.");
    }
    let shutdown = handle.take_shutdown();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("Shutting down.");
        if let Some(tx) = shutdown {
            let _ = tx.send(());
        }
    });
    handle.wait().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The demo client's id.
pub(crate) const DEMO_CLIENT: &str = "demo-rp";

/// Creates (or refreshes) the demo user and the demo public client; returns the demo password.
async fn seed_demo(store: &dyn Repositories, realm: &str, base_url: &str) -> anyhow::Result<String> {
    let rng = OsRandom::new();
    let now = SystemClock.now();
    let password = oidc_core::rand::token(&rng, 9);
    let hash = oidc_core::password::hash(&Password::new(password.clone()), &rng);
    match store.user_by_username(RealmName::new(realm), "demo").await? {
        Some(u) => store.set_password_hash(RealmName::new(realm), u.id(), &hash).await?,
        None => {
            let claims = StandardClaims {
                name: Some("Demo User".into()),
                given_name: Some("Demo".into()),
                family_name: Some("User".into()),
                email: Some("demo@example.com".into()),
                email_verified: true,
                phone_number: Some("+1 555 0100".into()),
                ..StandardClaims::default()
            };
            let mut user = manage::new_user(realm, "demo", claims, now, &rng).map_err(|e| anyhow!(e))?;
            user.password_hash = Some(hash);
            store.create_user(&user).await?;
        }
    }
    let redirect = format!("{base_url}/realms/{realm}/demo");
    let mut spec = ClientSpec::new("Demo relying party", ClientType::Public, vec![redirect.clone()]);
    spec.client_id = Some(DEMO_CLIENT.into());
    spec.post_logout_redirect_uris = vec![redirect];
    let (client, _) = manage::new_client(realm, spec, now, &rng).map_err(|e| anyhow!(e))?;
    if store.client(RealmName::new(realm), ClientId::new(DEMO_CLIENT)).await?.is_some() {
        store.update_client(&client).await?;
    } else {
        store.create_client(&client).await?;
    }
    Ok(password)
}

async fn realm_cmd(store: &dyn Repositories, c: RealmCommand) -> anyhow::Result<()> {
    match c {
        RealmCommand::Create { name } => {
            if !valid_realm(&name) {
                bail!("invalid realm name '{name}': use 1 to 64 letters, digits, '-' or '_'");
            }
            if store.realm(RealmName::new(&name)).await?.is_some() {
                bail!("realm '{name}' already exists");
            }
            let b = server::bootstrap(store, &name).await?;
            say!("Created realm '{name}' with signing key {}.", b.key_created.unwrap_or_default());
        }
        RealmCommand::List => {
            for name in store.realm_names().await? {
                say!("{name}");
            }
        }
    }
    Ok(())
}

async fn key_cmd(store: &dyn Repositories, realm: &str, c: KeyCommand) -> anyhow::Result<()> {
    require_realm(store, realm).await?;
    let now = SystemClock.now();
    let parse_alg = |a: &str| a.parse::<JwtAlg>().map_err(|e| anyhow!(e));
    const TAKES_EFFECT: &str = "running servers use it within 30 seconds";
    match c {
        KeyCommand::Create { alg } => {
            let key = crate::keys::generate(realm, parse_alg(&alg)?, now, &OsRandom::new())?;
            store.add_key(&key).await?;
            say!("Created {} key {} in realm '{realm}'; {TAKES_EFFECT}.", key.alg, key.kid);
        }
        KeyCommand::List => {
            say!("{:<18} {:<6} {:<8} {:<12} published_until", "kid", "alg", "state", "created_at");
            for k in store.keys(RealmName::new(realm)).await? {
                let until = k.published_until.map_or_else(String::new, |t| t.to_string());
                say!("{:<18} {:<6} {:<8} {:<12} {until}", k.kid, k.alg, k.state.as_str(), k.created_at.to_string());
            }
        }
        KeyCommand::Rotate { alg, keep_published } => {
            let alg = parse_alg(&alg)?;
            if keep_published < 0 {
                bail!("--keep-published must not be negative");
            }
            let old: Vec<_> = store
                .keys(RealmName::new(realm))
                .await?
                .into_iter()
                .filter(|k| k.state == KeyState::Active && k.alg == alg.as_str())
                .collect();
            let key = crate::keys::generate(realm, alg, now, &OsRandom::new())?;
            store.add_key(&key).await?;
            let until = now.plus(keep_published);
            for k in &old {
                store.set_key_state(RealmName::new(realm), &k.kid, KeyState::Retired, Some(until)).await?;
            }
            say!(
                "Created {} key {}; retired {} (published until {until}); {TAKES_EFFECT}.",
                key.alg,
                key.kid,
                if old.is_empty() {
                    "nothing".to_owned()
                } else {
                    old.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>().join(", ")
                },
            );
        }
        KeyCommand::Retire { kid, keep_published } => {
            if keep_published < 0 {
                bail!("--keep-published must not be negative");
            }
            let key = store.keys(RealmName::new(realm)).await?.into_iter().find(|k| k.kid == kid);
            match key {
                None => bail!("no key '{kid}' in realm '{realm}'"),
                Some(k) if k.state == KeyState::Revoked => bail!("key '{kid}' is revoked; it cannot be retired"),
                Some(_) => {}
            }
            let until = now.plus(keep_published);
            store.set_key_state(RealmName::new(realm), &kid, KeyState::Retired, Some(until)).await?;
            say!("Retired key {kid}: it no longer signs and stays published until {until}; {TAKES_EFFECT}.");
        }
        KeyCommand::Revoke { kid } => {
            store.set_key_state(RealmName::new(realm), &kid, KeyState::Revoked, None).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no key '{kid}' in realm '{realm}'"),
                other => other.into(),
            })?;
            say!("Revoked key {kid}: it is no longer published; tokens it signed no longer verify.");
        }
    }
    Ok(())
}

async fn initial_token_cmd(store: &dyn Repositories, realm: &str, c: InitialTokenCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match c {
        InitialTokenCommand::Create { expires_in, count } => {
            if expires_in < 0 || count < 1 {
                bail!("--expires-in must be 0 or more and --count at least 1");
            }
            let rng = OsRandom::new();
            let value = oidc_core::rand::token(&rng, 32);
            let t = InitialAccessToken {
                id: oidc_core::rand::identifier(&rng, 9),
                realm: realm.to_owned(),
                digest: oidc_core::secret::Digest::of(&value),
                created_at: now,
                expires_at: (expires_in > 0).then(|| now.plus(expires_in)),
                max_uses: count,
                used: 0,
            };
            store.create_initial_token(&t).await?;
            say!("id:      {}", t.id);
            say!("token:   {value}");
            say!("(The token is shown only now. Send it as 'Authorization: Bearer <token>' to");
            say!(" POST /realms/{realm}/clients-registrations/openid-connect; it registers {count} client(s).)");
        }
        InitialTokenCommand::List => {
            say!("{:<14} {:<10} {:<12} expires_at", "id", "remaining", "created_at");
            for t in store.initial_tokens(RealmName::new(realm)).await? {
                let expires = t.expires_at.map_or_else(
                    || "never".to_owned(),
                    |e| {
                        if e <= now { format!("{e} (expired)") } else { e.to_string() }
                    },
                );
                say!("{:<14} {:<10} {:<12} {expires}", t.id, t.max_uses - t.used, t.created_at.to_string());
            }
        }
        InitialTokenCommand::Delete { id } => {
            store.delete_initial_token(RealmName::new(realm), &id).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no initial access token '{id}'"),
                other => other.into(),
            })?;
            say!("Deleted initial access token {id}.");
        }
    }
    Ok(())
}

async fn load_policies(store: &dyn Repositories, realm: &str, kind: PolicyKind) -> anyhow::Result<Policies> {
    Ok(match store.policies(RealmName::new(realm), kind).await? {
        None => kind.defaults(),
        Some(text) => Policies::from_json(&serde_json::from_str(&text)?, kind.defaults()).map_err(|e| anyhow!(e))?,
    })
}

async fn policy_cmd(store: &dyn Repositories, realm: &str, c: PolicyCommand) -> anyhow::Result<()> {
    match c {
        PolicyCommand::Show => {
            for kind in [PolicyKind::Anonymous, PolicyKind::Authenticated] {
                say!("{}: {}", kind.as_str(), load_policies(store, realm, kind).await?.to_json());
            }
        }
        PolicyCommand::Set {
            kind,
            trusted_hosts,
            no_trusted_hosts,
            max_clients,
            consent_required,
            client_disabled,
            allowed_scopes,
            full_scope,
            rotate_registration_token,
            requester_must_match,
            client_uris_must_match,
            full_scope_disabled,
        } => {
            let kind: PolicyKind = kind.parse().map_err(|e: String| anyhow!(e))?;
            let mut p = load_policies(store, realm, kind).await?;
            if no_trusted_hosts {
                p.trusted_hosts = None;
            } else if !trusted_hosts.is_empty() {
                p.trusted_hosts = Some(trusted_hosts);
            }
            if let Some(m) = max_clients {
                p.max_clients = (m > 0).then_some(m);
            }
            if let Some(b) = consent_required {
                p.consent_required = b;
            }
            if let Some(b) = client_disabled {
                p.client_disabled = b;
            }
            if full_scope {
                p.allowed_scopes = None;
            } else if !allowed_scopes.is_empty() {
                p.allowed_scopes = Some(allowed_scopes);
            }
            if let Some(b) = rotate_registration_token {
                p.rotate_registration_token = b;
            }
            if let Some(b) = requester_must_match {
                p.trusted_hosts_check_requester = b;
            }
            if let Some(b) = client_uris_must_match {
                p.trusted_hosts_check_uris = b;
            }
            if let Some(b) = full_scope_disabled {
                p.full_scope_disabled = b;
            }
            store.set_policies(RealmName::new(realm), kind, &p.to_json().to_string()).await?;
            say!("{}: {}", kind.as_str(), p.to_json());
        }
    }
    Ok(())
}

/// Parses `KEY=VALUE`: VALUE as JSON when it parses as JSON, else as a string.
fn parse_attr(a: &str) -> anyhow::Result<(String, serde_json::Value)> {
    let (k, v) = a.split_once('=').ok_or_else(|| anyhow!("attribute '{a}' is not KEY=VALUE"))?;
    let k = k.trim();
    if k.is_empty() || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("attribute name '{k}' must be non-empty without spaces");
    }
    let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
    Ok((k.to_owned(), v))
}

/// A client signing with a realm key needs an active key of its algorithm.
async fn require_key_for(store: &dyn Repositories, realm: &str, alg: JwtAlg) -> anyhow::Result<()> {
    if !alg.uses_realm_key() {
        return Ok(());
    }
    let keys = store.keys(RealmName::new(realm)).await?;
    if !keys.iter().any(|k| k.state == KeyState::Active && k.alg == alg.as_str()) {
        bail!(
            "realm '{realm}' has no active {} key to sign this client's tokens; create one first with \
             `oidc key create --alg {}`",
            alg.as_str(),
            alg.as_str()
        );
    }
    Ok(())
}

fn parse_list<T: std::str::FromStr<Err = String>>(values: &[String]) -> anyhow::Result<Vec<T>> {
    values.iter().map(|v| v.parse::<T>().map_err(|e| anyhow!(e))).collect()
}

fn spec_from(opts: &ClientOpts, base: Option<&Client>) -> anyhow::Result<ClientSpec> {
    let client_type = match &opts.client_type {
        Some(t) => t.parse::<ClientType>().map_err(|e| anyhow!(e))?,
        None => base.map_or(ClientType::Confidential, |c| c.client_type),
    };
    let jwt_alg = match &opts.jwt_alg {
        Some(a) => a.parse::<JwtAlg>().map_err(|e| anyhow!(e))?,
        None => base.map_or(JwtAlg::Rs256, |c| c.jwt_alg),
    };
    // Grant types given without authorization_code (a service account) mean no response type by default.
    let code_grant = opts.grant_types.is_empty() || opts.grant_types.iter().any(|g| g == "authorization_code");
    let response_types = if opts.response_types.is_empty() {
        match base {
            Some(c) => c.response_types.clone(),
            None if code_grant => vec![ResponseType::Code],
            None => vec![],
        }
    } else {
        parse_list(&opts.response_types)?
    };
    let grant_types = if !opts.grant_types.is_empty() {
        parse_list(&opts.grant_types)?
    } else if let Some(c) = base.filter(|_| opts.response_types.is_empty()) {
        c.grant_types.clone()
    } else if response_types.iter().any(|r| r.has_code()) {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        vec![]
    };
    let mut spec = match base {
        Some(c) => ClientSpec::of(c),
        None => ClientSpec::new(
            opts.name.clone().ok_or_else(|| anyhow!("--name is required"))?,
            client_type,
            opts.redirect_uris.clone(),
        ),
    };
    let set = &mut spec.settings;
    set.client_type = client_type;
    set.response_types = response_types;
    set.grant_types = grant_types;
    set.jwt_alg = jwt_alg;
    let replace = |field: &mut Vec<String>, new: &Vec<String>| {
        if !new.is_empty() {
            field.clone_from(new);
        }
    };
    replace(&mut set.redirect_uris, &opts.redirect_uris);
    replace(&mut set.post_logout_redirect_uris, &opts.post_logout_redirect_uris);
    replace(&mut set.allowed_scopes, &opts.scopes);
    replace(&mut set.default_scopes, &opts.default_scopes);
    replace(&mut set.role_scope, &opts.role_scope);
    if opts.no_default_scopes {
        set.default_scopes.clear();
    }
    for (field, new) in [
        (&mut set.website_url, &opts.website_url),
        (&mut set.terms_url, &opts.terms_url),
        (&mut set.policy_url, &opts.policy_url),
        (&mut set.contact_email, &opts.contact_email),
        (&mut set.logo, &opts.logo),
        (&mut set.sector_identifier_uri, &opts.sector_identifier_uri),
        (&mut set.description, &opts.description),
    ] {
        if new.is_some() {
            field.clone_from(new);
        }
    }
    for (field, new) in [
        (&mut set.require_consent, opts.require_consent),
        (&mut set.reuse_consent, opts.reuse_consent),
        (&mut set.enabled, opts.enabled),
        (&mut set.full_scope_allowed, opts.full_scope_allowed),
    ] {
        if let Some(v) = new {
            *field = v;
        }
    }
    if let Some(n) = &opts.name {
        set.name.clone_from(n);
    }
    if let Some(t) = &opts.subject_type {
        set.subject_type = t.parse().map_err(|e: String| anyhow!(e))?;
    }
    if let Some(m) = &opts.pkce_method {
        set.pkce_method = Some(m.parse().map_err(|e: oidc_core::OAuthError| anyhow!(e.description))?);
    }
    if let Some(f) = &opts.access_token_format {
        set.access_token_format = Some(f.parse().map_err(|e: String| anyhow!(e))?);
    }
    if let Some(a) = &opts.access_token_alg {
        set.access_token_signed_response_alg = Some(a.parse().map_err(|e: String| anyhow!(e))?);
    }
    // Front-Channel and Back-Channel Logout 1.0; an empty value removes a URI.
    for (field, new) in [
        (&mut set.logout.frontchannel_uri, &opts.frontchannel_logout_uri),
        (&mut set.logout.backchannel_uri, &opts.backchannel_logout_uri),
    ] {
        if let Some(u) = new {
            *field = (!u.is_empty()).then(|| u.clone());
        }
    }
    if let Some(v) = opts.frontchannel_logout_session_required {
        set.logout.frontchannel_session_required = v;
    }
    if let Some(v) = opts.backchannel_logout_session_required {
        set.logout.backchannel_session_required = v;
    }
    Ok(spec)
}

fn print_client(c: &Client) {
    say!("client_id:      {}", c.client_id);
    say!("name:           {}", c.name);
    say!("type:           {}", c.client_type.as_str());
    say!("response_types: {}", c.response_types.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "));
    say!("grant_types:    {}", c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "));
    say!("jwt_alg:        {}", c.jwt_alg.as_str());
    say!("subject_type:   {}", c.subject_type);
    say!("redirect_uris:  {}", c.redirect_uris.join(" "));
    if let Some(u) = &c.logout.frontchannel_uri {
        say!("frontchannel:   {u} (session required: {})", c.logout.frontchannel_session_required);
    }
    if let Some(u) = &c.logout.backchannel_uri {
        say!("backchannel:    {u} (session required: {})", c.logout.backchannel_session_required);
    }
    if !c.post_logout_redirect_uris.is_empty() {
        say!("post_logout:    {}", c.post_logout_redirect_uris.join(" "));
    }
    say!("require_consent: {}  reuse_consent: {}  enabled: {}", c.require_consent, c.reuse_consent, c.enabled);
    if !c.allowed_scopes.is_empty() {
        say!("scopes:         {}", c.allowed_scopes.join(" "));
    }
    if !c.default_scopes.is_empty() {
        println!("default_scopes: {}", c.default_scopes.join(" "));
    }
    if !c.full_scope_allowed {
        println!("role_scope:     {} (full scope off)", c.role_scope.join(" "));
    }
    if let Some(m) = c.pkce_method {
        println!("pkce_method:    {}", m.as_str());
    }
    if let Some(f) = c.access_token_format {
        say!(
            "access_tokens:  {} ({})",
            f.as_str(),
            c.access_token_signed_response_alg.unwrap_or(JwtAlg::Rs256).as_str()
        );
    }
    for (k, v) in [
        ("website_url", &c.website_url),
        ("terms_url", &c.terms_url),
        ("policy_url", &c.policy_url),
        ("description", &c.description),
        ("contact_email", &c.contact_email),
        ("logo", &c.logo),
        ("sector_identifier_uri", &c.sector_identifier_uri),
    ] {
        if let Some(v) = v {
            say!("{k:<15} {v}");
        }
    }
    say!("date_created:   {}", c.date_created);
}

async fn client_cmd(store: &dyn Repositories, realm: &str, c: ClientCommand) -> anyhow::Result<()> {
    let rng = OsRandom::new();
    let now = SystemClock.now();
    match c {
        ClientCommand::Create { client_id, secret_stdin, opts } => {
            roles::check_role_scope(store, realm, &opts.role_scope).await?;
            let mut spec = spec_from(&opts, None)?;
            // RFC 9700 §4.15: a client_id must not be mistaken for a user's sub.
            if let Some(id) = &client_id
                && store.user(RealmName::new(realm), UserId::new(id)).await?.is_some()
            {
                bail!(
                    "client_id '{id}' is a user's id (sub); choose another so tokens cannot be mistaken for the user's"
                );
            }
            spec.client_id = client_id;
            if secret_stdin {
                spec.client_secret = Some(ClientSecret::new(read_line_stdin("client secret")?));
            }
            let (client, secret) = manage::new_client(realm, spec, now, &rng).map_err(|e| anyhow!(e))?;
            require_key_for(store, realm, client.jwt_alg).await?;
            if let Some(alg) = client.access_token_signed_response_alg {
                require_key_for(store, realm, alg).await?;
            }
            store.create_client(&client).await.map_err(|e| match e {
                oidc_core::repo::RepoError::Conflict(_) => {
                    anyhow!("client_id '{}' is already registered", client.client_id)
                }
                e => e.into(),
            })?;
            print_client(&client);
            if let Some(s) = secret.filter(|_| !secret_stdin) {
                say!("client_secret:  {}", s.secret());
                say!("(The secret is shown only now. Store it safely.)");
            }
        }
        ClientCommand::List => {
            say!("{:<24} {:<13} name", "client_id", "type");
            for c in store.clients(RealmName::new(realm)).await? {
                say!("{:<24} {:<13} {}", c.client_id, c.client_type.as_str(), c.name);
            }
        }
        ClientCommand::Show { client_id } => {
            let c = store
                .client(RealmName::new(realm), ClientId::new(&client_id))
                .await?
                .ok_or_else(|| anyhow!("no client '{client_id}'"))?;
            print_client(&c);
        }
        ClientCommand::Update { client_id, rotate_secret, opts } => {
            let old = store
                .client(RealmName::new(realm), ClientId::new(&client_id))
                .await?
                .ok_or_else(|| anyhow!("no client '{client_id}'"))?;
            roles::check_role_scope(store, realm, &opts.role_scope).await?;
            let mut spec = spec_from(&opts, Some(&old))?;
            let becomes_confidential = spec.client_type == ClientType::Confidential && spec.client_secret.is_none();
            if rotate_secret || becomes_confidential {
                spec.client_secret = None;
            }
            if spec.client_type == ClientType::Public {
                spec.client_secret = None;
            }
            let show_secret = spec.client_type == ClientType::Confidential && spec.client_secret.is_none();
            let (mut client, secret) = manage::new_client(realm, spec, now, &rng).map_err(|e| anyhow!(e))?;
            client.date_created = old.date_created;
            require_key_for(store, realm, client.jwt_alg).await?;
            if let Some(alg) = client.access_token_signed_response_alg {
                require_key_for(store, realm, alg).await?;
            }
            store.update_client(&client).await?;
            print_client(&client);
            if let Some(s) = secret.filter(|_| show_secret) {
                say!("client_secret:  {}", s.secret());
                say!("(The new secret is shown only now. Store it safely.)");
            }
        }
        ClientCommand::RegistrationToken { client_id } => {
            if store.client(RealmName::new(realm), ClientId::new(&client_id)).await?.is_none() {
                bail!("no client '{client_id}'");
            }
            let value = oidc_core::rand::token(&rng, 32);
            let reg = oidc_core::registration::ClientRegistration {
                realm: realm.to_owned(),
                client_id: client_id.clone(),
                token_digest: oidc_core::secret::Digest::of(&value),
                metadata: String::new(),
                anonymous: false,
                created_at: now,
            };
            store.set_registration_token(&reg).await?;
            println!("registration_access_token: {value}");
            println!("(The token is shown only now; the previous one no longer works.)");
        }
        ClientCommand::Delete { client_id } => {
            store.delete_client(RealmName::new(realm), ClientId::new(&client_id)).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no client '{client_id}'"),
                e => e.into(),
            })?;
            say!("Deleted client '{client_id}'.");
        }
    }
    Ok(())
}

/// Reads one line from standard input (trailing newline removed).
fn read_line_stdin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).with_context(|| format!("cannot read the {what} from stdin"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        bail!("the {what} read from stdin is empty");
    }
    Ok(line)
}

/// The new password: from stdin, or prompted twice on the terminal without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    if from_stdin {
        return Ok(Password::new(read_line_stdin("password")?));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for the password; pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("New password: ").context("cannot read the password")?;
    let second = rpassword::prompt_password("Repeat password: ").context("cannot read the password")?;
    if first != second {
        bail!("the passwords do not match");
    }
    if first.is_empty() {
        bail!("the password is empty");
    }
    Ok(Password::new(first))
}

async fn user_cmd(store: &dyn Repositories, realm: &str, c: UserCommand) -> anyhow::Result<()> {
    let rng = OsRandom::new();
    match c {
        UserCommand::Create {
            username,
            password_stdin,
            no_password,
            email,
            email_verified,
            name,
            given_name,
            family_name,
            phone_number,
            attrs,
        } => {
            let claims = StandardClaims {
                name,
                given_name,
                family_name,
                email,
                email_verified,
                phone_number,
                ..StandardClaims::default()
            };
            let mut user =
                manage::new_user(realm, &username, claims, SystemClock.now(), &rng).map_err(|e| anyhow!(e))?;
            for a in &attrs {
                let (k, v) = parse_attr(a)?;
                user.attributes.insert(k, v);
            }
            if !no_password {
                user.password_hash = Some(oidc_core::password::hash(&read_password(password_stdin)?, &rng));
            }
            store.create_user(&user).await.map_err(|e| match e {
                oidc_core::repo::RepoError::Conflict(_) => anyhow!("user '{username}' already exists"),
                e => e.into(),
            })?;
            say!("Created user '{}' (sub {}).", user.username, user.id);
        }
        UserCommand::SetAttr { username, attrs, remove } => {
            let mut user = store
                .user_by_username(RealmName::new(realm), &username)
                .await?
                .ok_or_else(|| anyhow!("no user '{username}' in realm '{realm}'"))?;
            for a in &attrs {
                let (k, v) = parse_attr(a)?;
                user.attributes.insert(k, v);
            }
            for k in &remove {
                if user.attributes.remove(k).is_none() {
                    bail!("user '{username}' has no attribute '{k}'");
                }
            }
            user.updated_at = SystemClock.now();
            store.update_user(&user).await?;
            say!("Attributes of '{username}': {}", serde_json::Value::Object(user.attributes.into_iter().collect()));
        }
        UserCommand::SetPassword { username, password_stdin } => {
            let user = store
                .user_by_username(RealmName::new(realm), &username)
                .await?
                .ok_or_else(|| anyhow!("no user '{username}'"))?;
            let hash = oidc_core::password::hash(&read_password(password_stdin)?, &rng);
            store.set_password_hash(RealmName::new(realm), user.id(), &hash).await?;
            say!("Password of '{username}' changed.");
        }
        UserCommand::List => {
            say!("{:<24} {:<24} {:<7} email", "username", "sub", "active");
            for u in store.users(RealmName::new(realm)).await? {
                say!("{:<24} {:<24} {:<7} {}", u.username, u.id, u.active, u.claims.email.unwrap_or_default());
            }
        }
        UserCommand::Delete { username } => {
            let user = store
                .user_by_username(RealmName::new(realm), &username)
                .await?
                .ok_or_else(|| anyhow!("no user '{username}'"))?;
            store.delete_user(RealmName::new(realm), user.id()).await?;
            say!("Deleted user '{username}'.");
        }
        UserCommand::Logout { .. } => bail!("handled by user_logout"),
    }

    Ok(())
}

/// Set while the server runs: its messages are informational, and a closed
/// standard output (a supervisor that stopped reading) must not stop the server.
static SERVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The body of [`say!`].
pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()) {
        if SERVING.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to standard output: {e}");
        }
        std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe { 141 } else { 1 });
    }
}

/// `oidc user logout NAME`: ends the user's sessions like the account page's
/// "sign out everywhere", with the server's issuer (from `base_url`) in the
/// logout tokens, and waits until they are delivered or given up on.
async fn user_logout(
    store: Arc<dyn Repositories>,
    file: &FileConfig,
    realm: &str,
    username: &str,
) -> anyhow::Result<()> {
    let user = store
        .user_by_username(RealmName::new(realm), username)
        .await?
        .ok_or_else(|| anyhow!("no user '{username}'"))?;
    let listen = file.listen.clone().unwrap_or(DEFAULT_LISTEN.into());
    let base_url = file.base_url.clone().unwrap_or_else(|| format!("http://{listen}"));
    let config = oidc_http::AppConfig {
        base_url: base_url.trim_end_matches('/').to_owned(),
        settings: file.settings()?,
        demo_client_id: None,
        log_requests: false,
        scopes: file.scope_registry()?,
        // The same outbound rules as the server's.
        allow_http_fetch_loopback: file.outbound.allow_http_loopback,
        unauthenticated_session_key: None,
        allow_fetch_networks: file.fetch_networks()?,
        limits: oidc_http::ServerLimits::default(),
        trusted_proxies: Vec::new(),
        cache_refresh: oidc_http::DEFAULT_CACHE_REFRESH,
    };
    let templates = oidc_http::Templates::load(None).context("cannot load the templates")?;
    let app = oidc_http::App::new(store, config, templates, Arc::new(SystemClock), Arc::new(OsRandom::new()));
    let (sessions, delivered) = app.end_user_sessions(realm, &user.id).await.map_err(|e| anyhow!(e))?;
    say!("Ended {sessions} session(s) of '{username}'; {delivered} back-channel logout notification(s) delivered.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("sqlite://oidc.sqlite"), "sqlite://oidc.sqlite");
    }
}
