//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OpenID Connect Core 1.0 §3.1.3)
//! as a state machine: [`flow::TokenFlow`] drives the rules of this module
//! (credential parsing, client authentication, grant parsing, code and
//! refresh-token checks, issuing) and tells the adapter what it needs next.
//!
//! ```text
//!  form + Authorization ──parse_credentials──▶ ClientAuth ──▶ authenticated Client
//!     ──parse_grant──▶ GrantRequest ──check_code / check_refresh / password──▶ Grant ──issue──▶ tokens
//!                                       └─ Replay(grant_id): the grant's tokens are revoked
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::access_token::{AccessTokenInput, Minted};
use crate::config::Settings;
use crate::error::{ErrorCode, OAuthError};
use crate::hooks::Hooks;
use crate::idtoken::{self, IdTokenInput};
use crate::jose::KeySet;
use crate::model::{AccessTokenRecord, Client, ClientType, GrantType, RefreshTokenRecord, TokenAuthMethod, User};
use crate::params::{Params, form_urldecode};
use crate::pkce;
use crate::rand::{Random, token};
use crate::repo::{Redeemed, Rotated};
use crate::scope::{Scope, ScopeRegistry};
use crate::secret::{AccessToken, RefreshToken};
use crate::time::UnixTime;

/// How the client presented its credentials (RFC 6749 §2.3.1).
#[derive(Debug)]
pub enum ClientCredentials {
    /// HTTP Basic (`client_secret_basic`).
    Basic {
        /// The client id.
        client_id: String,
        /// The secret, if not empty.
        secret: Option<crate::secret::ClientSecret>,
    },
    /// A JWT signed with the client secret (`client_secret_jwt`, RFC 7523 §2.2,
    /// OIDC Core §9): verified by [`authenticate_assertion`].
    Assertion {
        /// The client id (the assertion's `sub`, or the `client_id` parameter).
        client_id: String,
        /// The compact JWS.
        assertion: String,
    },
    /// Form body (`client_secret_post`), or a public client's bare client_id (`none`).
    Post {
        /// The client id.
        client_id: String,
        /// The secret, if sent.
        secret: Option<crate::secret::ClientSecret>,
    },
}

impl ClientCredentials {
    /// The client id presented.
    pub fn client_id(&self) -> &str {
        match self {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::Assertion { client_id, .. } => client_id,
        }
    }

    fn secret(&self) -> Option<&crate::secret::ClientSecret> {
        match self {
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => secret.as_ref(),
            ClientCredentials::Assertion { .. } => None,
        }
    }
}

/// The grant of a token request.
#[derive(Debug)]
#[non_exhaustive]
pub enum GrantRequest {
    /// `authorization_code` (RFC 6749 §4.1.3).
    AuthorizationCode {
        /// The code.
        code: crate::secret::AuthorizationCode,
        /// The redirect_uri, which must equal the authorization request's.
        redirect_uri: Option<String>,
        /// PKCE verifier (RFC 7636 §4.5).
        code_verifier: Option<crate::secret::CodeVerifier>,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: RefreshToken,
        /// A narrower scope, if asked for.
        scope: Option<Scope>,
    },
    /// `password` (RFC 6749 §4.3.2).
    Password {
        /// The resource owner's username.
        username: String,
        /// The password.
        password: crate::secret::Password,
        /// The requested scope.
        scope: Option<Scope>,
    },
    /// `client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials {
        /// The requested scope.
        scope: Option<Scope>,
    },
}

impl GrantRequest {
    /// The grant type of the request.
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
            GrantRequest::Password { .. } => GrantType::Password,
            GrantRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// A parsed token request.
#[derive(Debug)]
pub struct TokenRequest {
    /// The client's credentials.
    pub credentials: ClientCredentials,
    /// The grant.
    pub grant: GrantRequest,
}

/// Parses a token request from its form body and `Authorization` header.
pub fn parse(mut params: Params, authorization: Option<&str>) -> Result<TokenRequest, OAuthError> {
    let credentials = parse_credentials(&mut params, authorization)?;
    let grant = parse_grant(params)?;
    Ok(TokenRequest { credentials, grant })
}

/// Takes the client's credentials out of a request to the token,
/// introspection or revocation endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2,
/// RFC 7662 §2.1, RFC 7009 §2.1): HTTP Basic, the form body, or a client
/// assertion. This reads only the credential parameters, so that the client
/// can be authenticated before anything costly is parsed.
/// Also used where clients authenticate elsewhere (logout by refresh token).
pub fn parse_credentials(params: &mut Params, authorization: Option<&str>) -> Result<ClientCredentials, OAuthError> {
    Ok(match authorization {
        Some(h) => {
            let (scheme, value) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client("unsupported Authorization scheme (use Basic)"));
            }
            if params.get("client_secret").is_some() || params.get("client_assertion").is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated in more than one way (RFC 6749 §2.3)",
                ));
            }
            let decoded = STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) =
                decoded.split_once(':').ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            // RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
            let id = form_urldecode(id).ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let secret =
                form_urldecode(secret).ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            if let Some(body_id) = params.get("client_id")
                && body_id != id
            {
                return Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"));
            }
            let secret = (!secret.is_empty()).then(|| crate::secret::ClientSecret::new(secret));
            ClientCredentials::Basic { client_id: id, secret }
        }
        None if params.get("client_assertion_type").is_some() || params.get("client_assertion").is_some() => {
            if params.get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_client(format!("client_assertion_type must be {JWT_BEARER}")));
            }
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated in more than one way (RFC 6749 Section 2.3)",
                ));
            }
            let assertion = params
                .take("client_assertion")
                .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
            // RFC 7523 §3: sub is the client_id; a client_id parameter, if sent, must agree.
            let sub = unverified_claim(&assertion, "sub")
                .ok_or_else(|| OAuthError::invalid_client("the client assertion has no sub"))?;
            if params.take("client_id").is_some_and(|id| id != sub) {
                return Err(OAuthError::invalid_client("client_id differs from the client assertion's sub"));
            }
            ClientCredentials::Assertion { client_id: sub, assertion }
        }
        None => {
            let client_id =
                params.take("client_id").ok_or_else(|| OAuthError::invalid_client("no client authentication"))?;
            let secret = params.take("client_secret").map(crate::secret::ClientSecret::new);
            ClientCredentials::Post { client_id, secret }
        }
    })
}

/// Parses the grant of a token request whose credentials were taken out
/// (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6).
pub fn parse_grant(mut params: Params) -> Result<GrantRequest, OAuthError> {
    Ok(match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("the grant_type parameter is missing")),
        Some("authorization_code") => GrantRequest::AuthorizationCode {
            code: crate::secret::AuthorizationCode::new(
                params.take("code").ok_or_else(|| OAuthError::invalid_request("the code parameter is missing"))?,
            ),
            redirect_uri: params.take("redirect_uri"),
            code_verifier: params.take("code_verifier").map(crate::secret::CodeVerifier::new),
        },
        Some("refresh_token") => GrantRequest::RefreshToken {
            refresh_token: RefreshToken::new(
                params
                    .take("refresh_token")
                    .ok_or_else(|| OAuthError::invalid_request("the refresh_token parameter is missing"))?,
            ),
            scope: scope_param(&params)?,
        },
        Some("password") => GrantRequest::Password {
            username: params
                .take("username")
                .ok_or_else(|| OAuthError::invalid_request("the username parameter is missing"))?,
            password: crate::secret::Password::new(
                params
                    .take("password")
                    .ok_or_else(|| OAuthError::invalid_request("the password parameter is missing"))?,
            ),
            scope: scope_param(&params)?,
        },
        Some("client_credentials") => GrantRequest::ClientCredentials { scope: scope_param(&params)? },
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type '{other}' is not supported"),
            ));
        }
    })
}

fn scope_param(params: &Params) -> Result<Option<Scope>, OAuthError> {
    params.get("scope").map(Scope::parse).transpose().map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e))
}

/// Checks that an authenticated client may use the request's grant type
/// (RFC 6749 §5.2 `unauthorized_client`): it must be registered for it;
/// `client_credentials` is for confidential clients only (RFC 6749 §4.4);
/// `password` also needs the realm's switch (RFC 9700 §2.4 discourages it).
pub fn check_grant_type(grant: &GrantRequest, client: &Client, settings: &Settings) -> Result<(), OAuthError> {
    let gt = grant.grant_type();
    if gt == GrantType::Password && !settings.password_grant_enabled {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "the password grant is disabled on this server (RFC 9700 §2.4)",
        ));
    }
    if gt == GrantType::ClientCredentials && client.client_type != ClientType::Confidential {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials is only for confidential clients (RFC 6749 §4.4)",
        ));
    }
    if !client.allows_grant(gt) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {} grant", gt.as_str()),
        ));
    }
    Ok(())
}

/// The scope granted to a password or client_credentials request: the
/// requested scopes the client may have and the realm knows (`known`); with
/// no scope requested, `default` (RFC 6749 §3.3). Asking only for scopes that
/// cannot be granted is `invalid_scope`.
pub fn grantable_scope(
    requested: Option<&Scope>,
    client: &Client,
    known: impl Fn(&str) -> bool,
    default: &Scope,
) -> Result<Scope, OAuthError> {
    let Some(req) = requested else {
        return Ok(default.filter(|s| client.allows_scope(s)));
    };
    let scope = req.filter(|s| known(s) && client.allows_scope(s));
    if scope.is_empty() && !req.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        ));
    }
    Ok(scope)
}

/// A password grant whose password verified (RFC 6749 §4.3.2): a new grant
/// family for `user_id`, authenticated `now`.
pub(crate) fn password_grant(user_id: &str, scope: Scope, now: UnixTime, rng: &dyn Random) -> Grant {
    Grant {
        user_id: user_id.to_owned(),
        scope,
        nonce: None,
        auth_time: now,
        session_id: None,
        grant_id: crate::rand::grant_id(rng, now),
        acr: None,
        claims: None,
        audience: Vec::new(),
    }
}

/// What issuing a token for a client acting on its own behalf needs.
#[derive(Debug)]
pub struct ServiceContext<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The realm's issuer.
    pub issuer: &'a str,
    /// The client.
    pub client: &'a Client,
    /// The realm's keys.
    pub keys: &'a KeySet,
    /// The scopes the realm knows.
    pub registry: &'a ScopeRegistry,
    /// Lifetimes and formats.
    pub settings: &'a Settings,
    /// The realm roles of the client's service account; read only under the `roles` scope.
    pub roles: &'a [String],
    /// Now.
    pub now: UnixTime,
}

/// An access token for a client acting on its own behalf (RFC 6749 §4.4.3):
/// no refresh token and no id_token, as there is no end-user.
pub fn issue_client_credentials(
    ctx: &ServiceContext<'_>,
    scope: &Scope,
    audience: &[String],
    rng: &dyn Random,
) -> Result<Minted, OAuthError> {
    let grant_id = crate::rand::grant_id(rng, ctx.now);
    crate::access_token::mint(
        &AccessTokenInput {
            realm: ctx.realm,
            issuer: ctx.issuer,
            keys: ctx.keys,
            client: ctx.client,
            user: None,
            subject: None,
            scope,
            grant_id: &grant_id,
            session_id: None,
            auth_time: None,
            claims: None,
            audience,
            registry: ctx.registry,
            settings: ctx.settings,
            roles: ctx.roles,
            now: ctx.now,
        },
        rng,
    )
}

/// The most resource indicators one request may name.
const MAX_RESOURCES: usize = 10;

/// Checks RFC 8707 `resource` values (§2): absolute URIs without a
/// fragment, at most ten, duplicates dropped. Anything else is `invalid_target`.
pub fn parse_resources(values: Vec<String>) -> Result<Vec<String>, OAuthError> {
    let invalid = |d: String| Err(OAuthError::new(ErrorCode::InvalidTarget, d));
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let scheme_ok = v.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !rest.is_empty()
        });
        if !scheme_ok || v.contains('#') || v.len() > 2048 || v.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return invalid("a resource must be an absolute URI without a fragment (RFC 8707 §2)".into());
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.len() > MAX_RESOURCES {
        return invalid(format!("at most {MAX_RESOURCES} resources may be requested"));
    }
    Ok(out)
}

/// The audience of the tokens issued for `grant` when `requested` resources
/// were named (RFC 8707 §2.2): a grant that already names resources (a
/// refresh) may only be narrowed to some of them; otherwise the request sets them.
pub(crate) fn with_resources(mut grant: Grant, requested: Vec<String>) -> Result<Grant, OAuthError> {
    if requested.is_empty() {
        return Ok(grant);
    }
    if !grant.audience.is_empty() && !requested.iter().all(|r| grant.audience.contains(r)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "a token request may only name resources of the original grant (RFC 8707 §2.2)",
        ));
    }
    grant.audience = requested;
    Ok(grant)
}

/// The client assertion type of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A string claim of a JWS payload, read without verifying (only to find
/// which client's key verifies it).
fn unverified_claim(jws: &str, name: &str) -> Option<String> {
    let payload = jws.split('.').nth(1)?;
    let v: serde_json::Value = serde_json::from_slice(&crate::jose::b64_decode(payload).ok()?).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// A verified client assertion: the `jti` to record as used until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionUse {
    /// The assertion's unique id.
    pub jti: String,
    /// When it expires; it must not be accepted again before.
    pub expires_at: UnixTime,
}

/// Verifies a `client_secret_jwt` or `private_key_jwt` assertion (RFC 7523
/// §3, OIDC Core §9): HS256 with the client's secret or a signature by one of
/// the client's own keys, `iss` = `sub` = client_id, an `aud`
/// naming one of `audiences` (the token endpoint or the issuer), `exp` in
/// the future (at most an hour ahead), and a `jti` the caller records so
/// that the assertion is used once.
pub fn authenticate_assertion(
    creds: &ClientCredentials,
    client: Option<&Client>,
    audiences: &[&str],
    now: UnixTime,
) -> Result<AssertionUse, OAuthError> {
    let ClientCredentials::Assertion { client_id, assertion } = creds else {
        return Err(OAuthError::invalid_client("no client assertion"));
    };
    let fail = |why: &str| Err(OAuthError::invalid_client(format!("client assertion refused: {why}")));
    let Some(client) = client.filter(|c| c.enabled) else {
        return fail("unknown or disabled client");
    };
    // client_secret_jwt: HS256 with the secret; private_key_jwt: the client's own keys.
    let mut keys = client.verify_keys();
    if let Some(secret) = client.client_secret.as_ref() {
        keys.push(crate::jose::VerifyKey::Hmac(secret.secret().as_bytes().to_vec()));
    }
    if keys.is_empty() {
        return fail("the client has neither a secret nor keys to verify it with");
    }
    let Ok(v) = crate::jose::verify(assertion, &crate::jose::ALL_ALGS, &keys) else {
        return fail("the signature does not verify");
    };
    let used = if v.header.get("alg").and_then(serde_json::Value::as_str) == Some("HS256") {
        TokenAuthMethod::ClientSecretJwt
    } else {
        TokenAuthMethod::PrivateKeyJwt
    };
    if client.token_endpoint_auth_method.is_some_and(|m| m != used) {
        return fail(&format!(
            "this client authenticates with {}",
            client.token_endpoint_auth_method.map_or("", |m| m.as_str())
        ));
    }
    let c = &v.claims;
    let text = |n: &str| c.get(n).and_then(serde_json::Value::as_str);
    if text("iss") != Some(client_id.as_str()) || text("sub") != Some(client_id.as_str()) {
        return fail("iss and sub must be the client_id");
    }
    let aud_ok = match c.get("aud") {
        Some(serde_json::Value::String(a)) => audiences.contains(&a.as_str()),
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str().is_some_and(|x| audiences.contains(&x))),
        _ => false,
    };
    if !aud_ok {
        return fail("aud must be the token endpoint");
    }
    let Some(exp) = c.get("exp").and_then(serde_json::Value::as_i64) else {
        return fail("exp is missing");
    };
    if exp <= now.secs() {
        return fail("it has expired");
    }
    if exp > now.secs() + 3600 {
        return fail("exp is more than an hour ahead");
    }
    let Some(jti) = text("jti").filter(|j| !j.is_empty() && j.len() <= 256) else {
        return fail("jti is missing");
    };
    Ok(AssertionUse { jti: jti.to_owned(), expires_at: UnixTime(exp) })
}

/// Authenticates the client (RFC 6749 §2.3, §3.2.1): a confidential client
/// must present its secret; a public client presents none. Any failure is
/// `invalid_client`, answered with 401 by the adapter (RFC 6749 §5.2).
pub fn authenticate(creds: &ClientCredentials, client: Option<&Client>) -> Result<(), OAuthError> {
    let Some(client) = client else {
        return Err(OAuthError::invalid_client("client authentication failed"));
    };
    if !client.enabled {
        return Err(OAuthError::invalid_client("this client is disabled"));
    }
    if matches!(creds, ClientCredentials::Assertion { .. }) {
        return Err(OAuthError::invalid_client("a client assertion is verified by authenticate_assertion"));
    }
    // RFC 7591 §2: a client that registered a method must use it.
    let used = match (creds, creds.secret()) {
        (ClientCredentials::Basic { .. }, _) => TokenAuthMethod::ClientSecretBasic,
        (ClientCredentials::Post { .. }, Some(_)) => TokenAuthMethod::ClientSecretPost,
        _ => TokenAuthMethod::None,
    };
    if let Some(m) = client.token_endpoint_auth_method
        && m != used
    {
        return Err(OAuthError::invalid_client(format!(
            "this client authenticates with {}, not {}",
            m.as_str(),
            used.as_str()
        )));
    }
    match (client.client_type, creds.secret(), client.client_secret.as_ref()) {
        (ClientType::Confidential, Some(given), Some(stored)) if stored.ct_eq(given.secret()) => Ok(()),
        (ClientType::Confidential, None, _) => {
            Err(OAuthError::invalid_client("this client must authenticate with its secret"))
        }
        (ClientType::Confidential, _, _) => Err(OAuthError::invalid_client("client authentication failed")),
        (ClientType::Public, None, _) => Ok(()),
        (ClientType::Public, Some(_), _) => Err(OAuthError::invalid_client("a public client has no secret to send")),
    }
}

/// A grant that may be turned into tokens: made only inside the token flow
/// ([`flow::TokenFlow`]), after the client was authenticated and the code,
/// refresh token or password checked.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The user.
    pub(crate) user_id: String,
    /// The scope to issue.
    pub(crate) scope: Scope,
    /// The nonce to put in the id_token (code grant only, OIDC Core §3.1.3.6).
    pub(crate) nonce: Option<String>,
    /// When the user authenticated.
    pub(crate) auth_time: UnixTime,
    /// The login session's public id.
    pub(crate) session_id: Option<String>,
    /// The grant family.
    pub(crate) grant_id: String,
    /// The `acr` granted at the authorization endpoint.
    pub(crate) acr: Option<String>,
    /// The `claims` request parameter (OIDC Core §5.5), as compact JSON.
    pub(crate) claims: Option<String>,
    /// The resource indicators the tokens are for (RFC 8707); empty: the client.
    pub(crate) audience: Vec<String>,
}

impl Grant {
    /// Whether the grant is offline (`offline_access`, OIDC Core §11): its
    /// refresh tokens outlive the login session.
    pub fn is_offline(&self) -> bool {
        self.scope.contains("offline_access")
    }

    /// Whether tokens may be issued for this grant only while its login
    /// session lasts: it came from a session and is not offline.
    pub fn needs_session(&self) -> bool {
        self.session_id.is_some() && !self.is_offline()
    }

    /// Checks that the login session of a grant that needs one is still
    /// alive (`session`: the unexpired session with the grant's session id,
    /// as the adapter found it). Refresh tokens die with their session, as
    /// in Keycloak; offline ones do not.
    pub fn check_session(&self, session: Option<&crate::model::LoginSession>) -> Result<(), OAuthError> {
        match (self.needs_session(), session) {
            (false, _) => Ok(()),
            (true, Some(s)) if Some(&s.id) == self.session_id.as_ref() && s.user_id == self.user_id => Ok(()),
            (true, _) => Err(OAuthError::invalid_grant("the login session of this grant has ended")),
        }
    }
}

/// Why a code or refresh token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantFailure {
    /// Answer with this error.
    Refused(OAuthError),
    /// A replay: revoke every token of `grant_id`, then answer `invalid_grant`
    /// (RFC 6749 §4.1.2, §10.4; RFC 9700 §4.14.2).
    Replay {
        /// The grant to revoke.
        grant_id: String,
        /// The error to answer.
        error: OAuthError,
    },
}

/// Checks a redeemed authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
pub(crate) fn check_code(
    redeemed: Redeemed,
    client: &Client,
    redirect_uri: Option<&str>,
    code_verifier: Option<&crate::secret::CodeVerifier>,
    now: UnixTime,
) -> Result<Grant, GrantFailure> {
    let refuse = |d: &str| Err(GrantFailure::Refused(OAuthError::invalid_grant(d)));
    let rec = match redeemed {
        Redeemed::Unknown => return refuse("the authorization code is invalid"),
        // RFC 6749 §4.1.3: ensure the code was issued to the authenticated client;
        // another client's presentation changes nothing (it is no replay).
        Redeemed::OtherClient => return refuse("the authorization code was issued to another client"),
        Redeemed::Replayed(rec) if rec.client_id != client.client_id => {
            return refuse("the authorization code was issued to another client");
        }
        Redeemed::Replayed(rec) => {
            return Err(GrantFailure::Replay {
                grant_id: rec.grant_id,
                error: OAuthError::invalid_grant("the authorization code was already used; its tokens are revoked"),
            });
        }
        Redeemed::First(rec) => rec,
    };
    if rec.client_id != client.client_id {
        return refuse("the authorization code was issued to another client");
    }
    if rec.expires_at <= now {
        return refuse("the authorization code has expired");
    }
    if redirect_uri != Some(rec.redirect_uri.as_str()) {
        return refuse("redirect_uri does not match the authorization request (RFC 6749 §4.1.3)");
    }
    match (&rec.code_challenge, rec.code_challenge_method, code_verifier) {
        (Some(challenge), Some(method), Some(v)) => {
            pkce::verify(method, challenge, v.secret()).map_err(GrantFailure::Refused)?;
        }
        (Some(_), _, None) => return refuse("code_verifier is required (RFC 7636 §4.5)"),
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, _, Some(_)) => return refuse("code_verifier was sent but no code_challenge was (RFC 9700 §2.1.1)"),
        (None, _, None) => {}
        (Some(_), None, Some(_)) => return refuse("the code's PKCE method is unknown"),
    }
    Ok(Grant {
        user_id: rec.user_id,
        scope: rec.scope,
        nonce: rec.nonce,
        auth_time: rec.auth_time,
        session_id: rec.session_id,
        grant_id: rec.grant_id,
        acr: rec.acr,
        claims: rec.claims,
        // RFC 8707 §2.2: a token request may narrow these, never widen them.
        audience: rec.resources,
    })
}

/// Checks a used refresh token (RFC 6749 §6): rotation makes a second use a
/// replay; a narrower scope may be asked for, never a wider one.
pub(crate) fn check_refresh(
    rotated: Rotated,
    client: &Client,
    scope: Option<&Scope>,
    now: UnixTime,
) -> Result<Grant, GrantFailure> {
    let refuse = |c: ErrorCode, d: &str| Err(GrantFailure::Refused(OAuthError::new(c, d)));
    let rec = match rotated {
        Rotated::Unknown => return refuse(ErrorCode::InvalidGrant, "the refresh token is invalid"),
        // RFC 6749 §6: the refresh token is bound to the client it was issued to.
        Rotated::OtherClient => {
            return refuse(ErrorCode::InvalidGrant, "the refresh token was issued to another client");
        }
        Rotated::Replayed(rec) if rec.client_id != client.client_id => {
            return refuse(ErrorCode::InvalidGrant, "the refresh token was issued to another client");
        }
        Rotated::Replayed(rec) => {
            return Err(GrantFailure::Replay {
                grant_id: rec.grant_id,
                error: OAuthError::invalid_grant("the refresh token was already used; its grant is revoked"),
            });
        }
        // Within the reuse interval, the previous token once more: a new pair of the same grant.
        Rotated::First(rec) | Rotated::Reused(rec) => rec,
    };
    if rec.client_id != client.client_id {
        return refuse(ErrorCode::InvalidGrant, "the refresh token was issued to another client");
    }
    if rec.expires_at <= now {
        return refuse(ErrorCode::InvalidGrant, "the refresh token has expired");
    }
    let scope = match scope {
        None => rec.scope.clone(),
        Some(s) if s.is_subset_of(&rec.scope) => s.clone(),
        Some(_) => {
            return refuse(ErrorCode::InvalidScope, "the requested scope exceeds the original grant (RFC 6749 §6)");
        }
    };
    Ok(Grant {
        user_id: rec.user_id,
        scope,
        nonce: None,
        auth_time: rec.auth_time,
        session_id: rec.session_id,
        grant_id: rec.grant_id,
        acr: None,
        claims: rec.claims,
        audience: rec.audience,
    })
}

/// Checks, before a refresh token is spent, what the request narrows: the
/// scope (RFC 6749 §6) and the resources (RFC 8707 §2.2) must fit the token,
/// and the token must be the client's. A request refused here changes
/// nothing, so a client's mistake does not spend its refresh token (whose
/// next use would then look like a replay and revoke the grant).
pub(crate) fn precheck_refresh(
    rec: &RefreshTokenRecord,
    client: &Client,
    scope: Option<&Scope>,
    resources: &[String],
) -> Result<(), OAuthError> {
    if rec.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    if scope.is_some_and(|s| !s.is_subset_of(&rec.scope)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds the original grant (RFC 6749 §6)",
        ));
    }
    if !rec.audience.is_empty() && !resources.iter().all(|r| rec.audience.contains(r)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "a token request may only name resources of the original grant (RFC 8707 §2.2)",
        ));
    }
    Ok(())
}

/// Tokens issued for a grant, with the records to store.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access_token: AccessToken,
    /// Its stored record.
    pub access_record: AccessTokenRecord,
    /// The refresh token with its stored record, when the client may use the
    /// refresh_token grant.
    pub refresh: Option<(RefreshToken, RefreshTokenRecord)>,
    /// The signed id_token, when `openid` was granted.
    pub id_token: Option<String>,
    /// `expires_in` of the access token.
    pub expires_in: i64,
    /// The granted scope.
    pub scope: Scope,
}

/// Context for issuing tokens.
#[derive(Debug)]
pub struct IssueContext<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The realm's issuer.
    pub issuer: &'a str,
    /// The client.
    pub client: &'a Client,
    /// The user, who must be active.
    pub user: &'a User,
    /// The user's subject identifier for this client.
    pub subject: &'a str,
    /// The scopes the realm knows.
    pub registry: &'a ScopeRegistry,
    /// The id_token hooks.
    pub hooks: &'a Hooks,
    /// The realm's keys.
    pub keys: &'a KeySet,
    /// The realm's secret, from which the key of refresh-token envelopes is derived.
    pub realm_secret: &'a [u8],
    /// Lifetimes.
    pub settings: &'a Settings,
    /// The user's realm roles; the adapter may leave them out when the
    /// grant has no `roles` scope, as nothing reads them then.
    pub roles: &'a [String],
    /// Now.
    pub now: UnixTime,
}

/// Issues an access token, a refresh token and, for `openid`, an id_token
/// (OIDC Core §3.1.3.3).
pub(crate) fn issue(ctx: &IssueContext<'_>, grant: Grant, rng: &dyn Random) -> Result<Issued, OAuthError> {
    if !ctx.user.active || ctx.user.id != grant.user_id {
        return Err(OAuthError::invalid_grant("the user of this grant is no longer active"));
    }
    let offline = grant.is_offline();
    // Tokens of a session die with it; offline ones do not (OIDC Core §11).
    let session_id = if offline { None } else { grant.session_id.as_deref() };
    let Minted { value: access_token, record: access_record, expires_in } = crate::access_token::mint(
        &AccessTokenInput {
            realm: ctx.realm,
            issuer: ctx.issuer,
            keys: ctx.keys,
            client: ctx.client,
            user: Some(ctx.user),
            subject: Some(ctx.subject),
            scope: &grant.scope,
            grant_id: &grant.grant_id,
            session_id,
            auth_time: Some(grant.auth_time),
            claims: grant.claims.as_deref(),
            audience: &grant.audience,
            registry: ctx.registry,
            settings: ctx.settings,
            roles: ctx.roles,
            now: ctx.now,
        },
        rng,
    )?;
    let id_token = if grant.scope.contains("openid") {
        // OIDC_IDTOKEN_INCLUDE_CLAIMS puts the scope's claims in the id_token too;
        // claims asked for in the id_token (OIDC Core §5.5) always go there.
        let base = if ctx.settings.idtoken_include_claims { ctx.registry.claims_of(&grant.scope) } else { Vec::new() };
        let request = grant.claims.as_deref().and_then(|c| crate::claims::ClaimsRequest::parse(c).ok());
        let requested = request.as_ref().map(crate::claims::ClaimsRequest::id_token_names).unwrap_or_default();
        let names = crate::userinfo::released_extra(ctx.registry, base, &requested);
        let mut extra = crate::userinfo::claims_for(ctx.user, ctx.subject, &names);
        // Keycloak's `roles` client scope: realm_access.roles within the client's role scope.
        crate::roles::add_realm_access(&mut extra, &grant.scope, ctx.roles, ctx.client);
        let mut claims = idtoken::claims(&IdTokenInput {
            issuer: ctx.issuer,
            subject: ctx.subject,
            client: ctx.client,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
            access_token: Some(access_token.secret()),
            code: None,
            session_id: grant.session_id.as_deref(),
            acr: grant.acr.as_deref(),
            amr: &["pwd"],
            extra: Some(&extra),
            now: ctx.now,
            lifetime: ctx.settings.id_token_lifetime,
        });
        ctx.hooks.process_id_token(&mut claims, ctx.user, ctx.client, &grant.scope);
        Some(idtoken::sign(&claims, ctx.client, ctx.keys)?)
    } else {
        None
    };
    let refresh = ctx.client.allows_grant(GrantType::RefreshToken).then(|| {
        // An offline token lives for the offline idle time from each use, never
        // past the offline maximum from the login (Keycloak's Offline Session Idle/Max).
        let expires_at = if offline {
            UnixTime(
                ctx.now
                    .plus(ctx.settings.offline_idle)
                    .secs()
                    .min(grant.auth_time.plus(ctx.settings.offline_max).secs()),
            )
        } else {
            ctx.now.plus(ctx.settings.refresh_token_lifetime)
        };
        let jti = token(rng, 16);
        let refresh_token = refresh_envelope(ctx, &grant, offline, expires_at, &jti, rng);
        let record = RefreshTokenRecord {
            digest: refresh_token.digest(),
            realm: ctx.realm.to_owned(),
            client_id: ctx.client.client_id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.scope.clone(),
            expires_at,
            grant_id: grant.grant_id.clone(),
            auth_time: grant.auth_time,
            session_id: grant.session_id.clone(),
            claims: grant.claims.clone(),
            issued_at: ctx.now,
            audience: grant.audience.clone(),
            jti,
            offline,
        };
        (refresh_token, record)
    });
    Ok(Issued { access_token, access_record, refresh, id_token, expires_in, scope: grant.scope })
}

/// A refresh token's value: a JWT (HS256 under a key derived from the realm's
/// secret) carrying what the client may read about it (`exp`, `iat`, `jti`,
/// `typ` `Refresh` or `Offline`, `sid`, `azp`, `scope`), as Keycloak's refresh
/// tokens do: Keycloak's adapters (keycloak-js) decode every token they get
/// and fail on an opaque one. For the provider it stays an opaque secret: it
/// is stored only as a digest and accepted only by finding that digest, never
/// by its signature or claims; 128 random bits in `nonce` and the `jti` make
/// it unguessable on their own. Its header carries the issue order (`ord`),
/// so that its digest, the row's key, sorts as issued ([`crate::secret::Digest::of`]).
fn refresh_envelope(
    ctx: &IssueContext<'_>,
    grant: &Grant,
    offline: bool,
    expires_at: UnixTime,
    jti: &str,
    rng: &dyn Random,
) -> RefreshToken {
    let mut claims = serde_json::Map::new();
    claims.insert("exp".into(), expires_at.secs().into());
    claims.insert("iat".into(), ctx.now.secs().into());
    claims.insert("jti".into(), jti.into());
    claims.insert("iss".into(), ctx.issuer.into());
    claims.insert("aud".into(), ctx.issuer.into());
    claims.insert("sub".into(), ctx.subject.into());
    claims.insert("typ".into(), if offline { "Offline" } else { "Refresh" }.into());
    claims.insert("azp".into(), ctx.client.client_id.clone().into());
    if let Some(sid) = &grant.session_id {
        claims.insert("sid".into(), sid.clone().into());
    }
    claims.insert("scope".into(), grant.scope.to_string().into());
    claims.insert("nonce".into(), token(rng, 16).into());
    let key = crate::sealed::derive_key(ctx.realm_secret, "refresh-token-envelope");
    RefreshToken::new(crate::jose::sign_hs256_ordered(&claims, &key, &crate::rand::issue_order(ctx.now)))
}

pub mod flow;

#[cfg(test)]
pub(crate) mod tests;
