//! Protecting an API with this provider's access tokens: the equivalent of
//! django-oidc-provider's `protected_resource_view`, for Rust services.
//!
//! A [`Verifier`] checks a bearer token (RFC 6750 §2.1) for an API:
//! - a JWT access token (RFC 9068) locally, with the keys of the issuer's JWK
//!   Set found through its discovery document (cached; fetched again, at most
//!   every ten seconds, when a token names a key it does not have, so key
//!   rotation needs no restart): `typ` must be `at+jwt` (§4), `iss` the
//!   issuer, `aud` the API, `exp` in the future;
//! - an opaque token by introspection (RFC 7662) as a confidential client,
//!   with a short cache of positive answers (a revoked token may pass for at
//!   most that long; negative answers are never cached);
//! - then the scopes the call requires.
//!
//! Failures are RFC 6750 §3 errors ([`AuthError::response`]): 401 with
//! `WWW-Authenticate: Bearer ... error="invalid_token"`, 403 with
//! `error="insufficient_scope"` and the `scope` needed.
//!
//! Use it from plain hyper ([`Verifier::check`]), as a tower [`RequireScopes`]
//! layer (so with axum or tonic), or, in a program that embeds `oidc-core` and
//! a store, without HTTP at all ([`local::check`]).
//!
//! What this crate does **not** do: it depends on neither the provider's
//! server, its store nor its templates; it reads no clock itself (the time
//! is an [`oidc_core::time::Clock`]).

mod client;
pub mod local;
mod tower;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use oidc_core::jose::{self, JoseError, VerifyKey};
use oidc_core::time::{Clock, UnixTime};
use serde_json::{Map, Value};

pub use crate::tower::{Protected, RequireScopes};

/// How tokens are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// JWT access tokens only, with the JWK Set.
    Jwt,
    /// Introspection only (opaque tokens, and JWTs too).
    Introspection,
    /// JWTs locally, anything else by introspection.
    JwtThenIntrospection,
}

/// What the API expects of its tokens.
#[derive(Clone, Debug)]
pub struct Config {
    /// The issuer (`{base_url}/realms/{realm}`): discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// This API's identifier: it must be in the token's `aud` (RFC 9068 §4),
    /// which a client gets by asking for it as a `resource` (RFC 8707).
    pub audience: String,
    /// The API's own client credentials, for introspection.
    pub introspection_client: Option<(String, String)>,
    /// How tokens are checked.
    pub mode: Mode,
    /// How long an active introspection answer is reused (default 30 s).
    pub introspection_cache: Duration,
    /// The realm named in `WWW-Authenticate`.
    pub realm: String,
}

impl Config {
    /// A configuration checking JWTs locally and other tokens by introspection
    /// when `introspection_client` is set.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Config {
        Config {
            issuer: issuer.into(),
            audience: audience.into(),
            introspection_client: None,
            mode: Mode::JwtThenIntrospection,
            introspection_cache: Duration::from_secs(30),
            realm: "api".into(),
        }
    }
}

/// The caller a valid token speaks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// `sub`: the user, or the client itself without one (RFC 9068 §2.2).
    pub subject: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When the token expires.
    pub expires_at: UnixTime,
    /// Every claim (of the JWT, or of the introspection answer).
    pub claims: Map<String, Value>,
}

/// Why a request is refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all: a bare challenge (§3.1: no error code).
    #[error("no access token")]
    Missing,
    /// A malformed request (`invalid_request`, 400).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Unknown, revoked, expired, forged or for another API (`invalid_token`, 401).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Valid, without the scopes the call needs (`insufficient_scope`, 403).
    #[error("the token lacks the scope {0}")]
    InsufficientScope(String),
    /// The issuer could not be reached (503).
    #[error("the token could not be checked: {0}")]
    Unavailable(String),
}

impl AuthError {
    /// The status and `WWW-Authenticate` value of this error (RFC 6750 §3).
    pub fn challenge(&self, realm: &str) -> (StatusCode, Option<String>) {
        let quote = |s: &str| s.replace(['"', '\\'], "'");
        let with = |code: &str, desc: &str| {
            format!("Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"", quote(desc))
        };
        match self {
            AuthError::Missing => (StatusCode::UNAUTHORIZED, Some(format!("Bearer realm=\"{realm}\""))),
            AuthError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, Some(with("invalid_request", d))),
            AuthError::InvalidToken(d) => (StatusCode::UNAUTHORIZED, Some(with("invalid_token", d))),
            AuthError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"the token lacks a required scope\", scope=\"{}\"",
                    quote(scope)
                )),
            ),
            AuthError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
        }
    }

    /// The error as an HTTP response with an empty body of any type that
    /// converts from bytes (hyper's `Full<Bytes>`, axum's `Body`, ...).
    pub fn response<B: From<Bytes>>(&self, realm: &str) -> Response<B> {
        let (status, challenge) = self.challenge(realm);
        let mut r = Response::new(B::from(Bytes::new()));
        *r.status_mut() = status;
        if let Some(v) = challenge.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
            r.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
        }
        r.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        r
    }
}

/// The error response as hyper's usual body type.
pub type ErrorResponse = Response<Full<Bytes>>;

/// The issuer's documents, as last read.
#[derive(Debug, Default)]
struct Cache {
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    keys: Vec<VerifyKey>,
    keys_at: Option<Instant>,
    /// Active introspection answers by token digest, with when they were read.
    introspected: HashMap<String, (Principal, Instant)>,
}

/// The least time between two fetches of the JWK Set for unknown keys.
const REFETCH_EVERY: Duration = Duration::from_secs(10);
/// The most introspection answers kept.
const CACHE_MAX: usize = 10_000;

/// Checks bearer tokens for one API. Cheap to share (`Arc`).
pub struct Verifier {
    config: Config,
    clock: Arc<dyn Clock>,
    tls: tokio_rustls::TlsConnector,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .finish()
    }
}

/// The algorithms of JWT access tokens (never `none` or HS256, RFC 9068 §2.1).
const ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

impl Verifier {
    /// A verifier for `config`, reading the time from `clock`.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Result<Verifier, String> {
        Ok(Verifier { config, clock, tls: client::tls()?, cache: Mutex::new(Cache::default()) })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks the request's bearer token (RFC 6750 §2.1, the `Authorization`
    /// header) and that it carries every scope of `required`.
    pub async fn check(&self, headers: &HeaderMap, required: &[&str]) -> Result<Principal, AuthError> {
        let header = headers.get(http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
        let token = match oidc_core::userinfo::bearer_token(header, None, None) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(AuthError::Missing),
            Err(e) => return Err(AuthError::InvalidRequest(e.description)),
        };
        self.verify(token.secret(), required).await
    }

    /// Checks a token and the scopes `required`.
    pub async fn verify(&self, token: &str, required: &[&str]) -> Result<Principal, AuthError> {
        let looks_like_jwt = jwt_type(token).is_some();
        let principal = match self.config.mode {
            Mode::Jwt => self.verify_jwt(token).await?,
            Mode::JwtThenIntrospection if looks_like_jwt => self.verify_jwt(token).await?,
            Mode::Introspection | Mode::JwtThenIntrospection => self.introspect(token).await?,
        };
        require_scopes(principal, required)
    }

    async fn discover(&self) -> Result<(), AuthError> {
        if self.cache().jwks_uri.is_some() {
            return Ok(());
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let doc = self.get_json(&url).await?;
        if doc.get("issuer").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(AuthError::Unavailable("the discovery document names another issuer".into()));
        }
        let mut c = self.cache();
        c.jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).map(str::to_owned);
        c.introspection_endpoint = doc.get("introspection_endpoint").and_then(Value::as_str).map(str::to_owned);
        Ok(())
    }

    async fn get_json(&self, url: &str) -> Result<Value, AuthError> {
        let out = client::Outbound { method: http::Method::GET, url, headers: Vec::new(), form: None };
        let (status, body) = client::send(&self.tls, out).await.map_err(AuthError::Unavailable)?;
        if status != 200 {
            return Err(AuthError::Unavailable(format!("{url} answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|_| AuthError::Unavailable(format!("{url} is not JSON")))
    }

    /// Reads the JWK Set again, unless it was read in the last ten seconds and `force` is false.
    async fn load_keys(&self, force: bool) -> Result<(), AuthError> {
        self.discover().await?;
        let (uri, fresh) = {
            let c = self.cache();
            let fresh = c.keys_at.is_some_and(|at| at.elapsed() < REFETCH_EVERY || (!force && !c.keys.is_empty()));
            (c.jwks_uri.clone(), fresh)
        };
        if fresh {
            return Ok(());
        }
        let uri = uri.ok_or_else(|| AuthError::Unavailable("the issuer publishes no jwks_uri".into()))?;
        let doc = self.get_json(&uri).await?;
        let keys: Vec<VerifyKey> = doc
            .get("keys")
            .and_then(Value::as_array)
            .map(|ks| ks.iter().filter_map(|k| VerifyKey::from_jwk(k).ok()).collect())
            .unwrap_or_default();
        let mut c = self.cache();
        c.keys = keys;
        c.keys_at = Some(Instant::now());
        Ok(())
    }

    /// RFC 9068 §4: a JWT access token's checks.
    async fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        if !jwt_type(token)
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"))
        {
            return Err(AuthError::InvalidToken("not a JWT access token (typ at+jwt, RFC 9068 §4)".into()));
        }
        self.load_keys(false).await?;
        let keys = self.cache().keys.clone();
        let verified = match jose::verify(token, &ALGS, &keys) {
            // A key this verifier has not seen: the issuer may have rotated; read the set again.
            Err(JoseError::UnknownKey) => {
                self.load_keys(true).await?;
                let keys = self.cache().keys.clone();
                jose::verify(token, &ALGS, &keys)
            }
            other => other,
        };
        let claims =
            verified.map_err(|e| AuthError::InvalidToken(format!("the signature does not verify: {e}")))?.claims;
        self.principal(claims)
    }

    /// The checks every token's claims pass: issuer, audience, expiry.
    fn principal(&self, claims: Map<String, Value>) -> Result<Principal, AuthError> {
        let text = |n: &str| claims.get(n).and_then(Value::as_str).map(str::to_owned);
        if text("iss").as_deref() != Some(self.config.issuer.as_str()) {
            return Err(AuthError::InvalidToken("the token is from another issuer".into()));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.config.audience,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(self.config.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(AuthError::InvalidToken("the token is not meant for this API (aud)".into()));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| AuthError::InvalidToken("no exp".into()))?;
        if exp <= self.clock.now().secs() {
            return Err(AuthError::InvalidToken("the token has expired".into()));
        }
        Ok(Principal {
            subject: text("sub").unwrap_or_default(),
            client_id: text("client_id").unwrap_or_default(),
            scopes: text("scope")
                .map(|s| s.split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
            expires_at: UnixTime(exp),
            claims,
        })
    }

    /// RFC 7662: asks the issuer, reusing an active answer for a short while.
    async fn introspect(&self, token: &str) -> Result<Principal, AuthError> {
        let key = oidc_core::secret::Digest::of(token).0;
        let ttl = self.config.introspection_cache;
        if let Some((p, at)) = self.cache().introspected.get(&key)
            && at.elapsed() < ttl
            && p.expires_at.secs() > self.clock.now().secs()
        {
            return Ok(p.clone());
        }
        let (id, secret) = self.config.introspection_client.clone().ok_or_else(|| {
            AuthError::InvalidToken("opaque tokens need introspection, which is not configured".into())
        })?;
        self.discover().await?;
        let endpoint = self
            .cache()
            .introspection_endpoint
            .clone()
            .ok_or_else(|| AuthError::Unavailable("the issuer publishes no introspection endpoint".into()))?;
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", enc(&id), enc(&secret)),
        );
        let out = client::Outbound {
            method: http::Method::POST,
            url: &endpoint,
            headers: vec![(http::header::AUTHORIZATION, format!("Basic {basic}"))],
            form: Some(form),
        };
        let (status, body) = client::send(&self.tls, out).await.map_err(AuthError::Unavailable)?;
        if status != 200 {
            return Err(AuthError::Unavailable(format!("introspection answered {status}")));
        }
        let answer: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|_| AuthError::Unavailable("introspection is not JSON".into()))?;
        if answer.get("active").and_then(Value::as_bool) != Some(true) {
            return Err(AuthError::InvalidToken("the token is not active".into()));
        }
        let p = self.principal(answer)?;
        let mut c = self.cache();
        if c.introspected.len() >= CACHE_MAX {
            c.introspected.clear();
        }
        c.introspected.insert(key, (p.clone(), Instant::now()));
        Ok(p)
    }
}

/// The `typ` header of a compact JWS, if `token` is one.
fn jwt_type(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    if token.split('.').count() != 3 {
        return None;
    }
    let h: Value = serde_json::from_slice(&jose::b64_decode(header).ok()?).ok()?;
    h.get("typ").and_then(Value::as_str).map(str::to_owned)
}

/// RFC 6750 §3.1: every required scope, or `insufficient_scope` naming them.
pub fn require_scopes(p: Principal, required: &[&str]) -> Result<Principal, AuthError> {
    if required.iter().all(|r| p.scopes.iter().any(|s| s == r)) {
        Ok(p)
    } else {
        Err(AuthError::InsufficientScope(required.join(" ")))
    }
}

#[cfg(test)]
mod tests;
