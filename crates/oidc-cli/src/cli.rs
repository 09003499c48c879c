//! Command-line interface (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// An OpenID Connect provider: run the server, and manage realms, keys, clients and users.
#[derive(Debug, Parser)]
#[command(name = "oidc", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Flags and environment variables override it.
    #[arg(long, short = 'c', global = true, env = "OIDC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://path.sqlite` (default `sqlite://oidc.sqlite`) or `postgres://...`.
    #[arg(long, global = true, env = "OIDC_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The realm to act on (default `main`).
    #[arg(long, global = true, env = "OIDC_REALM")]
    pub realm: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
// Parsed once per run: the size of the client options does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server. On first start it migrates the database and creates the realm and a signing key.
    Serve(ServeArgs),
    /// Apply database migrations.
    Migrate,
    /// Delete expired codes, tokens, sessions, consents and replay records now (the server also does it periodically).
    Cleanup {
        /// Rows of one table deleted per statement.
        #[arg(long, default_value_t = crate::cleanup::DEFAULT_BATCH)]
        batch: u64,
    },
    /// Manage realms.
    #[command(subcommand)]
    Realm(RealmCommand),
    /// Manage the realm's signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage clients (relying parties).
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage initial access tokens for dynamic client registration.
    #[command(subcommand, name = "initial-access-token")]
    InitialAccessToken(InitialTokenCommand),
    /// View and change the client registration policies.
    #[command(subcommand, name = "registration-policy")]
    RegistrationPolicy(PolicyCommand),
    /// Manage realm roles: define them, grant them to users and service accounts (besides the
    /// built-in create-client, manage-clients, view-clients); tokens carry them as realm_access.
    #[command(subcommand)]
    Role(RoleCommand),
}

/// Who a role command is about.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RoleHolderArgs {
    /// A user, by username.
    #[arg(long)]
    pub user: Option<String>,
    /// A confidential client's service account (its client_credentials tokens), by client_id.
    #[arg(long)]
    pub client: Option<String>,
}

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Define a realm role.
    Create {
        /// The role's name: letters, digits, '-', '_', ':' or '.'.
        role: String,
        /// What holding it means, for operators.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a realm role, every grant of it and its place in clients' role scopes.
    Delete {
        /// The role.
        role: String,
    },
    /// Give a role (a defined one, or create-client, manage-clients, view-clients).
    Grant {
        /// The role.
        role: String,
        /// Who gets it.
        #[command(flatten)]
        holder: RoleHolderArgs,
    },
    /// Take a role away.
    Revoke {
        /// The role.
        role: String,
        /// Who loses it.
        #[command(flatten)]
        holder: RoleHolderArgs,
    },
    /// List the realm's roles with their descriptions and holders.
    List,
}

/// Initial access token commands.
#[derive(Debug, Subcommand)]
pub enum InitialTokenCommand {
    /// Create a token; its value is printed once and stored only as a digest.
    Create {
        /// Seconds until it expires (0: never).
        #[arg(long, default_value_t = 86_400)]
        expires_in: i64,
        /// How many clients it may register.
        #[arg(long, default_value_t = 1)]
        count: i64,
    },
    /// List tokens with their remaining uses and expiry (never their value).
    List,
    /// Delete a token by id.
    Delete {
        /// The token's id (from `list`).
        id: String,
    },
}

/// Registration policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the anonymous and authenticated policies.
    Show,
    /// Change one policy set; options not given keep their values.
    Set {
        /// `anonymous` (requests without a token) or `authenticated`.
        kind: String,
        /// A trusted host, address or `*.domain` (repeat); requesters and every URI must match.
        #[arg(long = "trusted-host")]
        trusted_hosts: Vec<String>,
        /// Turn the trusted-hosts policy off (anyone, any URI).
        #[arg(long, conflicts_with = "trusted_hosts")]
        no_trusted_hosts: bool,
        /// Refuse when the realm has this many clients (0: no limit).
        #[arg(long)]
        max_clients: Option<u64>,
        /// Registered clients always ask for consent.
        #[arg(long)]
        consent_required: Option<bool>,
        /// New clients are disabled until an operator enables them.
        #[arg(long)]
        client_disabled: Option<bool>,
        /// A scope registered clients may request (repeat); replaces the list.
        #[arg(long = "allowed-scope")]
        allowed_scopes: Vec<String>,
        /// Allow every scope (full scope).
        #[arg(long, conflicts_with = "allowed_scopes")]
        full_scope: bool,
        /// Rotate registration access tokens on every use.
        #[arg(long)]
        rotate_registration_token: Option<bool>,
        /// Trusted Hosts: the requester's address must be a trusted host (Keycloak's
        /// "Host Sending Client Registration Request Must Match"; default true).
        #[arg(long)]
        requester_must_match: Option<bool>,
        /// Trusted Hosts: the client's URIs must be on trusted hosts (Keycloak's
        /// "Client URIs Must Match"; default true).
        #[arg(long)]
        client_uris_must_match: Option<bool>,
        /// Full Scope policy: new clients get fullScopeAllowed=false, and updates cannot turn it on.
        #[arg(long)]
        full_scope_disabled: Option<bool>,
    },
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "OIDC_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL (default `http://{listen}`); issuers are `{base_url}/realms/{realm}`.
    #[arg(long, env = "OIDC_BASE_URL")]
    pub base_url: Option<String>,
    /// Directory whose templates override the built-in ones, by file name.
    #[arg(long, env = "OIDC_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,
    /// Seed a demo user and a demo client, and print a URL that walks through login and consent.
    #[arg(long)]
    pub demo: bool,
    /// Do not write an access-log line per request.
    #[arg(long, env = "OIDC_QUIET")]
    pub quiet: bool,
    /// Server threads, each pinned to a CPU with its own connections (thread
    /// per core); 1 runs one multi-threaded runtime. Overrides `[server]
    /// threads`; default one per CPU the process may use, at most 8.
    #[arg(long, env = "OIDC_THREADS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

/// Realm commands.
#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Create a realm with a new signing key.
    Create {
        /// The realm's name (letters, digits, `-`, `_`).
        name: String,
    },
    /// List realms.
    List,
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new signing key; it becomes the active key of its algorithm
    /// (the seed's creatersakey). Previous keys stay as they are.
    Create {
        /// RS256 (default, RSA-2048), PS256 (RSA-2048), ES256 (P-256) or EdDSA (Ed25519).
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List keys with their algorithm, state and publication date.
    List,
    /// Create a new active key of an algorithm and retire the previous active
    /// ones: they stop signing but stay published until tokens they signed expire.
    Rotate {
        /// The algorithm to rotate.
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// How long the retired keys stay published, in seconds (default: one day).
        #[arg(long, default_value_t = 86_400)]
        keep_published: i64,
    },
    /// Retire a key: it stops signing and stays published for a while.
    Retire {
        /// The key id.
        kid: String,
        /// How long it stays published, in seconds (default: one day).
        #[arg(long, default_value_t = 86_400)]
        keep_published: i64,
    },
    /// Revoke a key: it neither signs nor is published; tokens it signed stop verifying.
    Revoke {
        /// The key id.
        kid: String,
    },
}

/// Client properties shared by create and update.
#[derive(Debug, Args, Default)]
pub struct ClientOpts {
    /// Human-readable name.
    #[arg(long)]
    pub name: Option<String>,
    /// `confidential` (default) or `public`.
    #[arg(long = "type")]
    pub client_type: Option<String>,
    /// A redirect URI; repeat for several. On update, replaces the list.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI; repeat for several. On update, replaces the list.
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// An allowed response type (default `code`); repeat for several: `code`,
    /// `id_token`, `id_token token`, `code id_token`, `code token`, `code id_token token`.
    #[arg(long = "response-type")]
    pub response_types: Vec<String>,
    /// An allowed grant type at the token endpoint (default `authorization_code`
    /// and `refresh_token` when a code response type is allowed); repeat for
    /// several: `authorization_code`, `refresh_token`, `password`, `client_credentials`.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// Subject identifiers: `public` (default) or `pairwise` (OIDC Core §8).
    #[arg(long)]
    pub subject_type: Option<String>,
    /// For pairwise subjects: an https URL whose host is the sector identifier
    /// (needed when the redirect URIs are on several hosts).
    #[arg(long)]
    pub sector_identifier_uri: Option<String>,
    /// id_token signing algorithm: `RS256` (default) or `HS256`.
    #[arg(long)]
    pub jwt_alg: Option<String>,
    /// Ask the user for consent (`true`/`false`, default true).
    #[arg(long)]
    pub require_consent: Option<bool>,
    /// Remember consent until it expires (`true`/`false`, default true).
    #[arg(long)]
    pub reuse_consent: Option<bool>,
    /// An allowed scope; repeat for several (default: all).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Website URL.
    #[arg(long)]
    pub website_url: Option<String>,
    /// Terms of service URL.
    #[arg(long)]
    pub terms_url: Option<String>,
    /// Privacy policy URL.
    #[arg(long)]
    pub policy_url: Option<String>,
    /// Contact e-mail.
    #[arg(long)]
    pub contact_email: Option<String>,
    /// Logo URL.
    #[arg(long)]
    pub logo: Option<String>,
    /// Enable or disable the client.
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Access token format: `opaque` or `jwt` (RFC 9068); default: the realm's `[tokens] access_token_format`.
    #[arg(long)]
    pub access_token_format: Option<String>,
    /// Signing algorithm of JWT access tokens: `RS256` (default), `PS256`, `ES256` or `EdDSA`.
    #[arg(long)]
    pub access_token_alg: Option<String>,
    /// A default scope: granted whenever the client asks for `openid` (Keycloak's
    /// default client scopes); repeat for several. On update, replaces the list.
    #[arg(long = "default-scope")]
    pub default_scopes: Vec<String>,
    /// Remove every default scope.
    #[arg(long, conflicts_with = "default_scopes")]
    pub no_default_scopes: bool,
    /// Whether the client's tokens carry every realm role of their holder
    /// (`true`/`false`, default true); when false, only the roles of `--role-scope`.
    #[arg(long)]
    pub full_scope_allowed: Option<bool>,
    /// A realm role the client's tokens may carry when full scope is off; repeat for several.
    #[arg(long = "role-scope")]
    pub role_scope: Vec<String>,
    /// A PKCE method every authorization request must use: `S256` or `plain` (RFC 7636 §4.3).
    #[arg(long)]
    pub pkce_method: Option<String>,
    /// A description for operators.
    #[arg(long)]
    pub description: Option<String>,
    /// Front-Channel Logout 1.0: a URL of the client that the logged-out page
    /// loads in an iframe (same scheme, host and port as a redirect URI); `""` removes it.
    #[arg(long)]
    pub frontchannel_logout_uri: Option<String>,
    /// Whether that URL needs `iss` and `sid` (`true`/`false`, default false).
    #[arg(long)]
    pub frontchannel_logout_session_required: Option<bool>,
    /// Back-Channel Logout 1.0: a URL of the client that receives a signed
    /// logout token by POST when a session it is in ends; `""` removes it.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the logout token must carry `sid` (`true`/`false`, default false).
    #[arg(long)]
    pub backchannel_logout_session_required: Option<bool>,
}

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. client_id and secret are generated unless given; the secret is printed once.
    Create {
        /// Use this client_id instead of a generated one.
        #[arg(long)]
        client_id: Option<String>,
        /// Read the client secret from standard input instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
        #[command(flatten)]
        opts: Box<ClientOpts>,
    },
    /// List clients.
    List,
    /// Show one client (without its secret).
    Show {
        /// The client_id.
        client_id: String,
    },
    /// Change a client's properties.
    Update {
        /// The client_id.
        client_id: String,
        /// Generate a new secret and print it once.
        #[arg(long)]
        rotate_secret: bool,
        #[command(flatten)]
        opts: Box<ClientOpts>,
    },
    /// Delete a client with its tokens and consents.
    Delete {
        /// The client_id.
        client_id: String,
    },
    /// Issue a new registration access token for the client (Keycloak's "Generate
    /// registration access token"), printed once; the previous one stops working.
    RegistrationToken {
        /// The client_id.
        client_id: String,
    },
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for (or read from stdin with --password-stdin).
    Create {
        /// Login name.
        username: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
        /// Create the user without a password (cannot log in until one is set).
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Mark the e-mail address verified.
        #[arg(long)]
        email_verified: bool,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// Given name.
        #[arg(long)]
        given_name: Option<String>,
        /// Family name.
        #[arg(long)]
        family_name: Option<String>,
        /// Phone number.
        #[arg(long)]
        phone_number: Option<String>,
        /// A custom attribute `KEY=VALUE` (VALUE is JSON when it parses as JSON,
        /// else a string), released by custom scopes that list KEY; repeat for several.
        #[arg(long = "attr")]
        attrs: Vec<String>,
    },
    /// Set or remove custom attributes of a user.
    SetAttr {
        /// Login name.
        username: String,
        /// `KEY=VALUE` to set (VALUE as JSON when it parses, else a string); repeat for several.
        #[arg(required_unless_present = "remove")]
        attrs: Vec<String>,
        /// A key to remove; repeat for several.
        #[arg(long)]
        remove: Vec<String>,
    },
    /// Set a user's password (prompted, or from stdin with --password-stdin).
    SetPassword {
        /// Login name.
        username: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Delete a user with their sessions, tokens and consents.
    Delete {
        /// Login name.
        username: String,
    },
    /// End every login session of a user (their session-bound tokens stop
    /// working) and notify the applications by back-channel logout.
    Logout {
        /// Login name.
        username: String,
    },
}
