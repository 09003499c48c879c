//! The commands.

use std::io::{BufRead as _, IsTerminal as _};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::{Client, ClientType, GrantType, JwtAlg, KeyState, ResponseType, StandardClaims};
use oidc_core::rand::OsRandom;
use oidc_core::registration::{InitialAccessToken, Policies, PolicyKind};
use oidc_core::repo::Repositories;
use oidc_core::repo::RoleHolder;
use oidc_core::secret::{ClientSecret, Password};
use oidc_core::subject::SubjectType;
use oidc_core::time::Clock as _;
use oidc_store::Store;

use crate::cli::{
    Cli, ClientCommand, ClientOpts, Command, InitialTokenCommand, KeyCommand, PolicyCommand, RealmCommand, RoleCommand,
    RoleHolderArgs, ServeArgs, UserCommand,
};
use crate::config::{DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DEFAULT_REALM, FileConfig};
use crate::server::{self, ServerOptions, SystemClock};

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
            println!("Database is up to date.");
            Ok(())
        }
        Command::Serve(args) => serve(store, &file, &realm, args).await,
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
                    role_cmd(store.as_ref(), &realm, c).await
                }
                Command::Cleanup { batch } => {
                    let n = crate::cleanup::run_once(store.as_ref(), batch).await?;
                    println!(
                        "Deleted {} expired rows: {} codes, {} access tokens, {} refresh tokens, {} sessions, \
                         {} consents, {} assertion ids.",
                        n.total(),
                        n.codes,
                        n.access_tokens,
                        n.refresh_tokens,
                        n.sessions,
                        n.consents,
                        n.assertions
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
    if store.realm(realm).await?.is_none() {
        bail!("realm '{realm}' does not exist; run `oidc serve` once, or `oidc realm create {realm}`");
    }
    Ok(())
}

async fn serve(store: Store, file: &FileConfig, realm: &str, args: ServeArgs) -> anyhow::Result<()> {
    store.migrate().await.context("migration failed")?;
    let store: Arc<dyn Repositories> = Arc::new(store);
    let boot = server::bootstrap(store.as_ref(), realm).await?;
    if boot.realm_created {
        println!("Created realm '{realm}'.");
    }
    if let Some(kid) = &boot.key_created {
        println!("Created RS256 signing key {kid}.");
    }
    let demo = if args.demo { Some(()) } else { None };
    let listen = args.listen.clone().or(file.listen.clone()).unwrap_or(DEFAULT_LISTEN.into());
    let opts = ServerOptions {
        listen,
        base_url: args.base_url.clone().or(file.base_url.clone()),
        settings: file.settings()?,
        templates_dir: args.templates_dir.clone().or(file.templates_dir.clone()),
        demo_client_id: demo.map(|()| DEMO_CLIENT.to_owned()),
        log_requests: !args.quiet && file.log_requests.unwrap_or(true),
        scopes: file.scope_registry()?,
        hooks: file.hooks()?,
        allow_http_fetch_loopback: false,
        cleanup: file.cleanup()?,
    };
    let mut handle = server::spawn(opts, store.clone()).await?;
    let issuer = format!("{}/realms/{realm}", handle.base_url);
    println!("Listening on http://{}", handle.addr);
    println!("Issuer:    {issuer}");
    println!("Discovery: {issuer}/.well-known/openid-configuration");
    if args.demo {
        let password = seed_demo(store.as_ref(), realm, &handle.base_url).await?;
        println!();
        println!("Demo: open {issuer}/demo in a browser and sign in as user 'demo' with password '{password}'.");
        println!("      The page runs the code flow with PKCE and shows the decoded id_token and userinfo.");
    } else if boot.realm_created {
        println!();
        println!("Next: register a client with `oidc client create --name App --redirect-uri https://app.example/cb`");
        println!("      and a user with `oidc user create alice --email alice@example.com`,");
        println!("      or restart with `--demo` to try a login in the browser.");
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
    match store.user_by_username(realm, "demo").await? {
        Some(u) => store.set_password_hash(realm, &u.id, &hash).await?,
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
    if store.client(realm, DEMO_CLIENT).await?.is_some() {
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
            if store.realm(&name).await?.is_some() {
                bail!("realm '{name}' already exists");
            }
            let b = server::bootstrap(store, &name).await?;
            println!("Created realm '{name}' with signing key {}.", b.key_created.unwrap_or_default());
        }
        RealmCommand::List => {
            for name in store.realm_names().await? {
                println!("{name}");
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
            println!("Created {} key {} in realm '{realm}'; {TAKES_EFFECT}.", key.alg, key.kid);
        }
        KeyCommand::List => {
            println!("{:<18} {:<6} {:<8} {:<12} published_until", "kid", "alg", "state", "created_at");
            for k in store.keys(realm).await? {
                let until = k.published_until.map_or_else(String::new, |t| t.to_string());
                println!("{:<18} {:<6} {:<8} {:<12} {until}", k.kid, k.alg, k.state.as_str(), k.created_at.to_string());
            }
        }
        KeyCommand::Rotate { alg, keep_published } => {
            let alg = parse_alg(&alg)?;
            if keep_published < 0 {
                bail!("--keep-published must not be negative");
            }
            let old: Vec<_> = store
                .keys(realm)
                .await?
                .into_iter()
                .filter(|k| k.state == KeyState::Active && k.alg == alg.as_str())
                .collect();
            let key = crate::keys::generate(realm, alg, now, &OsRandom::new())?;
            store.add_key(&key).await?;
            let until = now.plus(keep_published);
            for k in &old {
                store.set_key_state(realm, &k.kid, KeyState::Retired, Some(until)).await?;
            }
            println!(
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
            let key = store.keys(realm).await?.into_iter().find(|k| k.kid == kid);
            match key {
                None => bail!("no key '{kid}' in realm '{realm}'"),
                Some(k) if k.state == KeyState::Revoked => bail!("key '{kid}' is revoked; it cannot be retired"),
                Some(_) => {}
            }
            let until = now.plus(keep_published);
            store.set_key_state(realm, &kid, KeyState::Retired, Some(until)).await?;
            println!("Retired key {kid}: it no longer signs and stays published until {until}; {TAKES_EFFECT}.");
        }
        KeyCommand::Revoke { kid } => {
            store.set_key_state(realm, &kid, KeyState::Revoked, None).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no key '{kid}' in realm '{realm}'"),
                other => other.into(),
            })?;
            println!("Revoked key {kid}: it is no longer published; tokens it signed no longer verify.");
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
            println!("id:      {}", t.id);
            println!("token:   {value}");
            println!("(The token is shown only now. Send it as 'Authorization: Bearer <token>' to");
            println!(" POST /realms/{realm}/clients-registrations/openid-connect; it registers {count} client(s).)");
        }
        InitialTokenCommand::List => {
            println!("{:<14} {:<10} {:<12} expires_at", "id", "remaining", "created_at");
            for t in store.initial_tokens(realm).await? {
                let expires = t.expires_at.map_or_else(
                    || "never".to_owned(),
                    |e| {
                        if e <= now { format!("{e} (expired)") } else { e.to_string() }
                    },
                );
                println!("{:<14} {:<10} {:<12} {expires}", t.id, t.max_uses - t.used, t.created_at.to_string());
            }
        }
        InitialTokenCommand::Delete { id } => {
            store.delete_initial_token(realm, &id).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no initial access token '{id}'"),
                other => other.into(),
            })?;
            println!("Deleted initial access token {id}.");
        }
    }
    Ok(())
}

async fn role_holder(store: &dyn Repositories, realm: &str, h: RoleHolderArgs) -> anyhow::Result<(RoleHolder, String)> {
    if let Some(username) = h.user {
        let u = store.user_by_username(realm, &username).await?.ok_or_else(|| anyhow!("no user '{username}'"))?;
        return Ok((RoleHolder::User(u.id), format!("user '{username}'")));
    }
    let id = h.client.ok_or_else(|| anyhow!("name a --user or a --client"))?;
    let c = store.client(realm, &id).await?.ok_or_else(|| anyhow!("no client '{id}'"))?;
    if c.client_type != ClientType::Confidential {
        bail!("client '{id}' is public: only confidential clients have a service account");
    }
    Ok((RoleHolder::Client(id.clone()), format!("client '{id}'")))
}

async fn role_cmd(store: &dyn Repositories, realm: &str, c: RoleCommand) -> anyhow::Result<()> {
    let check_role = |r: &str| {
        if r.is_empty()
            || r.len() > 100
            || !r.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        {
            bail!("role '{r}' must be letters, digits, '-', '_', ':' or '.'");
        }
        Ok(())
    };
    match c {
        RoleCommand::Grant { role, holder } => {
            check_role(&role)?;
            let (h, who) = role_holder(store, realm, holder).await?;
            store.grant_role(realm, &h, &role).await?;
            println!("Granted '{role}' to {who}.");
        }
        RoleCommand::Revoke { role, holder } => {
            let (h, who) = role_holder(store, realm, holder).await?;
            store.revoke_role(realm, &h, &role).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("{who} does not have the role '{role}'"),
                other => other.into(),
            })?;
            println!("Revoked '{role}' from {who}.");
        }
        RoleCommand::List => {
            for (h, role) in store.role_assignments(realm).await? {
                let who = match h {
                    RoleHolder::User(id) => match store.user(realm, &id).await? {
                        Some(u) => format!("user {}", u.username),
                        None => format!("user id {id}"),
                    },
                    RoleHolder::Client(id) => format!("client {id}"),
                };
                println!("{role:<20} {who}");
            }
        }
    }
    Ok(())
}

async fn load_policies(store: &dyn Repositories, realm: &str, kind: PolicyKind) -> anyhow::Result<Policies> {
    Ok(match store.policies(realm, kind).await? {
        None => kind.defaults(),
        Some(text) => Policies::from_json(&serde_json::from_str(&text)?, kind.defaults()).map_err(|e| anyhow!(e))?,
    })
}

async fn policy_cmd(store: &dyn Repositories, realm: &str, c: PolicyCommand) -> anyhow::Result<()> {
    match c {
        PolicyCommand::Show => {
            for kind in [PolicyKind::Anonymous, PolicyKind::Authenticated] {
                println!("{}: {}", kind.as_str(), load_policies(store, realm, kind).await?.to_json());
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
            store.set_policies(realm, kind, &p.to_json().to_string()).await?;
            println!("{}: {}", kind.as_str(), p.to_json());
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
    let keys = store.keys(realm).await?;
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
    let pick = |new: &Vec<String>, old: Option<&Vec<String>>| {
        if new.is_empty() { old.cloned().unwrap_or_default() } else { new.clone() }
    };
    let opt = |new: &Option<String>, old: Option<&Option<String>>| new.clone().or_else(|| old.cloned().flatten());
    Ok(ClientSpec {
        client_id: base.map(|c| c.client_id.clone()),
        client_secret: base.and_then(|c| c.client_secret.clone()),
        name: opts.name.clone().or(base.map(|c| c.name.clone())).ok_or_else(|| anyhow!("--name is required"))?,
        client_type,
        response_types,
        grant_types,
        jwt_alg,
        redirect_uris: pick(&opts.redirect_uris, base.map(|c| &c.redirect_uris)),
        post_logout_redirect_uris: pick(&opts.post_logout_redirect_uris, base.map(|c| &c.post_logout_redirect_uris)),
        require_consent: opts.require_consent.or(base.map(|c| c.require_consent)).unwrap_or(true),
        reuse_consent: opts.reuse_consent.or(base.map(|c| c.reuse_consent)).unwrap_or(true),
        website_url: opt(&opts.website_url, base.map(|c| &c.website_url)),
        terms_url: opt(&opts.terms_url, base.map(|c| &c.terms_url)),
        contact_email: opt(&opts.contact_email, base.map(|c| &c.contact_email)),
        logo: opt(&opts.logo, base.map(|c| &c.logo)),
        allowed_scopes: pick(&opts.scopes, base.map(|c| &c.allowed_scopes)),
        enabled: opts.enabled.or(base.map(|c| c.enabled)).unwrap_or(true),
        subject_type: match &opts.subject_type {
            Some(t) => t.parse().map_err(|e: String| anyhow!(e))?,
            None => base.map_or(SubjectType::Public, |c| c.subject_type),
        },
        sector_identifier_uri: opt(&opts.sector_identifier_uri, base.map(|c| &c.sector_identifier_uri)),
        jwks: base.and_then(|c| c.jwks.clone()),
        default_max_age: base.and_then(|c| c.default_max_age),
        userinfo_signed_response_alg: base.and_then(|c| c.userinfo_signed_response_alg),
        jwks_uri: base.and_then(|c| c.jwks_uri.clone()),
        token_endpoint_auth_method: base.and_then(|c| c.token_endpoint_auth_method),
        access_token_format: match &opts.access_token_format {
            Some(f) => Some(f.parse().map_err(|e: String| anyhow!(e))?),
            None => base.and_then(|c| c.access_token_format),
        },
        access_token_signed_response_alg: match &opts.access_token_alg {
            Some(a) => Some(a.parse().map_err(|e: String| anyhow!(e))?),
            None => base.and_then(|c| c.access_token_signed_response_alg),
        },
    })
}

fn print_client(c: &Client) {
    println!("client_id:      {}", c.client_id);
    println!("name:           {}", c.name);
    println!("type:           {}", c.client_type.as_str());
    println!("response_types: {}", c.response_types.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "));
    println!("grant_types:    {}", c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "));
    println!("jwt_alg:        {}", c.jwt_alg.as_str());
    println!("subject_type:   {}", c.subject_type);
    println!("redirect_uris:  {}", c.redirect_uris.join(" "));
    if !c.post_logout_redirect_uris.is_empty() {
        println!("post_logout:    {}", c.post_logout_redirect_uris.join(" "));
    }
    println!("require_consent: {}  reuse_consent: {}  enabled: {}", c.require_consent, c.reuse_consent, c.enabled);
    if !c.allowed_scopes.is_empty() {
        println!("scopes:         {}", c.allowed_scopes.join(" "));
    }
    for (k, v) in [
        ("website_url", &c.website_url),
        ("terms_url", &c.terms_url),
        ("contact_email", &c.contact_email),
        ("logo", &c.logo),
        ("sector_identifier_uri", &c.sector_identifier_uri),
    ] {
        if let Some(v) = v {
            println!("{k:<15} {v}");
        }
    }
    println!("date_created:   {}", c.date_created);
}

async fn client_cmd(store: &dyn Repositories, realm: &str, c: ClientCommand) -> anyhow::Result<()> {
    let rng = OsRandom::new();
    let now = SystemClock.now();
    match c {
        ClientCommand::Create { client_id, secret_stdin, opts } => {
            let mut spec = spec_from(&opts, None)?;
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
                println!("client_secret:  {}", s.secret());
                println!("(The secret is shown only now. Store it safely.)");
            }
        }
        ClientCommand::List => {
            println!("{:<24} {:<13} name", "client_id", "type");
            for c in store.clients(realm).await? {
                println!("{:<24} {:<13} {}", c.client_id, c.client_type.as_str(), c.name);
            }
        }
        ClientCommand::Show { client_id } => {
            let c = store.client(realm, &client_id).await?.ok_or_else(|| anyhow!("no client '{client_id}'"))?;
            print_client(&c);
        }
        ClientCommand::Update { client_id, rotate_secret, opts } => {
            let old = store.client(realm, &client_id).await?.ok_or_else(|| anyhow!("no client '{client_id}'"))?;
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
                println!("client_secret:  {}", s.secret());
                println!("(The new secret is shown only now. Store it safely.)");
            }
        }
        ClientCommand::Delete { client_id } => {
            store.delete_client(realm, &client_id).await.map_err(|e| match e {
                oidc_core::repo::RepoError::NotFound(_) => anyhow!("no client '{client_id}'"),
                e => e.into(),
            })?;
            println!("Deleted client '{client_id}'.");
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
            println!("Created user '{}' (sub {}).", user.username, user.id);
        }
        UserCommand::SetAttr { username, attrs, remove } => {
            let mut user = store
                .user_by_username(realm, &username)
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
            println!(
                "Attributes of '{username}': {}",
                serde_json::Value::Object(user.attributes.into_iter().collect())
            );
        }
        UserCommand::SetPassword { username, password_stdin } => {
            let user =
                store.user_by_username(realm, &username).await?.ok_or_else(|| anyhow!("no user '{username}'"))?;
            let hash = oidc_core::password::hash(&read_password(password_stdin)?, &rng);
            store.set_password_hash(realm, &user.id, &hash).await?;
            println!("Password of '{username}' changed.");
        }
        UserCommand::List => {
            println!("{:<24} {:<24} {:<7} email", "username", "sub", "active");
            for u in store.users(realm).await? {
                println!("{:<24} {:<24} {:<7} {}", u.username, u.id, u.active, u.claims.email.unwrap_or_default());
            }
        }
        UserCommand::Delete { username } => {
            let user =
                store.user_by_username(realm, &username).await?.ok_or_else(|| anyhow!("no user '{username}'"))?;
            store.delete_user(realm, &user.id).await?;
            println!("Deleted user '{username}'.");
        }
    }

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
