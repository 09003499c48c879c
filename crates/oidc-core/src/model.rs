//! Domain types: realms, clients, users, keys, and the grants the flows create.
//!
//! Everything is scoped to a realm: an independent issuer with its own keys,
//! clients, users, consents and tokens.

use std::fmt;
use std::str::FromStr;

use crate::pkce::PkceMethod;
use crate::scope::Scope;
use crate::secret::{ClientSecret, Digest};
use crate::time::UnixTime;

/// A realm: one issuer at `{base_url}/realms/{name}`.
#[derive(Clone)]
pub struct Realm {
    /// The realm's name, used in its URLs.
    pub name: String,
    /// A random key of the realm for CSRF tokens and other MACs.
    pub secret_key: Vec<u8>,
    /// When the realm was created.
    pub created_at: UnixTime,
}

impl fmt::Debug for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Realm")
            .field("name", &self.name)
            .field("secret_key", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The client types of RFC 6749 §2.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    /// Able to keep its credentials confidential.
    Confidential,
    /// Unable to keep credentials (native or browser apps); authenticates with no secret.
    Public,
}

impl ClientType {
    /// `confidential` or `public`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        }
    }
}

impl FromStr for ClientType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "confidential" => Ok(ClientType::Confidential),
            "public" => Ok(ClientType::Public),
            _ => Err(format!("unknown client type '{s}' (expected confidential or public)")),
        }
    }
}

/// The algorithm a client's id_tokens are signed with (the seed's `jwt_alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, with a realm RSA key (RFC 7518 §3.3).
    Rs256,
    /// RSASSA-PSS with SHA-256, with a realm RSA key (RFC 7518 §3.5).
    Ps256,
    /// ECDSA on P-256 with SHA-256, with a realm EC key (RFC 7518 §3.4).
    Es256,
    /// EdDSA with Ed25519, with a realm OKP key (RFC 8037 §3.1).
    EdDsa,
    /// HMAC with SHA-256 keyed by the client secret (RFC 7518 §3.2, OIDC Core §10.1).
    Hs256,
    /// No signature (RFC 7518 §3.6): only for id_tokens from the token endpoint
    /// of the code flow (OIDC Core §3.1.3.7: they come over TLS from the OP).
    None,
}

impl JwtAlg {
    /// Every algorithm.
    pub const ALL: [JwtAlg; 6] =
        [JwtAlg::Rs256, JwtAlg::Ps256, JwtAlg::Es256, JwtAlg::EdDsa, JwtAlg::Hs256, JwtAlg::None];

    /// The JWA name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlg::Rs256 => "RS256",
            JwtAlg::Ps256 => "PS256",
            JwtAlg::Es256 => "ES256",
            JwtAlg::EdDsa => "EdDSA",
            JwtAlg::Hs256 => "HS256",
            JwtAlg::None => "none",
        }
    }

    /// Whether tokens are signed with a realm key (every algorithm but HS256).
    pub fn uses_realm_key(self) -> bool {
        !matches!(self, JwtAlg::Hs256 | JwtAlg::None)
    }
}

impl FromStr for JwtAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JwtAlg::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            format!(
                "unsupported signing algorithm '{s}' (expected one of {})",
                JwtAlg::ALL.map(JwtAlg::as_str).join(", ")
            )
        })
    }
}

/// A `response_type` value (OAuth 2.0 Multiple Response Type Encoding Practices §5,
/// OpenID Connect Core 1.0 §3). The order of the space-separated words does not matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseType {
    /// `code`: authorization code flow.
    Code,
    /// `id_token`: implicit flow without an access token.
    IdToken,
    /// `id_token token`: implicit flow.
    IdTokenToken,
    /// `code id_token`: hybrid flow.
    CodeIdToken,
    /// `code token`: hybrid flow.
    CodeToken,
    /// `code id_token token`: hybrid flow.
    CodeIdTokenToken,
}

impl ResponseType {
    /// Every response type, in canonical spelling order.
    pub const ALL: [ResponseType; 6] = [
        ResponseType::Code,
        ResponseType::IdToken,
        ResponseType::IdTokenToken,
        ResponseType::CodeIdToken,
        ResponseType::CodeToken,
        ResponseType::CodeIdTokenToken,
    ];

    /// Whether an authorization code is returned (code and hybrid flows).
    pub fn has_code(self) -> bool {
        matches!(
            self,
            ResponseType::Code | ResponseType::CodeIdToken | ResponseType::CodeToken | ResponseType::CodeIdTokenToken
        )
    }

    /// Whether an id_token is returned from the authorization endpoint.
    pub fn has_id_token(self) -> bool {
        matches!(
            self,
            ResponseType::IdToken
                | ResponseType::IdTokenToken
                | ResponseType::CodeIdToken
                | ResponseType::CodeIdTokenToken
        )
    }

    /// Whether an access token is returned from the authorization endpoint.
    pub fn has_token(self) -> bool {
        matches!(self, ResponseType::IdTokenToken | ResponseType::CodeToken | ResponseType::CodeIdTokenToken)
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
            ResponseType::IdToken => "id_token",
            ResponseType::IdTokenToken => "id_token token",
            ResponseType::CodeIdToken => "code id_token",
            ResponseType::CodeToken => "code token",
            ResponseType::CodeIdTokenToken => "code id_token token",
        }
    }
}

impl FromStr for ResponseType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut words = crate::params::words("response_type", s)?;
        if words.len() > 3 {
            return Err("response_type has more than three values".into());
        }
        words.sort_unstable();
        let before = words.len();
        words.dedup();
        if words.len() != before {
            return Err(format!("response_type '{s}' repeats a value"));
        }
        match words.as_slice() {
            ["code"] => Ok(ResponseType::Code),
            ["id_token"] => Ok(ResponseType::IdToken),
            ["id_token", "token"] => Ok(ResponseType::IdTokenToken),
            ["code", "id_token"] => Ok(ResponseType::CodeIdToken),
            ["code", "token"] => Ok(ResponseType::CodeToken),
            ["code", "id_token", "token"] => Ok(ResponseType::CodeIdTokenToken),
            _ => Err(format!("unsupported response_type '{}'", crate::error::shorten(s))),
        }
    }
}

/// A grant type the token endpoint accepts from a client (RFC 6749 §4, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `password`: resource owner password credentials (RFC 6749 §4.3); also
    /// needs the realm's `password_grant_enabled` setting.
    Password,
    /// `client_credentials` (RFC 6749 §4.4), confidential clients only.
    ClientCredentials,
}

impl GrantType {
    /// Every grant type.
    pub const ALL: [GrantType; 4] =
        [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::Password, GrantType::ClientCredentials];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| {
            format!("unknown grant type '{s}' (expected one of: {})", GrantType::ALL.map(GrantType::as_str).join(", "))
        })
    }
}

/// The format of the access tokens a client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// 256 random bits, meaningful only to this provider (introspection, UserInfo).
    #[default]
    Opaque,
    /// A signed JWT (RFC 9068) a resource server can verify with the realm's keys.
    Jwt,
}

impl AccessTokenFormat {
    /// `opaque` or `jwt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Jwt => "jwt",
        }
    }
}

impl FromStr for AccessTokenFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "opaque" => Ok(AccessTokenFormat::Opaque),
            "jwt" => Ok(AccessTokenFormat::Jwt),
            _ => Err(format!("unknown access token format '{s}' (expected opaque or jwt)")),
        }
    }
}

/// How the client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// A public client: no secret.
    None,
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client secret (RFC 7523, OIDC Core §9).
    ClientSecretJwt,
    /// A JWT signed with one of the client's own keys (its `jwks`).
    PrivateKeyJwt,
}

impl TokenAuthMethod {
    /// Every method the token endpoint accepts (`token::authenticate`, `token::authenticate_assertion`).
    pub const ALL: [TokenAuthMethod; 5] = [
        TokenAuthMethod::ClientSecretBasic,
        TokenAuthMethod::ClientSecretPost,
        TokenAuthMethod::ClientSecretJwt,
        TokenAuthMethod::PrivateKeyJwt,
        TokenAuthMethod::None,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::None => "none",
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
            TokenAuthMethod::ClientSecretJwt => "client_secret_jwt",
            TokenAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl FromStr for TokenAuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TokenAuthMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown token_endpoint_auth_method '{s}'"))
    }
}

/// Everything about a client that an operator or a registrant configures:
/// the one settings structure shared by the CLI, both registration
/// representations and the store (a new client property is a field here, a
/// column, and its spelling in each representation).
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Human-readable name shown on the consent page.
    pub name: String,
    /// Confidential or public (RFC 6749 §2.1).
    pub client_type: ClientType,
    /// The response types the client may use.
    pub response_types: Vec<ResponseType>,
    /// The grant types the client may use at the token endpoint.
    pub grant_types: Vec<GrantType>,
    /// The id_token signing algorithm.
    pub jwt_alg: JwtAlg,
    /// Registered redirect URIs, compared exactly (RFC 6749 §3.1.2, RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs (RP-Initiated Logout 1.0 §3).
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the user must be asked for consent (see [`crate::authorize`]).
    pub require_consent: bool,
    /// Whether a consent once given is remembered until it expires.
    pub reuse_consent: bool,
    /// The client's web site (`client_uri`, Keycloak's `baseUrl`).
    pub website_url: Option<String>,
    /// The client's terms of service (`tos_uri`).
    pub terms_url: Option<String>,
    /// The client's privacy policy (`policy_uri`).
    pub policy_url: Option<String>,
    /// A contact e-mail address.
    pub contact_email: Option<String>,
    /// A logo URL shown on the consent page.
    pub logo: Option<String>,
    /// The scopes the client may request; empty means every scope the realm knows.
    pub allowed_scopes: Vec<String>,
    /// The scopes granted whenever the client asks for `openid` (Keycloak's
    /// default client scopes), whether or not the request names them.
    pub default_scopes: Vec<String>,
    /// Disabled clients cannot obtain codes or tokens.
    pub enabled: bool,
    /// Public or pairwise subject identifiers (OIDC Core §8).
    pub subject_type: crate::subject::SubjectType,
    /// For pairwise subjects: the URI whose host is the sector identifier (OIDC Core §8.1).
    pub sector_identifier_uri: Option<String>,
    /// The client's public keys as a JWKS document (RFC 7517 §5), for
    /// `private_key_jwt` and signed request objects.
    pub jwks: Option<String>,
    /// `default_max_age` (OIDC Registration §2): the max_age of requests that send none.
    pub default_max_age: Option<i64>,
    /// `userinfo_signed_response_alg`: when set, UserInfo answers with a JWT signed so.
    pub userinfo_signed_response_alg: Option<JwtAlg>,
    /// `jwks_uri`: where the client publishes its keys (the adapter fetches
    /// them into `jwks` before verifying, and again when a key is unknown).
    pub jwks_uri: Option<String>,
    /// The one way it may authenticate at the token endpoint, when it
    /// registered one (RFC 7591 §2); `None` accepts any method its type allows.
    pub token_endpoint_auth_method: Option<TokenAuthMethod>,
    /// The format of its access tokens; `None` follows the realm's default.
    pub access_token_format: Option<AccessTokenFormat>,
    /// The algorithm of its JWT access tokens (Keycloak's
    /// `access.token.signed.response.alg`); `None` is RS256.
    pub access_token_signed_response_alg: Option<JwtAlg>,
    /// A description for operators (Keycloak's `description`).
    pub description: Option<String>,
    /// The URL relative redirect URIs were resolved against (Keycloak's `rootUrl`).
    pub root_url: Option<String>,
    /// Origins allowed to call the token and UserInfo endpoints from a browser
    /// (Keycloak's `webOrigins`; `+` stands for the redirect URIs' origins).
    pub web_origins: Vec<String>,
    /// The PKCE method every authorization request of the client must use
    /// (RFC 7636 §4.3; Keycloak's `pkce.code.challenge.method`), even when confidential.
    pub pkce_method: Option<PkceMethod>,
    /// Whether the client's tokens carry every realm role of their holder
    /// (Keycloak's `fullScopeAllowed`); when false, only those in `role_scope`.
    pub full_scope_allowed: bool,
    /// The realm roles the client's tokens may carry when `full_scope_allowed` is false
    /// (Keycloak's scope mappings).
    pub role_scope: Vec<String>,
    /// Where the client hears of logouts (Front-Channel and Back-Channel Logout 1.0).
    pub logout: ClientLogout,
}

impl ClientSettings {
    /// The defaults of a new client: code flow with refresh tokens, RS256,
    /// consent required and reused, enabled, every scope allowed, no default
    /// scopes, full role scope.
    pub fn new(name: impl Into<String>, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSettings {
        ClientSettings {
            name: name.into(),
            client_type,
            response_types: vec![ResponseType::Code],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            jwt_alg: JwtAlg::Rs256,
            redirect_uris,
            post_logout_redirect_uris: vec![],
            require_consent: true,
            reuse_consent: true,
            website_url: None,
            terms_url: None,
            policy_url: None,
            contact_email: None,
            logo: None,
            allowed_scopes: vec![],
            default_scopes: vec![],
            enabled: true,
            subject_type: crate::subject::SubjectType::Public,
            sector_identifier_uri: None,
            jwks: None,
            default_max_age: None,
            userinfo_signed_response_alg: None,
            jwks_uri: None,
            token_endpoint_auth_method: None,
            access_token_format: None,
            access_token_signed_response_alg: None,
            description: None,
            root_url: None,
            web_origins: vec![],
            pkce_method: None,
            full_scope_allowed: true,
            role_scope: vec![],
            logout: ClientLogout::default(),
        }
    }
}

/// A client's logout notification endpoints (Front-Channel Logout 1.0 §2,
/// Back-Channel Logout 1.0 §2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientLogout {
    /// `frontchannel_logout_uri`: rendered in an iframe on the OP's logged-out page.
    pub frontchannel_uri: Option<String>,
    /// `frontchannel_logout_session_required`: the RP needs `iss` and `sid` in that URI.
    pub frontchannel_session_required: bool,
    /// `backchannel_logout_uri`: receives a logout token by POST.
    pub backchannel_uri: Option<String>,
    /// `backchannel_logout_session_required`: the RP needs `sid` in the logout token.
    pub backchannel_session_required: bool,
}

/// A relying party registered in a realm: its identity and secret, and its
/// [`ClientSettings`] (reached directly through `Deref`, so `client.name`
/// reads a setting).
#[derive(Clone, Debug)]
pub struct Client {
    /// The realm the client belongs to.
    pub realm: String,
    /// The client identifier (RFC 6749 §2.2).
    pub client_id: String,
    /// The secret of a confidential client; `None` for a public client.
    pub client_secret: Option<ClientSecret>,
    /// When the client was registered.
    pub date_created: UnixTime,
    /// Everything else.
    pub settings: ClientSettings,
}

impl std::ops::Deref for Client {
    type Target = ClientSettings;
    fn deref(&self) -> &ClientSettings {
        &self.settings
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut ClientSettings {
        &mut self.settings
    }
}

impl Client {
    /// Whether `uri` is one of the registered redirect URIs, by exact string
    /// comparison (RFC 6749 §3.1.2.3, OpenID Connect Core 1.0 §3.1.2.1).
    ///
    /// The one exception is RFC 8252 §7.3: for a registered loopback IP
    /// redirect URI (`http://127.0.0.1/...` or `http://[::1]/...`), a native
    /// app may use any port, so the port is ignored in the comparison.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri || loopback_matches(r, uri))
    }

    /// Whether `origin` (as a browser sends it in `Origin`) is a web origin
    /// of the client, for CORS and the check_session_iframe: one of its
    /// `web_origins` (Keycloak's `webOrigins`: an origin, `+` for the origins
    /// of the redirect URIs, `*` for any), or, when it lists none, the origin
    /// of one of its redirect URIs.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let of_redirects = || self.redirect_uris.iter().any(|u| crate::session::origin(u).as_deref() == Some(origin));
        if self.web_origins.is_empty() {
            return of_redirects();
        }
        self.web_origins.iter().any(|w| match w.as_str() {
            "*" => true,
            "+" => of_redirects(),
            w => w.trim_end_matches('/').eq_ignore_ascii_case(origin),
        })
    }

    /// Whether the client may use `rt`.
    pub fn allows_response_type(&self, rt: ResponseType) -> bool {
        self.response_types.contains(&rt)
    }

    /// Whether the client may use `grant` at the token endpoint.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The client's public keys, parsed from its JWKS (keys that do not parse are skipped).
    pub fn verify_keys(&self) -> Vec<crate::jose::VerifyKey> {
        let Some(text) = &self.jwks else { return Vec::new() };
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else { return Vec::new() };
        doc.get("keys")
            .and_then(serde_json::Value::as_array)
            .map(|keys| keys.iter().filter_map(|k| crate::jose::VerifyKey::from_jwk(k).ok()).collect())
            .unwrap_or_default()
    }

    /// Whether the client may request `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.allowed_scopes.is_empty() || self.allowed_scopes.iter().any(|s| s == scope)
    }
}

/// Splits `http://127.0.0.1:port/rest` or `http://[::1]:port/rest` into the
/// host and the rest after the port; `None` for any other URI.
fn split_loopback(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after_host) = if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else {
        return None;
    };
    let path = match after_host.strip_prefix(':') {
        Some(p) => {
            let digits = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            if digits == 0 || digits > 5 {
                return None;
            }
            &p[digits..]
        }
        None => after_host,
    };
    if !(path.is_empty() || path.starts_with(['/', '?'])) {
        return None;
    }
    Some((host, path))
}

/// RFC 8252 §7.3: loopback IP redirect URIs match on everything but the port.
fn loopback_matches(registered: &str, requested: &str) -> bool {
    match (split_loopback(registered), split_loopback(requested)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A postal address (OpenID Connect Core 1.0 §5.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Full mailing address.
    pub formatted: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City or locality.
    pub locality: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// Zip or postal code.
    pub postal_code: Option<String>,
    /// Country name.
    pub country: Option<String>,
}

impl Address {
    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        [&self.formatted, &self.street_address, &self.locality, &self.region, &self.postal_code, &self.country]
            .iter()
            .all(|f| f.as_deref().is_none_or(str::is_empty))
    }
}

/// The standard claims of OpenID Connect Core 1.0 §5.1 that a user record holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandardClaims {
    /// `name`.
    pub name: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `middle_name`.
    pub middle_name: Option<String>,
    /// `nickname`.
    pub nickname: Option<String>,
    /// `preferred_username`; when empty, the username is used.
    pub preferred_username: Option<String>,
    /// `profile` URL.
    pub profile: Option<String>,
    /// `picture` URL.
    pub picture: Option<String>,
    /// `website` URL.
    pub website: Option<String>,
    /// `gender`.
    pub gender: Option<String>,
    /// `birthdate` (YYYY-MM-DD).
    pub birthdate: Option<String>,
    /// `zoneinfo`.
    pub zoneinfo: Option<String>,
    /// `locale`.
    pub locale: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// `phone_number`.
    pub phone_number: Option<String>,
    /// `phone_number_verified`.
    pub phone_number_verified: bool,
    /// `address`.
    pub address: Address,
}

/// A stored password hash (PHC string, or a Django `pbkdf2_sha256$...` string).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// An end-user of a realm.
#[derive(Clone, Debug)]
pub struct User {
    /// Stable, never reassigned identifier: the public `sub` (OIDC Core §2).
    pub id: String,
    /// The realm.
    pub realm: String,
    /// The login name, unique in the realm.
    pub username: String,
    /// The password hash; `None` when the user cannot log in with a password.
    pub password_hash: Option<PasswordHash>,
    /// Inactive users cannot log in nor use their tokens.
    pub active: bool,
    /// Profile, email, phone and address claims.
    pub claims: StandardClaims,
    /// When the user was created.
    pub created_at: UnixTime,
    /// When the user's claims last changed (`updated_at`).
    pub updated_at: UnixTime,
    /// Custom attributes, released by custom scopes' claims of the same name.
    pub attributes: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The lifecycle of a signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens and is published.
    Active,
    /// No longer signs, still published so that tokens it signed verify.
    Retired,
    /// Neither signs nor is published.
    Revoked,
}

impl KeyState {
    /// `active`, `retired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }
}

impl FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(KeyState::Active),
            "retired" => Ok(KeyState::Retired),
            "revoked" => Ok(KeyState::Revoked),
            _ => Err(format!("unknown key state '{s}'")),
        }
    }
}

/// A server signing key as stored: PKCS#8 DER of the private key.
#[derive(Clone)]
pub struct KeyRecord {
    /// The key id published in JWKS and JWS headers.
    pub kid: String,
    /// The realm.
    pub realm: String,
    /// The JWA algorithm (`RS256`, `PS256`, `ES256`, `EdDSA`).
    pub alg: String,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8: Vec<u8>,
    /// Active, retired or revoked.
    pub state: KeyState,
    /// When the key was created.
    pub created_at: UnixTime,
    /// For a retired key: until when it stays published in JWKS so that the
    /// tokens it signed still verify (`None`: until it is revoked).
    pub published_until: Option<UnixTime>,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("realm", &self.realm)
            .field("alg", &self.alg)
            .field("private_pkcs8", &"[redacted]")
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("published_until", &self.published_until)
            .finish()
    }
}

/// An issued authorization code, stored under the digest of its value.
#[derive(Clone, Debug)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub digest: Digest,
    /// The realm.
    pub realm: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The user who authorized.
    pub user_id: String,
    /// The redirect_uri of the authorization request (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: Scope,
    /// The request's nonce, returned in the id_token (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
    /// PKCE challenge (RFC 7636 §4.3).
    pub code_challenge: Option<String>,
    /// PKCE method.
    pub code_challenge_method: Option<PkceMethod>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The public id of the login session.
    pub session_id: Option<String>,
    /// When the code expires.
    pub expires_at: UnixTime,
    /// The grant this code starts; tokens issued from it carry the same id.
    pub grant_id: String,
    /// The `acr` granted, when the client asked for one.
    pub acr: Option<String>,
    /// The `claims` request parameter (OIDC Core §5.5), as compact JSON.
    pub claims: Option<String>,
    /// The resource indicators of the authorization request (RFC 8707 §2):
    /// the audience of the tokens the code is exchanged for.
    pub resources: Vec<String>,
}

/// A stored access token.
#[derive(Clone, Debug)]
pub struct AccessTokenRecord {
    /// SHA-256 of the token.
    pub digest: Digest,
    /// The realm.
    pub realm: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it was issued for; `None` for a client acting on its own
    /// behalf (`client_credentials`, RFC 6749 §4.4).
    pub user_id: Option<String>,
    /// Granted scope.
    pub scope: Scope,
    /// Expiry.
    pub expires_at: UnixTime,
    /// The grant it belongs to.
    pub grant_id: String,
    /// The `claims` request parameter (OIDC Core §5.5), for UserInfo.
    pub claims: Option<String>,
    /// When it was issued (`iat`, RFC 7662 §2.2).
    pub issued_at: UnixTime,
    /// The login session it was issued in; ending the session revokes it.
    /// `None` for tokens of no session, and for those of an offline grant.
    pub session_id: Option<String>,
    /// The resource servers it is meant for (RFC 8707 `resource`); empty
    /// means the client itself (RFC 9068 §3).
    pub audience: Vec<String>,
    /// Its unique identifier (`jti`, RFC 7519 §4.1.7; RFC 7662 §2.2).
    pub jti: String,
}

impl AccessTokenRecord {
    /// The token's audience (`aud`): the resource indicators it was issued
    /// for, or else the client (RFC 9068 §3, RFC 8707 §2).
    pub fn aud(&self) -> Vec<&str> {
        if self.audience.is_empty() {
            vec![self.client_id.as_str()]
        } else {
            self.audience.iter().map(String::as_str).collect()
        }
    }
}

/// A stored refresh token.
#[derive(Clone, Debug)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub digest: Digest,
    /// The realm.
    pub realm: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it was issued for.
    pub user_id: String,
    /// Granted scope; a refresh may narrow it (RFC 6749 §6).
    pub scope: Scope,
    /// Expiry.
    pub expires_at: UnixTime,
    /// The grant it belongs to.
    pub grant_id: String,
    /// When the user authenticated, carried into refreshed id_tokens.
    pub auth_time: UnixTime,
    /// The login session's public id.
    pub session_id: Option<String>,
    /// The `claims` request parameter (OIDC Core §5.5), carried into refreshed tokens.
    pub claims: Option<String>,
    /// An offline token (`offline_access` was granted, OIDC Core §11): it
    /// outlives its login session, within the offline limits.
    pub offline: bool,
    /// When it was issued (`iat`, RFC 7662 §2.2).
    pub issued_at: UnixTime,
    /// The resource indicators of the grant (RFC 8707), carried into refreshed access tokens.
    pub audience: Vec<String>,
    /// Its unique identifier (`jti`, RFC 7662 §2.2).
    pub jti: String,
}

/// A login session at the provider, found by the digest of its cookie.
#[derive(Clone, Debug)]
pub struct LoginSession {
    /// SHA-256 of the cookie value.
    pub digest: Digest,
    /// Public session id (`sid`).
    pub id: String,
    /// The realm.
    pub realm: String,
    /// The user.
    pub user_id: String,
    /// When the user authenticated (`auth_time`); the session started then.
    pub auth_time: UnixTime,
    /// Expiry: the idle timeout from the last use, never past the maximum
    /// lifetime from `auth_time` (Keycloak's SSO Session Idle and Max).
    pub expires_at: UnixTime,
    /// When the session was last used (a login or an authorization).
    pub last_used: UnixTime,
    /// The browser's `User-Agent`, shortened, for the account page.
    pub user_agent: Option<String>,
    /// The client address it was started from, for the account page.
    pub address: Option<String>,
}

impl LoginSession {
    /// The expiry after a use at `now`: `now` plus the idle timeout, capped
    /// by the maximum lifetime from `auth_time`.
    pub fn expiry_after_use(auth_time: UnixTime, now: UnixTime, settings: &crate::config::Settings) -> UnixTime {
        UnixTime(now.plus(settings.session_idle).secs().min(auth_time.plus(settings.session_lifetime).secs()))
    }

    /// Whether a use at `now` should be recorded (at most once a minute, so
    /// that a busy session does not write on every request).
    pub fn needs_touch(&self, now: UnixTime) -> bool {
        now.secs() - self.last_used.secs() >= 60
    }
}

/// A user's consent to a client for some scopes (the seed's `UserConsent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// The realm.
    pub realm: String,
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// The scopes consented to.
    pub scope: Scope,
    /// When consent was given.
    pub given_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

impl Consent {
    /// Whether this consent covers `requested` at `now`.
    pub fn covers(&self, requested: &Scope, now: UnixTime) -> bool {
        self.expires_at > now && requested.iter().all(|s| self.scope.contains(s))
    }
}

/// A security-relevant event for the audit log (logins, consents, lockouts, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// The realm.
    pub realm: String,
    /// When it happened.
    pub at: UnixTime,
    /// What happened, e.g. `consent.given`, `consent.declined`, `login.failed`.
    pub kind: String,
    /// The user concerned, if any.
    pub user_id: Option<String>,
    /// The client concerned, if any.
    pub client_id: Option<String>,
    /// Details as a JSON object (never secrets).
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_type_order_does_not_matter_oauth_multiple_response_types_5() {
        assert_eq!("token id_token code".parse(), Ok(ResponseType::CodeIdTokenToken));
        assert_eq!("code".parse(), Ok(ResponseType::Code));
        assert!("token".parse::<ResponseType>().is_err());
        assert!("code code".parse::<ResponseType>().is_err());
        for rt in ResponseType::ALL {
            assert_eq!(rt.as_str().parse(), Ok(rt));
        }
    }

    #[test]
    fn loopback_redirect_uris_match_any_port_rfc8252_7_3() {
        let mut c = crate::authorize::tests::client(crate::model::ClientType::Public);
        c.redirect_uris =
            vec!["http://127.0.0.1/cb".into(), "http://[::1]:8080/cb".into(), "com.example.app:/cb".into()];
        assert!(c.has_redirect_uri("http://127.0.0.1/cb"));
        assert!(c.has_redirect_uri("http://127.0.0.1:51004/cb"));
        assert!(c.has_redirect_uri("http://[::1]:1/cb"));
        assert!(c.has_redirect_uri("http://[::1]/cb"));
        assert!(c.has_redirect_uri("com.example.app:/cb"), "private-use scheme, exact (RFC 8252 §7.1)");
        // Everything else must match exactly.
        assert!(!c.has_redirect_uri("http://127.0.0.1:51004/other"));
        assert!(!c.has_redirect_uri("http://127.0.0.1:51004/cb/x"));
        assert!(!c.has_redirect_uri("http://127.0.0.1.evil.example/cb"));
        assert!(!c.has_redirect_uri("http://127.0.0.1:80@evil.example/cb"));
        assert!(!c.has_redirect_uri("https://127.0.0.1:443/cb"));
        assert!(!c.has_redirect_uri("http://localhost:51004/cb"), "only IP literals get any port");
        assert!(!c.has_redirect_uri("com.example.app:/cb2"));
    }

    #[test]
    fn sessions_slide_with_use_up_to_their_maximum_keycloak_sso_session_idle_and_max() {
        let s = crate::config::Settings { session_idle: 100, session_lifetime: 1000, ..Default::default() };
        let start = UnixTime(5000);
        assert_eq!(LoginSession::expiry_after_use(start, start, &s), UnixTime(5100), "idle from the login");
        assert_eq!(LoginSession::expiry_after_use(start, UnixTime(5500), &s), UnixTime(5600), "a use extends it");
        assert_eq!(LoginSession::expiry_after_use(start, UnixTime(5950), &s), UnixTime(6000), "never past the maximum");
        let mut session = crate::authorize::tests::session(5000);
        assert!(!session.needs_touch(UnixTime(5059)), "at most one write a minute");
        assert!(session.needs_touch(UnixTime(5060)));
        session.last_used = UnixTime(5060);
        assert!(!session.needs_touch(UnixTime(5061)));
    }

    #[test]
    fn web_origins_of_a_client_for_cors_and_the_session_iframe() {
        let mut c = crate::authorize::tests::client(ClientType::Public);
        assert!(c.allows_origin("https://rp.example"), "none listed: the redirect URIs' origins");
        assert!(c.allows_origin("http://127.0.0.1:8080"));
        assert!(!c.allows_origin("https://evil.example"));
        c.web_origins = vec!["https://spa.example".into()];
        assert!(c.allows_origin("https://spa.example") && !c.allows_origin("https://rp.example"), "exact list");
        c.web_origins.push("+".into());
        assert!(c.allows_origin("https://rp.example"), "+ adds the redirect URIs' origins (Keycloak)");
        c.web_origins = vec!["*".into()];
        assert!(c.allows_origin("https://anything.example"));
    }

    #[test]
    fn consent_covers_subset_until_expiry() {
        let c = Consent {
            realm: "r".into(),
            user_id: "u".into(),
            client_id: "c".into(),
            scope: Scope::parse("openid email").unwrap(),
            given_at: UnixTime(0),
            expires_at: UnixTime(100),
        };
        assert!(c.covers(&Scope::parse("openid").unwrap(), UnixTime(99)));
        assert!(!c.covers(&Scope::parse("openid").unwrap(), UnixTime(100)));
        assert!(!c.covers(&Scope::parse("openid profile").unwrap(), UnixTime(1)));
    }
}

/// The typed view of a record's id fields (`realm`, `client_id`, `user_id`,
/// ...): a method named like the field that names it as a
/// [`crate::ids`] type, for the repository traits.
macro_rules! typed_ids {
    ($ty:ty { $($field:ident: $id:ident),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("`", stringify!($field), "` as a typed id ([`crate::ids::", stringify!($id), "`]).")]
                #[must_use]
                pub fn $field(&self) -> crate::ids::$id<'_> {
                    crate::ids::$id::new(&self.$field)
                }
            )*
        }
    };
}

typed_ids!(Realm { name: RealmName });
typed_ids!(Client { realm: RealmName, client_id: ClientId });
typed_ids!(User { realm: RealmName, id: UserId });
typed_ids!(KeyRecord { realm: RealmName });
typed_ids!(CodeRecord { realm: RealmName, client_id: ClientId, user_id: UserId });
typed_ids!(AccessTokenRecord { realm: RealmName, client_id: ClientId });
typed_ids!(RefreshTokenRecord { realm: RealmName, client_id: ClientId, user_id: UserId });
typed_ids!(LoginSession { realm: RealmName, user_id: UserId });
typed_ids!(Consent { realm: RealmName, user_id: UserId, client_id: ClientId });
typed_ids!(AuditEvent { realm: RealmName });
