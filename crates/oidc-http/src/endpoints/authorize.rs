//! The authorization endpoint and its login and consent forms (OIDC Core §3.1.2).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::COOKIE;
use hyper::{HeaderMap, Method, Request, StatusCode};
use minijinja::{Value, context};
use oidc_core::OAuthError;
use oidc_core::authorize::{self, AuthorizationResponse, AuthzError, Decision, IssueInput, ResponseMode, Validated};
use oidc_core::hooks::{AfterLogin, ConsentEvent};
use oidc_core::ids::RealmName;
use oidc_core::model::{Client, LoginSession, User};
use oidc_core::params::form_urlencode;
use oidc_core::password::{self, Verified};
use oidc_core::rand::token;
use oidc_core::repo::RoleHolder;
use oidc_core::sealed::SealKey;
use oidc_core::secret::{Digest, Password, SessionToken, ct_eq};

use super::{error_page, page, storage_failed};
use crate::app::{App, RealmState};
use crate::cookies;
use crate::guard::{self, PasswordCheck, PeerAddr};
use crate::request::{self, header};
use crate::response::{self, Resp};

/// The cookies' path: the realm's URLs.
pub(super) fn realm_path(app: &App, realm: &RealmState) -> String {
    format!("{}/realms/{}/", app.config.base_url_path(), realm.realm.name)
}

/// The absolute URL of the realm's `rest`.
pub(super) fn realm_url(app: &App, realm: &RealmState, rest: &str) -> String {
    format!("{}/realms/{}/{rest}", app.config.base_url, realm.realm.name)
}

/// `GET` or `POST /realms/{realm}/protocol/openid-connect/auth`.
pub(crate) async fn authorize(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    // OIDC Core §3.1.2.1: GET with a query, or POST with a form.
    let pairs = match request::query_or_form(&parts, body).await {
        Ok(p) => p,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string())),
    };
    let (client, validated) = match validate(app, realm, pairs).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    resume(app, realm, &parts.headers, &client, &validated, false).await
}

/// Parses and validates an authorization request against its client.
async fn validate(
    app: &App,
    realm: &RealmState,
    pairs: Vec<(String, String)>,
) -> Result<(Arc<Client>, Validated), Resp> {
    let mut received = authorize::parse(pairs).map_err(|e| authz_error(app, realm, &e, false))?;
    let client = match app.client(&realm.realm.name, received.client_id()).await {
        Ok(c) => c,
        Err(e) => return Err(storage_failed(app, realm, &e)),
    };
    // OIDC Core §6.2: a request object by reference, fetched only for a known client;
    // once the client is known, a failure goes to its registered redirect_uri (§3.1.2.6).
    if let Some(c) = client.as_deref() {
        let fail = |received: &authorize::Received, e: OAuthError| {
            authz_error(app, realm, &received.error_for_client(c, &realm.issuer, e), false)
        };
        match received.take_request_uri() {
            Err(e) => return Err(fail(&received, e)),
            Ok(None) => {}
            Ok(Some(uri)) => {
                let requester = format!("client '{}' of realm '{}'", c.client_id, realm.realm.name);
                match app.fetcher.get(&uri, &requester).await {
                    Ok(body) => match String::from_utf8(body.to_vec()) {
                        Ok(jwt) => received.set_request(jwt.trim().to_owned()),
                        Err(_) => {
                            let e = OAuthError::new(oidc_core::ErrorCode::InvalidRequestUri, "request_uri: not text");
                            return Err(fail(&received, e));
                        }
                    },
                    Err(e) => {
                        let e = OAuthError::new(oidc_core::ErrorCode::InvalidRequestUri, format!("request_uri: {e}"));
                        return Err(fail(&received, e));
                    }
                }
            }
        }
    }
    // A signed request object may need the client's keys from its jwks_uri, fetched
    // again once when they do not verify it (the client may have rotated them).
    let (keyed, just_fetched) = match client.as_deref() {
        Some(c) => {
            let (c, fetched) = app.with_client_keys(c, false).await;
            (Some(c), fetched)
        }
        None => (None, false),
    };
    let retry = received.clone();
    let now = app.clock.now();
    let validated = match received.with_client(keyed.as_ref(), &realm.issuer, &app.config.scopes, now) {
        Ok(v) => v,
        Err(e) => match client
            .as_deref()
            .filter(|c| c.jwks_uri.is_some() && c.jwks.is_none() && retry.has_request() && !just_fetched)
        {
            Some(c) => {
                let (fresh, _) = app.with_client_keys(c, true).await;
                retry
                    .with_client(Some(&fresh), &realm.issuer, &app.config.scopes, now)
                    .map_err(|_| authz_error(app, realm, &e, false))?
            }
            None => return Err(authz_error(app, realm, &e, false)),
        },
    };
    // with_client succeeds only with a client.
    let Some(client) = client else {
        return Err(error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_client("unknown client")));
    };
    // RFC 9101 §10.2: a request object is used once within its lifetime.
    if let Some((jti, until)) = &validated.request_object_jti {
        let first = app
            .repos
            .use_once(realm.realm.name(), client.client_id(), &format!("request-object:{jti}"), *until, now)
            .await
            .map_err(|e| storage_failed(app, realm, &e))?;
        if !first {
            let e = validated.error(
                oidc_core::ErrorCode::InvalidRequestObject,
                "request object: this jti was already used (a replayed request)",
            );
            return Err(authz_error(app, realm, &e, false));
        }
    }
    Ok((client, validated))
}

/// Runs the state machine from the current session: login, consent, or issue.
async fn resume(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    client: &Client,
    v: &Validated,
    after_post: bool,
) -> Resp {
    let now = app.clock.now();
    let name = &realm.realm.name;
    // The session and its user in one read.
    let (session, user) = match cookies::get(header(headers, COOKIE), cookies::SESSION) {
        None => (None, None),
        Some(value) => match app.repos.session_with_user(RealmName::new(name), &Digest::of(value), now).await {
            Ok(Some((s, u))) => (Some(s), u),
            Ok(None) => (None, None),
            Err(e) => return storage_failed(app, realm, &e),
        },
    };
    let user_active = user.as_ref().is_some_and(|u| u.active);
    // OIDC Core §3.1.2.2: an id_token_hint must name the logged-in user.
    let hint_matches = match v.hint_subject(&realm.keys, client) {
        Ok(None) => true,
        Ok(Some(sub)) => user.as_ref().is_some_and(|u| app.subject(realm, u, client) == sub),
        Err(e) => return authz_error(app, realm, &e, after_post),
    };
    // A consent on record matters only to a client that asks for consent and reuses it.
    let consent_matters =
        client.reuse_consent && (client.require_consent || client.client_type == oidc_core::model::ClientType::Public);
    let consent = match (&session, consent_matters) {
        (Some(s), true) => match app.repos.consent(RealmName::new(name), s.user_id(), client.client_id()).await {
            Ok(c) => c,
            Err(e) => return storage_failed(app, realm, &e),
        },
        _ => None,
    };
    match v.decide(client, session.as_ref(), user_active, consent.as_ref(), hint_matches, now) {
        Decision::Login => login_page(app, realm, headers, client, v, None, StatusCode::OK),
        Decision::Consent => {
            let (Some(session), Some(user)) = (&session, &user) else {
                return login_page(app, realm, headers, client, v, None, StatusCode::OK);
            };
            // The client's privacy policy and terms pages.
            let links = policy_links(app, realm, client).await;
            consent_page(app, realm, headers, client, v, (&session.id, &user.username), &links)
        }
        Decision::Error(e) => authz_error(app, realm, &e, after_post),
        Decision::Issue => match (session, user) {
            (Some(s), Some(u)) => issue(app, realm, v, client, &s, &u, after_post).await,
            _ => login_page(app, realm, headers, client, v, None, StatusCode::OK),
        },
    }
}

/// Issues the response (code, tokens, id_token) and sends it to the client.
async fn issue(
    app: &App,
    realm: &RealmState,
    v: &Validated,
    client: &Client,
    session: &LoginSession,
    user: &User,
    after_post: bool,
) -> Resp {
    let sub = app.subject(realm, user, client);
    let roles = match app.roles_for(&realm.realm.name, &RoleHolder::User(user.id.clone()), &v.scope).await {
        Ok(r) => r,
        Err(e) => return storage_failed(app, realm, &e),
    };
    let input = IssueInput {
        realm: &realm.realm.name,
        client,
        user,
        subject: &sub,
        session,
        keys: &realm.keys,
        settings: &app.config.settings,
        now: app.clock.now(),
        registry: &app.config.scopes,
        hooks: &app.hooks,
        roles: &roles,
    };
    let mut issued = match v.issue(&input, app.rng.as_ref()) {
        Ok(i) => i,
        Err(e) => return authz_error(app, realm, &e, after_post),
    };
    let now = input.now;
    let name = &realm.realm.name;
    // Front-Channel Logout 1.0 §4 / Back-Channel Logout 1.0 §2.7: the session
    // remembers the clients it issued to, to notify exactly those at logout.
    if let Err(e) = app.add_session_client(name, &session.id, &client.client_id, now).await {
        return storage_failed(app, realm, &e);
    }
    // SSO Session Idle: each use extends the session, up to its maximum.
    if session.needs_touch(now) {
        let expires = LoginSession::expiry_after_use(session.auth_time, now, &app.config.settings);
        if let Err(e) = app.repos.touch_session(RealmName::new(name), &session.id, now, expires).await {
            return storage_failed(app, realm, &e);
        }
    }
    // Session Management 1.0 §3: session_state for the redirect URI's origin.
    if app.config.settings.session_management
        && let Some(origin) = oidc_core::session::origin(&v.redirect_uri)
    {
        let browser_state = oidc_core::session::browser_state(&realm.realm.secret_key, &session.id);
        let salt = token(app.rng.as_ref(), 12);
        let state = oidc_core::session::session_state(&client.client_id, &origin, &browser_state, &salt);
        issued.response.params.push(("session_state".to_owned(), state));
    }
    if let Some(code) = &issued.code
        && let Err(e) = app.repos.save_code(code).await
    {
        return storage_failed(app, realm, &e);
    }
    if let Some(at) = &issued.access_token
        && let Err(e) = app.repos.save_tokens(at, None).await
    {
        return storage_failed(app, realm, &e);
    }
    send(app, &issued.response, after_post)
}

/// Delivers an authorization response by its response mode.
fn send(app: &App, r: &AuthorizationResponse, after_post: bool) -> Resp {
    match r.mode {
        ResponseMode::Query | ResponseMode::Fragment => response::redirect(&r.location(), after_post),
        ResponseMode::FormPost => {
            // OAuth 2.0 Form Post Response Mode §2: an auto-submitting form; the script runs by nonce.
            let nonce = token(app.rng.as_ref(), 16);
            let params: Vec<[String; 2]> = r.params.iter().map(|(k, v)| [k.clone(), v.clone()]).collect();
            match app.templates.render(
                "form_post.html",
                context! { redirect_uri => r.redirect_uri.clone(), params => params, nonce => nonce.clone() },
            ) {
                Ok(body) => {
                    let mut resp = response::with_body(StatusCode::OK, "text/html; charset=utf-8", body);
                    let csp = format!(
                        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {}; base-uri 'none'; frame-ancestors 'none'",
                        origin_of(&r.redirect_uri)
                    );
                    response::html_headers(&mut resp, Some(&csp));
                    resp
                }
                Err(e) => {
                    crate::log::error(&format!("rendering form_post.html: {e}"));
                    response::plain(StatusCode::INTERNAL_SERVER_ERROR, "the response could not be rendered\n")
                }
            }
        }
    }
}

/// The scheme, host and port of a URL, for a CSP source expression.
fn origin_of(url: &str) -> String {
    match oidc_core::uri::parse(url) {
        Ok(u) if u.host().is_some() => u.origin(),
        _ => "'none'".into(),
    }
}

/// Renders an authorization error: a page, or a redirect to the trusted redirect_uri.
fn authz_error(app: &App, realm: &RealmState, e: &AuthzError, after_post: bool) -> Resp {
    match e {
        AuthzError::ErrorPage(err) => error_page(app, realm, StatusCode::BAD_REQUEST, err),
        AuthzError::Redirect(r) => send(app, r, after_post),
    }
}

/// The unexpired login session named by the session cookie.
pub(super) async fn current_session(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
) -> Result<Option<LoginSession>, Resp> {
    let Some(value) = cookies::get(header(headers, COOKIE), cookies::SESSION) else {
        return Ok(None);
    };
    app.repos
        .session(realm.realm.name(), &Digest::of(value), app.clock.now())
        .await
        .map_err(|e| storage_failed(app, realm, &e))
}

/// The CSRF token of the forms: HMAC of the browser's CSRF cookie under the realm key.
pub(super) fn csrf_token(realm: &RealmState, cookie: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &realm.realm.secret_key);
    let tag = ring::hmac::sign(&key, format!("csrf:{cookie}").as_bytes());
    oidc_core::jose::b64(tag.as_ref())
}

/// The browser's CSRF cookie, or a new one to set.
pub(super) fn csrf_cookie(app: &App, headers: &HeaderMap) -> (String, bool) {
    match cookies::get(header(headers, COOKIE), cookies::CSRF) {
        Some(v) if v.len() >= 22 => (v.to_owned(), false),
        _ => (token(app.rng.as_ref(), 24), true),
    }
}

/// Checks the form's CSRF token against the cookie, in constant time.
pub(super) fn csrf_ok(realm: &RealmState, headers: &HeaderMap, form: &[(String, String)]) -> bool {
    let Some(cookie) = cookies::get(header(headers, COOKIE), cookies::CSRF) else {
        return false;
    };
    let sent = field(form, "csrf_token").unwrap_or("");
    ct_eq(csrf_token(realm, cookie).as_bytes(), sent.as_bytes())
}

pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// How long a browser has to sign in and consent before the pending request expires.
const PENDING_LIFETIME: i64 = 1800;

/// The pending authorization request, sealed for the forms to carry: its
/// parameters (those of a signed request object included, as the client signed
/// them) and, for the consent form, the login session it was shown to, bound to
/// the browser's CSRF cookie ([`oidc_core::sealed`]).
fn seal_pending(app: &App, realm: &RealmState, v: &Validated, csrf_cookie: &str, session_id: Option<&str>) -> String {
    let query = v
        .params_after_login()
        .iter()
        .map(|(k, val)| format!("{}={}", form_urlencode(k), form_urlencode(val)))
        .collect::<Vec<_>>()
        .join("&");
    let plain = serde_json::json!({ "q": query, "sid": session_id }).to_string();
    let key = SealKey::derive(&realm.realm.secret_key, "pending-authorization-request");
    key.seal(plain.as_bytes(), app.clock.now().plus(PENDING_LIFETIME), csrf_cookie, app.rng.as_ref())
}

/// Opens a sealed pending request and validates it again against its client
/// (which cannot fail on the parameters, but the client may have changed);
/// returns the client, the request and the session it was shown to.
async fn open_and_validate(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    sealed: &str,
) -> Result<(Arc<Client>, Validated, Option<String>), Resp> {
    let cookie = cookies::get(header(headers, COOKIE), cookies::CSRF).unwrap_or("");
    let key = SealKey::derive(&realm.realm.secret_key, "pending-authorization-request");
    let opened = key
        .open(sealed, cookie, app.clock.now())
        .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok());
    let Some(opened) = opened else {
        return Err(error_page(
            app,
            realm,
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request(
                "this sign-in form has expired or does not belong to this browser; go back to the application and start again",
            ),
        ));
    };
    let query = opened["q"].as_str().unwrap_or("");
    let shown_to = opened["sid"].as_str().map(str::to_owned);
    let (client, v) = validate(app, realm, request::pairs(query.as_bytes())).await?;
    Ok((client, v, shown_to))
}

fn login_page(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    client: &Client,
    v: &Validated,
    error: Option<&str>,
    status: StatusCode,
) -> Resp {
    let cookie = csrf_cookie(app, headers);
    let form = LoginForm {
        authz: seal_pending(app, realm, v, &cookie.0, None),
        client_name: Some(client.name.clone()),
        username: v.login_hint.clone().unwrap_or_default(),
        ui_locales: v.ui_locales.clone(),
        display: v.display.clone(),
    };
    render_login_with(app, realm, cookie, &form, error, status)
}

/// What the login form shows and carries.
pub(super) struct LoginForm {
    /// The sealed authorization request to resume; empty for the account page.
    pub(super) authz: String,
    /// The application the user signs in to.
    pub(super) client_name: Option<String>,
    /// The username to prefill.
    pub(super) username: String,
    /// `ui_locales` of the request (OIDC Core §3.1.2.1).
    pub(super) ui_locales: Option<String>,
    /// `display` of the request.
    pub(super) display: Option<String>,
}

/// Renders the login form, setting the CSRF cookie when the browser has none.
pub(super) fn render_login(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    form: &LoginForm,
    error: Option<&str>,
    status: StatusCode,
) -> Resp {
    render_login_with(app, realm, csrf_cookie(app, headers), form, error, status)
}

/// [`render_login`] with the browser's CSRF cookie already chosen (the sealed
/// request in the form is bound to it).
fn render_login_with(
    app: &App,
    realm: &RealmState,
    (cookie, new): (String, bool),
    form: &LoginForm,
    error: Option<&str>,
    status: StatusCode,
) -> Resp {
    let mut r = page(
        app,
        realm,
        status,
        "login.html",
        context! {
            action => realm_url(app, realm, "login-actions/authenticate"),
            csrf_token => csrf_token(realm, &cookie),
            authz => form.authz.clone(),
            client_name => form.client_name.clone(),
            username => form.username.clone(),
            error => error,
            ui_locales => form.ui_locales.clone(),
            display => form.display.clone(),
        },
    );
    if new {
        let path = realm_path(app, realm);
        response::set_cookie(&mut r, &cookies::set(cookies::CSRF, &cookie, &path, app.config.secure_cookies(), None));
    }
    r
}

/// The client's privacy policy and terms of service URLs; for clients
/// registered before they were client settings, from the registration metadata.
async fn policy_links(app: &App, realm: &RealmState, client: &Client) -> (Option<String>, Option<String>) {
    if client.policy_url.is_some() || client.terms_url.is_some() {
        return (client.policy_url.clone(), client.terms_url.clone());
    }
    let Ok(Some(reg)) = app.repos.registration(realm.realm.name(), client.client_id()).await else {
        return (None, None);
    };
    let md: serde_json::Value = serde_json::from_str(&reg.metadata).unwrap_or_default();
    let get = |k: &str| md.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    (get("policy_uri"), get("tos_uri"))
}

fn consent_page(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    client: &Client,
    v: &Validated,
    (session_id, username): (&str, &str),
    (policy_uri, tos_uri): &(Option<String>, Option<String>),
) -> Resp {
    let (cookie, new) = csrf_cookie(app, headers);
    let authz = seal_pending(app, realm, v, &cookie, Some(session_id));
    // The seed's template receives the hidden inputs as markup; the value is escaped here.
    let hidden = format!("<input type=\"hidden\" name=\"authz\" value=\"{}\">", html_escape(&authz));
    let scopes: Vec<Value> = v
        .consent_views(&app.config.scopes)
        .into_iter()
        .map(|s| context! { scope => s.scope, name => s.name, description => s.description })
        .collect();
    let params: std::collections::BTreeMap<String, String> =
        v.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let mut r = page(
        app,
        realm,
        StatusCode::OK,
        "authorize.html",
        context! {
            action => realm_url(app, realm, "login-actions/consent"),
            csrf_token => csrf_token(realm, &cookie),
            hidden_inputs => Value::from_safe_string(hidden),
            client => context! {
                name => client.name.clone(), client_id => client.client_id.clone(), logo => client.logo.clone(),
                website_url => client.website_url.clone(), terms_url => client.terms_url.clone(),
                policy_uri => policy_uri.clone(), tos_uri => tos_uri.clone(),
            },
            scopes => scopes,
            params => params,
            username => username,
            ui_locales => v.ui_locales.clone(),
            display => v.display.clone(),
        },
    );
    if new {
        let path = realm_path(app, realm);
        response::set_cookie(&mut r, &cookies::set(cookies::CSRF, &cookie, &path, app.config.secure_cookies(), None));
    }
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&#39;")
}

pub(super) fn forbidden(app: &App, realm: &RealmState) -> Resp {
    error_page(
        app,
        realm,
        StatusCode::FORBIDDEN,
        &OAuthError::invalid_request(
            "the form expired or was not sent from this site; start again from the application",
        ),
    )
}

/// `POST /realms/{realm}/login-actions/authenticate`: checks the password,
/// starts a session and resumes the authorization request.
pub(crate) async fn login(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST {
        // After a login the browser comes back here with the sealed request to resume it.
        let query = request::pairs(parts.uri.query().unwrap_or("").as_bytes());
        let sealed = field(&query, "authz").unwrap_or("");
        if sealed.is_empty() {
            return error_page(
                app,
                realm,
                StatusCode::METHOD_NOT_ALLOWED,
                &OAuthError::invalid_request("sign in from your application"),
            );
        }
        let (client, v) = match open_and_validate(app, realm, &parts.headers, sealed).await {
            Ok((c, v, _)) => (c, v),
            Err(r) => return r,
        };
        return resume(app, realm, &parts.headers, &client, &v, false).await;
    }
    let form = match request::read_form(&parts.headers, body).await {
        Ok(f) => f,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string())),
    };
    if !csrf_ok(realm, &parts.headers, &form) {
        return forbidden(app, realm);
    }
    let authz = field(&form, "authz").unwrap_or("");
    // An empty authz is a sign-in to the account page; otherwise the authorization request resumes.
    let target = if authz.is_empty() {
        None
    } else {
        match open_and_validate(app, realm, &parts.headers, authz).await {
            Ok((c, v, _)) => Some((c, v)),
            Err(r) => return r,
        }
    };
    let username = field(&form, "username").unwrap_or("").trim();
    let password = Password::new(field(&form, "password").unwrap_or("").to_owned());
    let name = &realm.realm.name;
    let addr = parts.extensions.get::<PeerAddr>().map(|p| p.0);
    let retry_login = |error: String, status: StatusCode| match &target {
        Some((client, v)) => {
            let mut v2 = v.clone();
            v2.login_hint = Some(username.to_owned());
            login_page(app, realm, &parts.headers, client, &v2, Some(&error), status)
        }
        None => {
            let form = LoginForm {
                authz: String::new(),
                client_name: None,
                username: username.to_owned(),
                ui_locales: None,
                display: None,
            };
            render_login(app, realm, &parts.headers, &form, Some(&error), status)
        }
    };
    // RFC 6749 §10.7: a locked username or address is refused before the password is checked.
    let client_id = target.as_ref().map(|(c, _)| c.client_id.as_str());
    let checked = guard::password_check(app, name, username, addr, client_id, || async {
        let user = app.repos.user_by_username(RealmName::new(name), username).await?;
        let verified = check_password(app, &password, user.as_ref()).await;
        Ok(match (user, verified) {
            (Some(u), Verified::Yes | Verified::YesRehash) if u.active => Some((u, verified)),
            _ => None,
        })
    })
    .await;
    let (user, verified) = match checked {
        Ok(PasswordCheck::Passed(x)) => x,
        Ok(PasswordCheck::Failed) => return retry_login("Invalid username or password.".into(), StatusCode::OK),
        Ok(PasswordCheck::Locked(locked)) => {
            let mut r = retry_login(
                format!("Too many failed sign-in attempts. Try again in {} seconds.", locked.retry_after),
                StatusCode::TOO_MANY_REQUESTS,
            );
            response::set_header(&mut r, "retry-after", &locked.retry_after.to_string());
            return r;
        }
        Err(e) => return storage_failed(app, realm, &e),
    };
    if verified == Verified::YesRehash
        && let Some(new_hash) = app.passwords.hash(Password::new(password.secret().to_owned())).await
        && let Err(e) = app.repos.set_password_hash(RealmName::new(name), user.id(), &new_hash).await
    {
        crate::log::warn(&format!("could not upgrade a password hash: {e}"));
    }
    let now = app.clock.now();
    // A new login replaces the browser's previous session (so its cookie stops
    // working): the same user keeps the session's public id, and with it the
    // applications and tokens of the session; another user's session ends,
    // and its applications are told.
    let previous = match current_session(app, realm, &parts.headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut session_id = token(app.rng.as_ref(), 16);
    if let Some(old) = &previous {
        if old.user_id == user.id {
            session_id = old.id.clone();
            if let Err(e) = app.repos.delete_session(RealmName::new(name), &old.digest).await {
                return storage_failed(app, realm, &e);
            }
        } else {
            match app.end_session(realm, old, None, "new login").await {
                Ok(ended) => App::deliver_later(ended.delivery),
                Err(e) => return storage_failed(app, realm, &e),
            }
        }
    }
    let cookie = SessionToken::new(oidc_core::rand::ordered_token(app.rng.as_ref(), now));
    let session = LoginSession {
        digest: cookie.digest(),
        id: session_id,
        realm: name.clone(),
        user_id: user.id.clone(),
        auth_time: now,
        expires_at: LoginSession::expiry_after_use(now, now, &app.config.settings),
        last_used: now,
        user_agent: header(&parts.headers, hyper::header::USER_AGENT).map(|ua| ua.chars().take(200).collect()),
        address: addr.map(|a| a.to_string()),
    };
    if let Err(e) = app.repos.create_session(&session).await {
        return storage_failed(app, realm, &e);
    }
    let mut location = match &target {
        Some((_, v)) => {
            let (cookie, _) = csrf_cookie(app, &parts.headers);
            format!(
                "{}?authz={}",
                realm_url(app, realm, "login-actions/authenticate"),
                form_urlencode(&seal_pending(app, realm, v, &cookie, None))
            )
        }
        None => realm_url(app, realm, "account"),
    };
    // The seed's OIDC_AFTER_USERLOGIN_HOOK: it may send the user elsewhere first,
    // with the URL to come back to (the session is already established).
    if let AfterLogin::Redirect(url) = app.hooks.after_login(&user, target.as_ref().map(|(c, _)| c.as_ref()), now) {
        location = oidc_core::params::append_params(&url, &[("return_to", location.as_str())], false);
    }
    let mut r = response::redirect(&location, true);
    let path = realm_path(app, realm);
    response::set_cookie(
        &mut r,
        &cookies::set(cookies::SESSION, cookie.secret(), &path, app.config.secure_cookies(), None),
    );
    // Session Management 1.0 §3: the browser state changes with each login.
    let browser_state = oidc_core::session::browser_state(&realm.realm.secret_key, &session.id);
    response::set_cookie(&mut r, &cookies::set_browser_state(&browser_state, &path, app.config.secure_cookies()));
    r
}

/// `POST /realms/{realm}/login-actions/consent`: the user allowed or declined.
pub(crate) async fn consent(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let form = match request::read_form(&parts.headers, body).await {
        Ok(f) => f,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string())),
    };
    if !csrf_ok(realm, &parts.headers, &form) {
        return forbidden(app, realm);
    }
    let (client, v, shown_to) =
        match open_and_validate(app, realm, &parts.headers, field(&form, "authz").unwrap_or("")).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let session = match current_session(app, realm, &parts.headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return login_page(app, realm, &parts.headers, &client, &v, None, StatusCode::OK),
        Err(r) => return r,
    };
    // The consent page was shown to one login session; if the browser's session
    // changed since (another user signed in), decide again for the session it has now.
    if shown_to.as_deref() != Some(session.id.as_str()) {
        return resume(app, realm, &parts.headers, &client, &v, true).await;
    }
    let name = &realm.realm.name;
    let event = |kind: &'static str| {
        guard::audit(
            app,
            name,
            kind,
            Some(&session.user_id),
            Some(&client.client_id),
            serde_json::json!({ "scope": v.scope.to_string() }),
        )
    };
    let consent_event = ConsentEvent {
        realm: name.clone(),
        user_id: session.user_id.clone(),
        client_id: client.client_id.clone(),
        scope: v.scope.clone(),
        at: app.clock.now(),
    };
    if field(&form, "allow").is_none() {
        // The seed's user_decline_consent signal.
        event("consent.declined").await;
        app.hooks.consent_declined(&consent_event);
        return authz_error(app, realm, &v.declined(), true);
    }
    if client.reuse_consent {
        let consent = v.consent(name, &session.user_id, app.clock.now(), &app.config.settings);
        if let Err(e) = app.repos.save_consent(&consent).await {
            return storage_failed(app, realm, &e);
        }
    }
    // The seed's user_accept_consent signal.
    event("consent.given").await;
    app.hooks.consent_given(&consent_event);
    let user = match app.repos.user(RealmName::new(name), session.user_id()).await {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(app, realm, &parts.headers, &client, &v, None, StatusCode::OK),
        Err(e) => return storage_failed(app, realm, &e),
    };
    issue(app, realm, &v, &client, &session, &user, true).await
}

/// Verifies `password` against the user's hash on the password threads (Argon2
/// is CPU- and memory-bound). Without a user, a dummy hash is checked so that
/// unknown usernames take as long as known ones.
pub(super) async fn check_password(app: &App, password: &Password, user: Option<&User>) -> Verified {
    let hash = user.filter(|u| u.active).and_then(|u| u.password_hash.clone());
    let pw = Password::new(password.secret().to_owned());
    match hash {
        Some(h) => app.passwords.verify(pw, h).await,
        None => {
            app.passwords.verify(pw, dummy_hash()).await;
            Verified::No
        }
    }
}

/// An Argon2id hash of nothing in particular, to verify against when the user does not exist.
fn dummy_hash() -> oidc_core::model::PasswordHash {
    static HASH: std::sync::OnceLock<oidc_core::model::PasswordHash> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash(&Password::new("not a password".into()), &oidc_core::rand::OsRandom::new()))
        .clone()
}
