//! The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core 1.0 §3.1.2)
//! as a state machine.
//!
//! ```text
//!  params ──parse──▶ Received ──with_client(Client?)──▶ Validated ──decide(session, consent, now)──▶ Decision
//!    │                  │                                   │                                      ├─ Login
//!    ▼                  ▼                                   ▼                                      ├─ Consent
//!  ErrorPage         ErrorPage                        Redirect(error)                              ├─ Redirect(error)  (prompt=none)
//!                                                                                                  └─ Issue ──issue_code──▶ code + Redirect
//! ```
//!
//! Until the client and its redirect_uri are known to match a registration,
//! every error is an [`AuthzError::ErrorPage`]: the adapter shows it and never
//! redirects (RFC 6749 §4.1.2.1, RFC 9700 §4.1). After that, errors are
//! returned to the client's redirect_uri with `error`, `error_description`
//! and `state`.

use crate::claims::ClaimsRequest;
use crate::config::Settings;
use crate::error::{ErrorCode, OAuthError};
use crate::hooks::Hooks;
use crate::idtoken::{self, IdTokenInput};
use crate::jose::KeySet;
use crate::model::{AccessTokenRecord, Client, ClientType, CodeRecord, Consent, LoginSession, ResponseType, User};
use crate::params::{Params, append_params};
use crate::pkce::{PkceMethod, is_valid_pkce_string};
use crate::rand::{Random, ordered_token};
use crate::scope::{Scope, ScopeRegistry, ScopeView};
use crate::secret::AuthorizationCode;
use crate::time::UnixTime;

/// Where a response travels back to the client (OAuth 2.0 Multiple Response
/// Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query.
    Query,
    /// Parameters in the redirect URI's fragment.
    Fragment,
    /// An auto-submitting HTML form that POSTs the parameters.
    FormPost,
}

impl ResponseMode {
    /// Every response mode this provider delivers.
    pub const ALL: [ResponseMode; 3] = [ResponseMode::Query, ResponseMode::Fragment, ResponseMode::FormPost];

    /// The `response_mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::Fragment => "fragment",
            ResponseMode::FormPost => "form_post",
        }
    }
}

/// The `display` values the authorization endpoint accepts (OIDC Core §3.1.2.1).
pub const DISPLAY_VALUES: [&str; 4] = ["page", "popup", "touch", "wap"];

/// A response to send back to the client's redirect_uri.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// The registered redirect_uri.
    pub redirect_uri: String,
    /// How to deliver the parameters.
    pub mode: ResponseMode,
    /// The response parameters, in order.
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The URL to redirect to, for the query and fragment modes.
    pub fn location(&self) -> String {
        let pairs: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        append_params(&self.redirect_uri, &pairs, self.mode == ResponseMode::Fragment)
    }
}

/// Why an authorization request cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthzError {
    /// The client or redirect_uri cannot be trusted: show an error page, never redirect.
    ErrorPage(OAuthError),
    /// Return the error to the client's redirect_uri.
    Redirect(AuthorizationResponse),
}

impl AuthzError {
    /// The error carried, for logs and tests.
    pub fn oauth(&self) -> OAuthError {
        match self {
            AuthzError::ErrorPage(e) => e.clone(),
            AuthzError::Redirect(r) => {
                let get = |n: &str| r.params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default();
                let code = crate::ErrorCode::ALL.iter().copied().find(|c| c.as_str() == get("error"));
                OAuthError::new(code.unwrap_or(ErrorCode::ServerError), get("error_description"))
            }
        }
    }
}

/// The `prompt` parameter (OpenID Connect Core 1.0 §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no user interaction is allowed.
    pub none: bool,
    /// `login`: the user must authenticate again.
    pub login: bool,
    /// `consent`: the user must be asked for consent.
    pub consent: bool,
    /// `select_account`: the user may pick an account.
    pub select_account: bool,
}

impl Prompt {
    fn parse(s: Option<&str>) -> Result<Prompt, String> {
        let mut p = Prompt::default();
        for word in crate::params::words("prompt", s.unwrap_or(""))? {
            match word {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                other => return Err(format!("unknown prompt value '{other}'")),
            }
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err("prompt=none cannot be combined with other values (OIDC Core §3.1.2.1)".into());
        }
        Ok(p)
    }
}

/// A decoded parameter.
type Pair = (String, String);

/// A request parsed from its parameters, before its client is known.
#[derive(Clone, Debug)]
pub struct Received {
    params: Params,
    client_id: String,
    /// Every `resource` parameter (RFC 8707 §2, which lets it repeat).
    resources: Vec<String>,
}

/// Parses the parameters of an authorization request (GET query or POST form,
/// OIDC Core §3.1.2.1). Unknown parameters are kept and ignored.
pub fn parse<I, K, V>(pairs: I) -> Result<Received, AuthzError>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let (resources, pairs): (Vec<Pair>, Vec<Pair>) =
        pairs.into_iter().map(|(k, v)| (k.into(), v.into())).partition(|(k, _)| k == "resource");
    let params = Params::from_pairs(pairs).map_err(AuthzError::ErrorPage)?;
    let Some(client_id) = params.get("client_id").map(str::to_owned) else {
        return Err(AuthzError::ErrorPage(OAuthError::invalid_request("the client_id parameter is missing")));
    };
    let resources = resources.into_iter().map(|(_, v)| v).filter(|v| !v.is_empty()).collect();
    Ok(Received { params, client_id, resources })
}

impl Received {
    /// The client_id the request names; the adapter fetches this client.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Takes the `request_uri` parameter (OIDC Core §6.2), for the adapter to
    /// fetch; it then hands the fetched request object to [`Received::set_request`].
    /// Both `request` and `request_uri` at once is `invalid_request`.
    pub fn take_request_uri(&mut self) -> Result<Option<String>, OAuthError> {
        if self.params.get("request").is_some() && self.params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request(
                "request and request_uri cannot both be sent (OIDC Core Section 6)",
            ));
        }
        Ok(self.params.take("request_uri"))
    }

    /// Whether the request carries a request object.
    pub fn has_request(&self) -> bool {
        self.params.get("request").is_some()
    }

    /// Sets the request object fetched from a `request_uri`.
    pub fn set_request(&mut self, jwt: String) {
        self.params.insert("request", jwt);
    }

    /// Checks the request against its client (`None` when no such client
    /// exists). `issuer` is the realm's issuer, returned as `iss` (RFC 9207).
    /// `registry` holds the scopes the realm knows.
    pub fn with_client(
        self,
        client: Option<&Client>,
        issuer: &str,
        registry: &ScopeRegistry,
        now: UnixTime,
    ) -> Result<Validated, AuthzError> {
        let Some(client) = client else {
            return Err(AuthzError::ErrorPage(OAuthError::invalid_client(format!(
                "unknown client_id '{}'",
                self.client_id
            ))));
        };
        if !client.enabled {
            return Err(AuthzError::ErrorPage(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client is disabled",
            )));
        }
        // OIDC Core §6.1: a request object's parameters replace the query's. If it
        // does not verify, the error goes to the query's redirect_uri when that is
        // registered (OIDC Core §3.1.2.6), else to an error page.
        let mut this = self;
        let mut request_object_jti = None;
        if let Some(jwt) = this.params.take("request") {
            let query = this.params.clone();
            request_object_jti = merge_request_object(&mut this.params, &jwt, client, issuer, now)
                .map_err(|e| error_for(&query, client, issuer, e))?;
        }
        let p = &this.params;
        // OIDC Core §3.1.2.1: redirect_uri is REQUIRED and must exactly match a registered value.
        let Some(redirect_uri) = p.get("redirect_uri") else {
            return Err(AuthzError::ErrorPage(OAuthError::invalid_request("the redirect_uri parameter is missing")));
        };
        if !client.has_redirect_uri(redirect_uri) {
            return Err(AuthzError::ErrorPage(OAuthError::invalid_request(
                "redirect_uri is not registered for this client",
            )));
        }
        let redirect_uri = redirect_uri.to_owned();
        let state = p.get("state").map(str::to_owned);

        // From here on, errors go back to the (now trusted) redirect_uri.
        let response_type = p.get("response_type").map(str::parse::<ResponseType>);
        let mode_param = p.get("response_mode");
        // OAuth 2.0 Multiple Response Type Encoding Practices §5: the default
        // mode is query for `code` and fragment for every type returning tokens.
        let default_mode = match response_type {
            Some(Ok(ResponseType::Code)) | None => ResponseMode::Query,
            Some(Ok(_)) => ResponseMode::Fragment,
            // An unsupported type that asks for tokens (such as OAuth's bare `token`) is
            // answered as a token response would be.
            Some(Err(_)) => {
                let raw = p.get("response_type").unwrap_or("");
                if raw.split(' ').any(|w| w == "token" || w == "id_token") {
                    ResponseMode::Fragment
                } else {
                    ResponseMode::Query
                }
            }
        };
        let mode = match mode_param {
            Some("query") if default_mode == ResponseMode::Query => ResponseMode::Query,
            Some("fragment") => ResponseMode::Fragment,
            Some("form_post") => ResponseMode::FormPost,
            _ => default_mode,
        };
        let fail = |code: ErrorCode, desc: String| {
            let mut params = vec![
                ("error".to_owned(), code.as_str().to_owned()),
                ("error_description".to_owned(), crate::error::description_text(&desc)),
            ];
            if let Some(s) = &state {
                params.push(("state".to_owned(), s.clone()));
            }
            params.push(("iss".to_owned(), issuer.to_owned()));
            AuthzError::Redirect(AuthorizationResponse { redirect_uri: redirect_uri.clone(), mode, params })
        };

        if let Some(m) = mode_param
            && !matches!(m, "query" | "fragment" | "form_post")
        {
            return Err(fail(ErrorCode::InvalidRequest, format!("unsupported response_mode '{m}'")));
        }
        let response_type = match response_type {
            None => return Err(fail(ErrorCode::InvalidRequest, "the response_type parameter is missing".into())),
            Some(Err(e)) => return Err(fail(ErrorCode::UnsupportedResponseType, e)),
            Some(Ok(rt)) => rt,
        };
        // Multiple Response Type Encoding Practices §2.1 and §5, RFC 9700 §4.3.2:
        // tokens never travel in a query string.
        if mode_param == Some("query") && response_type != ResponseType::Code {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("response_mode=query cannot carry the tokens of response_type '{}'", response_type.as_str()),
            ));
        }
        if response_type.has_id_token() && client.jwt_alg == crate::model::JwtAlg::None {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "this client's id_tokens are unsigned, which is only allowed from the token endpoint".into(),
            ));
        }
        if !client.allows_response_type(response_type) {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use response_type '{}'", response_type.as_str()),
            ));
        }
        // OIDC Core §6.2 and §7.2.1: request_uri and the registration parameter are not supported yet.
        if p.get("request_uri").is_some() {
            return Err(fail(ErrorCode::RequestUriNotSupported, "request_uri is not supported".into()));
        }
        if p.get("registration").is_some() {
            return Err(fail(
                ErrorCode::RegistrationNotSupported,
                "the registration parameter is not supported".into(),
            ));
        }
        // OIDC Core §3.2.2.1 and §3.3.2.11 (with errata): an id_token from the
        // authorization endpoint needs a nonce, against replay.
        if response_type.has_id_token() && p.get("nonce").is_none() {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("nonce is required for response_type '{}' (OIDC Core §3.2.2.1)", response_type.as_str()),
            ));
        }
        let requested = match Scope::parse(p.get("scope").unwrap_or("")) {
            Ok(s) => s,
            Err(e) => return Err(fail(ErrorCode::InvalidScope, e)),
        };
        if requested.is_empty() {
            return Err(fail(ErrorCode::InvalidScope, "the scope parameter is missing".into()));
        }
        // RFC 6749 §3.3: scopes the client may not have are left out; scopes
        // nobody defined are ignored.
        let mut scope = requested.filter(|s| registry.is_known(s) && client.allows_scope(s));
        // Keycloak's default client scopes: granted whenever the client asks for openid.
        if scope.contains("openid") && !client.default_scopes.is_empty() {
            let defaults = Scope::from_tokens(client.default_scopes.iter().filter(|s| registry.is_known(s)).cloned());
            scope = scope.union(&defaults);
        }
        if scope.is_empty() {
            return Err(fail(
                ErrorCode::InvalidScope,
                "none of the requested scopes is allowed for this client".into(),
            ));
        }
        // OIDC Core §3.1.2.1: an id_token is only issued to OpenID Connect requests.
        if response_type.has_id_token() && !scope.contains("openid") {
            return Err(fail(
                ErrorCode::InvalidScope,
                format!("response_type '{}' needs the openid scope", response_type.as_str()),
            ));
        }
        // RFC 8707 §2: each resource is an absolute URI without a fragment; they
        // become the audience of the tokens of this grant.
        if this.resources.len() > MAX_RESOURCES {
            return Err(fail(ErrorCode::InvalidTarget, format!("at most {MAX_RESOURCES} resource parameters")));
        }
        for r in &this.resources {
            let ok = crate::uri::parse(r).is_ok_and(|u| u.host().is_some() || u.scheme() == "urn") && !r.contains('#');
            if !ok {
                return Err(fail(
                    ErrorCode::InvalidTarget,
                    format!(
                        "resource '{}' must be an absolute URI without a fragment (RFC 8707 Section 2)",
                        crate::error::shorten(r)
                    ),
                ));
            }
        }
        let acr_values = match p.get("acr_values").map(|a| crate::params::words("acr_values", a)).transpose() {
            Ok(a) => a.map(|w| w.into_iter().map(str::to_owned).collect()),
            Err(e) => return Err(fail(ErrorCode::InvalidRequest, e)),
        };
        for name in ["ui_locales", "claims_locales"] {
            if let Some(Err(e)) = p.get(name).map(|v| crate::params::words(name, v)) {
                return Err(fail(ErrorCode::InvalidRequest, e));
            }
        }
        let prompt = match Prompt::parse(p.get("prompt")) {
            Ok(pr) => pr,
            Err(e) => return Err(fail(ErrorCode::InvalidRequest, e)),
        };
        // OIDC Core §5.5: individual claims; a malformed request is invalid_request.
        let claims_request = match p.get("claims").map(ClaimsRequest::parse).transpose() {
            Ok(c) => c.filter(|c| !c.is_empty()),
            Err(e) => return Err(fail(e.code, e.description)),
        };
        if let Some(d) = p.get("display")
            && !DISPLAY_VALUES.contains(&d)
        {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("unknown display value '{}' (OIDC Core §3.1.2.1)", crate::error::shorten(d)),
            ));
        }
        // OIDC Registration §2: default_max_age applies when the request sends none.
        let max_age = match p.get("max_age").map(str::parse::<i64>) {
            None => client.default_max_age,
            Some(Ok(n)) if n >= 0 => Some(n),
            Some(_) => return Err(fail(ErrorCode::InvalidRequest, "max_age must be a non-negative integer".into())),
        };
        // PKCE (RFC 7636 §4.3, §4.4.1); required for public clients (RFC 8252 §8.1, RFC 9700 §2.1.1).
        let code_challenge = p.get("code_challenge").map(str::to_owned);
        let code_challenge_method = match (p.get("code_challenge_method"), &code_challenge) {
            (Some(_), None) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method was sent without code_challenge".into(),
                ));
            }
            (m, Some(c)) => {
                if !is_valid_pkce_string(c) {
                    return Err(fail(ErrorCode::InvalidRequest, "code_challenge is malformed (RFC 7636 §4.2)".into()));
                }
                // RFC 7636 §4.3: an omitted method means plain. RFC 9700 §2.1.1: S256
                // is required unless a client is configured for plain (Keycloak's
                // pkce.code.challenge.method = plain), which then may use only that.
                match m.unwrap_or("plain").parse::<PkceMethod>() {
                    Ok(PkceMethod::Plain) if client.pkce_method != Some(PkceMethod::Plain) => {
                        return Err(fail(
                            ErrorCode::InvalidRequest,
                            "code_challenge_method must be S256; plain is accepted only from clients configured for it (RFC 9700 Section 2.1.1)".into(),
                        ));
                    }
                    Ok(m) => Some(m),
                    Err(e) => return Err(fail(e.code, e.description)),
                }
            }
            (None, None) => None,
        };
        if response_type.has_code() && client.client_type == ClientType::Public && code_challenge.is_none() {
            return Err(fail(ErrorCode::InvalidRequest, "PKCE (code_challenge) is required for public clients".into()));
        }
        // A client configured with a PKCE method (Keycloak's pkce.code.challenge.method)
        // must use exactly that method whenever a code is issued (RFC 7636 §4.3).
        if let Some(required) = client.pkce_method
            && response_type.has_code()
            && code_challenge_method != Some(required)
        {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("this client must use PKCE with code_challenge_method {} (RFC 7636 §4.3)", required.as_str()),
            ));
        }
        Ok(Validated {
            issuer: issuer.to_owned(),
            client_id: client.client_id.clone(),
            redirect_uri,
            response_type,
            mode,
            scope,
            state,
            nonce: p.get("nonce").map(str::to_owned),
            prompt,
            max_age,
            code_challenge,
            code_challenge_method,
            login_hint: p.get("login_hint").map(str::to_owned),
            ui_locales: p.get("ui_locales").map(str::to_owned),
            id_token_hint: p.get("id_token_hint").map(str::to_owned),
            acr_values,
            display: p.get("display").map(str::to_owned),
            claims_locales: p.get("claims_locales").map(str::to_owned),
            claims: claims_request,
            request_object_jti,
            resources: crate::scope::Scope::from_tokens(this.resources.iter().cloned())
                .iter()
                .map(str::to_owned)
                .collect(),
            params: this.params,
        })
    }

    /// The error `e` as the client should get it: at the query's redirect_uri
    /// when it is registered for `client` (OIDC Core §3.1.2.6), else as an error
    /// page. For failures the adapter meets after parsing, such as a
    /// `request_uri` that cannot be fetched (OIDC Core §6.2).
    pub fn error_for_client(&self, client: &Client, issuer: &str, e: OAuthError) -> AuthzError {
        error_for(&self.params, client, issuer, e)
    }
}

/// `e` sent to the redirect_uri of `params` if it is registered for `client`,
/// with the request's state, in the response mode its response type asks for;
/// otherwise an error page.
fn error_for(params: &Params, client: &Client, issuer: &str, e: OAuthError) -> AuthzError {
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| client.has_redirect_uri(r)) else {
        return AuthzError::ErrorPage(e);
    };
    let tokens = params.get("response_type").is_some_and(|t| t.split(' ').any(|w| w == "token" || w == "id_token"));
    let mode = match params.get("response_mode") {
        Some("form_post") => ResponseMode::FormPost,
        Some("query") if !tokens => ResponseMode::Query,
        _ if tokens => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let mut out = vec![
        ("error".to_owned(), e.code.as_str().to_owned()),
        ("error_description".to_owned(), crate::error::description_text(&e.description)),
    ];
    if let Some(s) = params.get("state") {
        out.push(("state".to_owned(), s.to_owned()));
    }
    out.push(("iss".to_owned(), issuer.to_owned()));
    AuthzError::Redirect(AuthorizationResponse { redirect_uri: redirect_uri.to_owned(), mode, params: out })
}

/// The most resource indicators one request may name.
const MAX_RESOURCES: usize = 10;

/// How far a request object's `nbf` and `iat` may be ahead of the provider's clock.
const CLOCK_SKEW: i64 = 60;
/// How long a request object without `exp` counts as seen, for replay detection.
const REQUEST_OBJECT_MEMORY: i64 = 3600;

/// Verifies a request object (OIDC Core §6.1) and puts its claims into
/// `params`, where they take precedence. It may be unsigned (`alg` `none`),
/// signed with one of the client's keys, or HS256 with its secret. Its
/// `client_id` and `response_type`, if present, must match the query's; `iss`,
/// if present, must be the client and `aud` the issuer; `exp`, `nbf` and `iat`,
/// if present, must hold at `now` (RFC 9101 §10.2, RFC 7519 §4.1). Returns its
/// `jti` and until when to remember it, so that the adapter refuses replays.
fn merge_request_object(
    params: &mut Params,
    jwt: &str,
    client: &Client,
    issuer: &str,
    now: UnixTime,
) -> Result<Option<(String, UnixTime)>, OAuthError> {
    let bad = |why: &str| OAuthError::new(ErrorCode::InvalidRequestObject, format!("request object: {why}"));
    let mut parts = jwt.split('.');
    let (Some(h), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad("not a compact JWT"));
    };
    let header: serde_json::Value = crate::jose::b64_decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("the header is not JSON"))?;
    let claims: serde_json::Map<String, serde_json::Value> =
        if header.get("alg").and_then(|a| a.as_str()) == Some("none") {
            if !sig.is_empty() {
                return Err(bad("an unsigned request object has no signature"));
            }
            crate::jose::b64_decode(payload)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| bad("the payload is not a JSON object"))?
        } else {
            let mut keys = client.verify_keys();
            if let Some(s) = &client.client_secret {
                keys.push(crate::jose::VerifyKey::Hmac(s.secret().as_bytes().to_vec()));
            }
            crate::jose::verify(jwt, &crate::jose::ALL_ALGS, &keys).map_err(|e| bad(&e.to_string()))?.claims
        };
    let text = |n: &str| claims.get(n).and_then(|v| v.as_str());
    if text("client_id").is_some_and(|c| c != client.client_id) {
        return Err(bad("client_id differs from the request's"));
    }
    if let (Some(inside), Some(outside)) = (text("response_type"), params.get("response_type"))
        && inside != outside
    {
        return Err(bad("response_type differs from the request's"));
    }
    if text("iss").is_some_and(|i| i != client.client_id) {
        return Err(bad("iss must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        None => true,
        Some(serde_json::Value::String(a)) => a == issuer,
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(issuer)),
        Some(_) => false,
    };
    if !aud_ok {
        return Err(bad("aud must be this provider's issuer"));
    }
    let number = |n: &str| claims.get(n).map(|v| v.as_i64().ok_or_else(|| bad(&format!("{n} must be a number"))));
    let exp = number("exp").transpose()?;
    if exp.is_some_and(|e| now.secs() >= e) {
        return Err(bad("it has expired (exp)"));
    }
    if number("nbf").transpose()?.is_some_and(|n| now.secs() + CLOCK_SKEW < n) {
        return Err(bad("it is not valid yet (nbf)"));
    }
    if number("iat").transpose()?.is_some_and(|i| now.secs() + CLOCK_SKEW < i) {
        return Err(bad("it was issued in the future (iat)"));
    }
    let jti = match claims.get("jti") {
        None => None,
        Some(serde_json::Value::String(j)) if !j.is_empty() && j.len() <= 256 => {
            let until = exp.map_or(now.plus(REQUEST_OBJECT_MEMORY), |e| {
                UnixTime(e.min(now.plus(REQUEST_OBJECT_MEMORY * 24).secs()))
            });
            Some((j.clone(), until))
        }
        Some(_) => return Err(bad("jti must be a string of at most 256 characters")),
    };
    for (k, v) in claims {
        if matches!(k.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "request" | "request_uri") {
            continue;
        }
        let value = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        params.insert(k, value);
    }
    Ok(jti)
}

/// A request checked against its client: the redirect_uri is trusted.
#[derive(Clone, Debug)]
pub struct Validated {
    issuer: String,
    /// The client.
    pub client_id: String,
    /// The registered redirect_uri the response goes to.
    pub redirect_uri: String,
    /// The response type.
    pub response_type: ResponseType,
    /// How the response is delivered.
    pub mode: ResponseMode,
    /// The scope to grant: the requested scopes the client may have.
    pub scope: Scope,
    /// `state`, returned unchanged.
    pub state: Option<String>,
    /// `nonce`, put in the id_token.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method.
    pub code_challenge_method: Option<PkceMethod>,
    /// `login_hint`, to prefill the username.
    pub login_hint: Option<String>,
    /// `ui_locales`, passed to the templates (OIDC Core §3.1.2.1).
    pub ui_locales: Option<String>,
    /// `id_token_hint`: a previously issued id_token naming the expected user.
    pub id_token_hint: Option<String>,
    /// `acr_values`, in order of preference.
    pub acr_values: Option<Vec<String>>,
    /// `display` (page, popup, touch, wap), passed to the templates.
    pub display: Option<String>,
    /// `claims_locales`, passed to claim sources.
    pub claims_locales: Option<String>,
    /// The `claims` parameter (OIDC Core §5.5).
    pub claims: Option<ClaimsRequest>,
    /// The `jti` of the request object and until when to remember it (RFC 9101
    /// §10.2): the adapter refuses a second request with the same one.
    pub request_object_jti: Option<(String, UnixTime)>,
    /// The resource indicators (RFC 8707 §2), without duplicates: the
    /// audience of the tokens issued for this request.
    pub resources: Vec<String>,
    params: Params,
}

/// What the authorization endpoint does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The user must log in (no session, `prompt=login`, or `max_age` exceeded).
    Login,
    /// The user must be asked for consent to these scopes.
    Consent,
    /// Issue the response now.
    Issue,
    /// Answer with an error (`prompt=none` and interaction was needed).
    Error(AuthzError),
}

impl Validated {
    /// An error response for this request, to the client's redirect_uri.
    pub fn error(&self, code: ErrorCode, description: impl Into<String>) -> AuthzError {
        let mut params = vec![
            ("error".to_owned(), code.as_str().to_owned()),
            ("error_description".to_owned(), crate::error::description_text(&description.into())),
        ];
        if let Some(s) = &self.state {
            params.push(("state".to_owned(), s.clone()));
        }
        params.push(("iss".to_owned(), self.issuer.clone()));
        AuthzError::Redirect(AuthorizationResponse { redirect_uri: self.redirect_uri.clone(), mode: self.mode, params })
    }

    /// The request's parameters, to carry through the login and consent forms.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter()
    }

    /// The request's parameters for resuming after a login: `prompt=login` is
    /// satisfied by the login that just happened, so it is removed.
    pub fn params_after_login(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in self.params.iter() {
            if k == "prompt" {
                let rest: Vec<&str> = v.split(' ').filter(|w| !w.is_empty() && *w != "login").collect();
                if !rest.is_empty() {
                    out.push((k.to_owned(), rest.join(" ")));
                }
            } else {
                out.push((k.to_owned(), v.to_owned()));
            }
        }
        out.extend(self.resources.iter().map(|r| ("resource".to_owned(), r.clone())));
        out.sort();
        out
    }

    /// Decides the next step from the login session (with whether its user
    /// is active) and the consent on record. `hint_matches` is false when an
    /// `id_token_hint` names another user than the session's (OIDC Core §3.1.2.2).
    pub fn decide(
        &self,
        client: &Client,
        session: Option<&LoginSession>,
        user_active: bool,
        consent: Option<&Consent>,
        hint_matches: bool,
        now: UnixTime,
    ) -> Decision {
        let fresh_enough = |s: &LoginSession| self.max_age.is_none_or(|m| now.secs() - s.auth_time.secs() <= m);
        let logged_in = session.is_some_and(|s| user_active && fresh_enough(s)) && hint_matches;
        if !logged_in || self.prompt.login || self.prompt.select_account {
            if self.prompt.none {
                let why = if hint_matches {
                    "the user is not logged in"
                } else {
                    "the user of id_token_hint is not logged in"
                };
                return Decision::Error(self.error(ErrorCode::LoginRequired, why));
            }
            return Decision::Login;
        }
        if self.prompt.consent || self.needs_consent(client, consent, now) {
            if self.prompt.none {
                return Decision::Error(self.error(ErrorCode::ConsentRequired, "the user has not consented"));
            }
            return Decision::Consent;
        }
        Decision::Issue
    }

    /// django-oidc-provider's rule: a confidential client that does not
    /// require consent skips it; a client that reuses consent skips it while
    /// an unexpired consent covers the requested scope.
    fn needs_consent(&self, client: &Client, consent: Option<&Consent>, now: UnixTime) -> bool {
        if !client.require_consent && client.client_type == ClientType::Confidential {
            return false;
        }
        !(client.reuse_consent && consent.is_some_and(|c| c.covers(&self.scope, now)))
    }

    /// The scopes to show on the consent page, with names and descriptions.
    pub fn consent_views(&self, registry: &ScopeRegistry) -> Vec<ScopeView> {
        registry.consent_views(&self.scope)
    }

    /// The consent to record when the user allows (for a client that reuses consent).
    pub fn consent(&self, realm: &str, user_id: &str, now: UnixTime, settings: &Settings) -> Consent {
        Consent {
            realm: realm.to_owned(),
            user_id: user_id.to_owned(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            given_at: now,
            expires_at: now.plus(settings.consent_lifetime),
        }
    }

    /// The user declined: `access_denied` (RFC 6749 §4.1.2.1).
    pub fn declined(&self) -> AuthzError {
        self.error(ErrorCode::AccessDenied, "the user declined the request")
    }

    /// Issues the response of the request's `response_type` for the
    /// session's user: a code (RFC 6749 §4.1.2), an access token (RFC 6749
    /// §4.2.2, never a refresh token) and an id_token (OIDC Core §3.2.2.5,
    /// §3.3.2.5), with the records to store.
    pub fn issue(&self, input: &IssueInput<'_>, rng: &dyn Random) -> Result<AuthzIssued, AuthzError> {
        let IssueInput { realm, client, user, subject, session, keys, settings, now, registry, hooks, roles } = *input;
        let acr = self.acr().map(str::to_owned);
        let claims_json = self.claims.as_ref().map(ClaimsRequest::to_json);
        if !user.active || user.id != session.user_id {
            return Err(self.error(ErrorCode::LoginRequired, "the user is no longer active"));
        }
        let rt = self.response_type;
        let grant_id = crate::rand::grant_id(rng, now);
        let mut params: Vec<(String, String)> = Vec::new();
        let mut code_record = None;
        let mut code_value = None;
        if rt.has_code() {
            let code = AuthorizationCode::new(ordered_token(rng, now));
            code_record = Some(CodeRecord {
                digest: code.digest(),
                realm: realm.to_owned(),
                client_id: self.client_id.clone(),
                user_id: session.user_id.clone(),
                redirect_uri: self.redirect_uri.clone(),
                scope: self.scope.clone(),
                nonce: self.nonce.clone(),
                code_challenge: self.code_challenge.clone(),
                code_challenge_method: self.code_challenge_method,
                auth_time: session.auth_time,
                session_id: Some(session.id.clone()),
                expires_at: now.plus(settings.code_lifetime),
                grant_id: grant_id.clone(),
                acr: acr.clone(),
                claims: claims_json.clone(),
                resources: self.resources.clone(),
            });
            params.push(("code".to_owned(), code.secret().to_owned()));
            code_value = Some(code);
        }
        let mut access_record = None;
        let mut access_value = None;
        if rt.has_token() {
            let minted = crate::access_token::mint(
                &crate::access_token::AccessTokenInput {
                    realm,
                    issuer: &self.issuer,
                    keys,
                    client,
                    user: Some(user),
                    subject: Some(subject),
                    scope: &self.scope,
                    grant_id: &grant_id,
                    session_id: Some(&session.id),
                    auth_time: Some(session.auth_time),
                    claims: claims_json.as_deref(),
                    audience: &self.resources,
                    registry,
                    settings,
                    roles,
                    now,
                },
                rng,
            )
            .map_err(|e| self.error(e.code, e.description))?;
            let at = minted.value;
            access_record = Some(minted.record);
            params.push(("access_token".to_owned(), at.secret().to_owned()));
            params.push(("token_type".to_owned(), "Bearer".to_owned()));
            params.push(("expires_in".to_owned(), minted.expires_in.to_string()));
            access_value = Some(at);
        }
        if rt.has_id_token() {
            // OIDC Core §5.4: without an access token, the scope's claims go in the id_token;
            // §5.5: claims asked for in the id_token always do.
            let mut names: Vec<&str> = Vec::new();
            if !rt.has_token() || settings.idtoken_include_claims {
                names = registry.claims_of(&self.scope);
            }
            let requested = self.claims.as_ref().map(ClaimsRequest::id_token_names).unwrap_or_default();
            let names = crate::userinfo::released_extra(registry, names, &requested);
            let mut extra = crate::userinfo::claims_for(user, subject, &names);
            // Keycloak's `roles` client scope: realm_access.roles within the client's role scope.
            crate::roles::add_realm_access(&mut extra, &self.scope, roles, client);
            let mut claims = idtoken::claims(&IdTokenInput {
                issuer: &self.issuer,
                subject,
                client,
                auth_time: session.auth_time,
                nonce: self.nonce.as_deref(),
                access_token: access_value.as_ref().map(|a| a.secret()),
                code: code_value.as_ref().map(|c| c.secret()),
                session_id: Some(&session.id),
                acr: acr.as_deref(),
                amr: &["pwd"],
                extra: Some(&extra),
                now,
                lifetime: settings.id_token_lifetime,
            });
            hooks.process_id_token(&mut claims, user, client, &self.scope);
            let jwt = idtoken::sign(&claims, client, keys).map_err(|e| self.error(e.code, e.description))?;
            params.push(("id_token".to_owned(), jwt));
        }
        if let Some(s) = &self.state {
            params.push(("state".to_owned(), s.clone()));
        }
        // RFC 9207 §2: the issuer identifies the responding authorization server.
        params.push(("iss".to_owned(), self.issuer.clone()));
        let response = AuthorizationResponse { redirect_uri: self.redirect_uri.clone(), mode: self.mode, params };
        Ok(AuthzIssued { code: code_record, access_token: access_record, response })
    }

    /// The subject named by `id_token_hint`, which must be an id_token this
    /// realm issued to this client; its expiry does not matter (OIDC Core
    /// §3.1.2.1: "the OP need not be listed as an audience ... when it is
    /// used as an id_token_hint", and an expired token still names its user).
    /// `Ok(None)` without a hint.
    pub fn hint_subject(&self, keys: &KeySet, client: &Client) -> Result<Option<String>, AuthzError> {
        let Some(hint) = &self.id_token_hint else { return Ok(None) };
        idtoken::verify_hint(hint, keys, client, &self.issuer)
            .map(|h| Some(h.subject))
            .map_err(|why| self.error(ErrorCode::InvalidRequest, format!("id_token_hint {why}")))
    }

    /// The `acr` to put in the id_token: only when the client asked, with
    /// `acr_values` (OIDC Core §3.1.2.1) or the `claims` parameter (§5.5.1.1);
    /// a password login is level `1`.
    fn acr(&self) -> Option<&'static str> {
        (self.acr_values.is_some() || self.claims.as_ref().is_some_and(|c| c.acr().is_some())).then_some("1")
    }
}

/// What [`Validated::issue`] needs besides the request.
#[derive(Clone, Copy, Debug)]
pub struct IssueInput<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The client.
    pub client: &'a Client,
    /// The session's user.
    pub user: &'a User,
    /// The user's subject identifier for this client.
    pub subject: &'a str,
    /// The login session.
    pub session: &'a LoginSession,
    /// The realm's keys.
    pub keys: &'a KeySet,
    /// Lifetimes and switches.
    pub settings: &'a Settings,
    /// Now.
    pub now: UnixTime,
    /// The scopes the realm knows.
    pub registry: &'a ScopeRegistry,
    /// The id_token hooks.
    pub hooks: &'a Hooks,
    /// The user's realm roles; the adapter may leave them out when the
    /// request has no `roles` scope, as nothing reads them then.
    pub roles: &'a [String],
}

/// An authorization response with the records to store before sending it.
#[derive(Debug)]
pub struct AuthzIssued {
    /// The code to store, for response types with `code`.
    pub code: Option<CodeRecord>,
    /// The access token to store, for response types with `token`.
    pub access_token: Option<AccessTokenRecord>,
    /// The response to deliver.
    pub response: AuthorizationResponse,
}

#[cfg(test)]
pub(crate) mod tests;
