//! The end_session endpoint (`/realms/{realm}/protocol/openid-connect/logout`):
//! RP-Initiated Logout 1.0 with a confirmation page, Front-Channel Logout 1.0
//! iframes on the logged-out page, and Keycloak's logout by refresh token;
//! and the check_session_iframe of Session Management 1.0.

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, COOKIE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use minijinja::context;
use oidc_core::OAuthError;
use oidc_core::hooks::{AfterEndSession, EndSessionEvent};
use oidc_core::ids::RealmName;
use oidc_core::logout::{self, Checked, LogoutDecision};
use oidc_core::model::LoginSession;
use oidc_core::params::Params;
use oidc_core::secret::{Digest, RefreshToken};

use super::authorize::{csrf_cookie, csrf_ok, csrf_token, field, forbidden, realm_path, realm_url};
use super::{error_page, page, storage_failed};
use crate::app::{App, RealmState};
use crate::cookies;
use crate::request::{self, header};
use crate::response::{self, ApiError as _, Resp, TokenError};

/// `GET` or `POST .../protocol/openid-connect/logout`.
pub(crate) async fn logout(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    // RP-Initiated Logout 1.0 §2: GET with a query, or POST with a form.
    let pairs = match request::query_or_form(&parts, body).await {
        Ok(p) => p,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string())),
    };
    let is_post = parts.method == Method::POST;
    // Keycloak's server-side adapters: client credentials and a refresh token.
    if is_post && pairs.iter().any(|(k, _)| k == "refresh_token") {
        return by_refresh_token(app, realm, &parts.headers, pairs).await;
    }
    // The confirmation form comes back with a CSRF token and the `logout` button.
    let confirmed = is_post && field(&pairs, "logout").is_some();
    if is_post && field(&pairs, "csrf_token").is_some() && !csrf_ok(realm, &parts.headers, &pairs) {
        return forbidden(app, realm);
    }
    let confirmed = confirmed && csrf_ok(realm, &parts.headers, &pairs);
    let params = match Params::from_pairs(pairs) {
        Ok(p) => p,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &e),
    };
    let name = &realm.realm.name;
    let request = logout::parse(&params);
    let client = match request.client_to_load() {
        Some(id) => match app.client(name, &id).await {
            Ok(c) => c,
            Err(e) => return storage_failed(app, realm, &e),
        },
        None => None,
    };
    let checked = match request.check(client.as_deref(), &realm.keys, &realm.issuer) {
        Ok(c) => c,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &e),
    };
    let now = app.clock.now();
    let (session, user) = match cookies::get(header(&parts.headers, COOKIE), cookies::SESSION) {
        None => (None, None),
        Some(value) => match app.repos.session_with_user(RealmName::new(name), &Digest::of(value), now).await {
            Ok(Some((s, u))) => (Some(s), u),
            Ok(None) => (None, None),
            Err(e) => return storage_failed(app, realm, &e),
        },
    };
    let session_clients = match &session {
        Some(s) => match app.repos.session_clients(RealmName::new(name), &s.id).await {
            Ok(c) => c,
            Err(e) => return storage_failed(app, realm, &e),
        },
        None => Vec::new(),
    };
    // The hint's sub is the session user's subject for the hint's client (pairwise or public).
    let hint_names_user = match (&checked.hint, &user, &client) {
        (Some(h), Some(u), Some(c)) => app.subject(realm, u, c) == h.subject,
        _ => false,
    };
    let decision = match (confirmed, &session) {
        (true, Some(_)) => LogoutDecision::Logout,
        (true, None) => LogoutDecision::NoSession,
        (false, _) => checked.decide(session.as_ref(), &session_clients, hint_names_user),
    };
    match (decision, session) {
        (LogoutDecision::Confirm, _) => {
            confirm_page(app, realm, &parts.headers, &checked, client.map(|c| c.name.clone()))
        }
        (LogoutDecision::Logout, Some(s)) => {
            let event = EndSessionEvent {
                realm: name.clone(),
                user_id: s.user_id.clone(),
                session_id: s.id.clone(),
                client_id: checked.client_id.clone(),
                post_logout_redirect_uri: checked
                    .redirect
                    .as_ref()
                    .and(checked.request.post_logout_redirect_uri.clone()),
                state: checked.request.state.clone(),
                at: now,
            };
            // The seed's OIDC_AFTER_END_SESSION_HOOK runs just before the session ends.
            let after = app.hooks.after_end_session(&event);
            let ended = match app.end_session(realm, &s, None, "end_session").await {
                Ok(e) => e,
                Err(e) => return storage_failed(app, realm, &e),
            };
            App::deliver_later(ended.delivery);
            let redirect = match after {
                AfterEndSession::Redirect(url) => Some(url),
                _ => checked.redirect.clone(),
            };
            logged_out(app, realm, redirect, &ended.frontchannel, is_post)
        }
        (_, _) => logged_out(app, realm, checked.redirect.clone(), &[], is_post),
    }
}

/// The page after a logout: front-channel iframes (Front-Channel Logout 1.0
/// §4) and then the post_logout_redirect_uri, or a redirect there at once
/// when no application needs an iframe. The browser's session cookie is
/// deleted and its browser state becomes the unauthenticated one (Session
/// Management 1.0 §3: it changes on logout).
pub(super) fn logged_out(
    app: &App,
    realm: &RealmState,
    redirect: Option<String>,
    frontchannel: &[String],
    post: bool,
) -> Resp {
    let mut r = match (&redirect, frontchannel.is_empty()) {
        (Some(uri), true) => response::redirect(uri, post),
        _ => {
            let mut r = page(
                app,
                realm,
                StatusCode::OK,
                "logged_out.html",
                context! { frontchannel => frontchannel.to_vec(), redirect => redirect },
            );
            if !frontchannel.is_empty() {
                // The page must be able to frame the applications' logout URIs.
                let origins: Vec<String> = frontchannel.iter().filter_map(|u| oidc_core::session::origin(u)).collect();
                let csp = format!(
                    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; \
                     frame-src {}; base-uri 'none'; frame-ancestors 'none'",
                    origins.join(" ")
                );
                response::html_headers(&mut r, Some(&csp));
            }
            r
        }
    };
    let path = realm_path(app, realm);
    let secure = app.config.secure_cookies();
    response::set_cookie(&mut r, &cookies::clear(cookies::SESSION, &path, secure));
    response::set_cookie(&mut r, &cookies::set_browser_state(&app.unauthenticated_browser_state, &path, secure));
    r
}

/// Asks the user to confirm the logout (RP-Initiated Logout 1.0 §2), with a
/// CSRF-protected form carrying the request's parameters.
fn confirm_page(
    app: &App,
    realm: &RealmState,
    headers: &HeaderMap,
    checked: &Checked,
    client_name: Option<String>,
) -> Resp {
    let (cookie, new) = csrf_cookie(app, headers);
    let r = &checked.request;
    let mut fields: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("id_token_hint", &r.id_token_hint),
        ("client_id", &r.client_id),
        ("post_logout_redirect_uri", &r.post_logout_redirect_uri),
        ("state", &r.state),
        ("ui_locales", &r.ui_locales),
    ] {
        if let Some(v) = v {
            fields.push((k, v.clone()));
        }
    }
    let mut resp = page(
        app,
        realm,
        StatusCode::OK,
        "logout_confirm.html",
        context! {
            action => realm_url(app, realm, "protocol/openid-connect/logout"),
            csrf_token => csrf_token(realm, &cookie),
            fields => fields,
            client_name => client_name,
            ui_locales => r.ui_locales.clone(),
        },
    );
    if new {
        let path = realm_path(app, realm);
        response::set_cookie(
            &mut resp,
            &cookies::set(cookies::CSRF, &cookie, &path, app.config.secure_cookies(), None),
        );
    }
    resp
}

/// Logout by refresh token, as Keycloak's server-side adapters do: the client
/// authenticates (RFC 6749 §2.3) and sends a refresh token of its own; the
/// login session that token belongs to ends, with its tokens (204). A token
/// of another client, or an unknown, used or expired one, is `invalid_grant`.
async fn by_refresh_token(app: &App, realm: &RealmState, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Resp {
    let name = &realm.realm.name;
    let fail = |e: OAuthError| TokenError(&e, name).to_response();
    let mut params = match Params::from_pairs(pairs) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let credentials = match oidc_core::token::parse_credentials(&mut params, header(headers, AUTHORIZATION)) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let client = match super::token::authenticate_client(app, realm, credentials).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let Some(value) = params.take("refresh_token") else {
        return fail(OAuthError::invalid_request("the refresh_token parameter is missing"));
    };
    let now = app.clock.now();
    let record = match app.repos.unused_refresh_token(RealmName::new(name), &RefreshToken::new(value).digest()).await {
        Ok(r) => r,
        Err(e) => return storage_error(realm, &e),
    };
    let record = match record {
        Some(r) if r.client_id == client.client_id && r.expires_at > now => r,
        Some(r) if r.client_id != client.client_id => {
            return fail(OAuthError::invalid_grant("the refresh token was issued to another client"));
        }
        _ => return fail(OAuthError::invalid_grant("the refresh token is invalid")),
    };
    if let Some(sid) = &record.session_id {
        let session: Option<LoginSession> = match app.repos.session_by_id(RealmName::new(name), sid, now).await {
            Ok(s) => s,
            Err(e) => return storage_error(realm, &e),
        };
        if let Some(s) = session {
            // The other applications of the session are told; the caller knows.
            match app.end_session(realm, &s, Some(&client.client_id), "refresh_token").await {
                Ok(ended) => App::deliver_later(ended.delivery),
                Err(e) => return storage_error(realm, &e),
            }
        }
    }
    // The token's own grant ends too (an offline token outlives its session otherwise).
    if let Err(e) = app.repos.revoke_grant(RealmName::new(name), &record.grant_id).await {
        return storage_error(realm, &e);
    }
    let mut r = response::with_body(StatusCode::NO_CONTENT, "text/plain", "");
    response::no_store(&mut r);
    r
}

fn storage_error(realm: &RealmState, e: &oidc_core::repo::RepoError) -> Resp {
    crate::log::error(&format!("storage: {e}"));
    TokenError(&OAuthError::server_error("the request could not be completed, please try again"), &realm.realm.name)
        .to_response()
}

/// `GET .../protocol/openid-connect/login-status-iframe.html`: the OP iframe
/// of Session Management 1.0 §4.2. It is the one page that other sites may
/// frame (no `X-Frame-Options`, no `frame-ancestors`).
pub(crate) fn check_session_iframe(app: &App, realm: &RealmState) -> Resp {
    if !app.config.settings.session_management {
        return response::plain(StatusCode::NOT_FOUND, "session management is off\n");
    }
    let mut r = page(
        app,
        realm,
        StatusCode::OK,
        "check_session.html",
        context! {
            cookie_name => cookies::BROWSER_STATE,
            init_url => realm_url(app, realm, "protocol/openid-connect/login-status-iframe.html/init"),
        },
    );
    frameable(&mut r, "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'");
    r
}

/// A page relying parties frame: no frame denial, and `csp` instead of the pages' policy.
fn frameable(r: &mut Resp, csp: &'static str) {
    let h = r.headers_mut();
    h.remove(hyper::header::X_FRAME_OPTIONS);
    h.insert(hyper::header::CONTENT_SECURITY_POLICY, hyper::header::HeaderValue::from_static(csp));
}

/// `GET .../protocol/openid-connect/3p-cookies/step{1,2}.html`: the check
/// Keycloak's JavaScript adapter makes before it uses the session iframe,
/// whether the browser keeps the provider's cookies in a frame of the relying
/// party (step 1 sets one, step 2 answers `supported` or `unsupported`).
pub(crate) fn third_party_cookies(app: &App, realm: &RealmState, step: u8) -> Resp {
    let mut r = page(
        app,
        realm,
        StatusCode::OK,
        "third_party_cookies.html",
        context! { step => step, cookie_path => super::authorize::realm_path(app, realm) },
    );
    frameable(&mut r, "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'");
    r
}

/// `GET .../login-status-iframe.html/init?client_id=..&origin=..`: whether the
/// iframe may answer a page of `origin` about `client_id`: 204 when `origin`
/// is the origin of one of the client's redirect URIs, else 403 (404 for no
/// such client). The iframe answers `error` unless this says yes.
pub(crate) async fn check_session_init(app: &App, realm: &RealmState, req: &Request<Incoming>) -> Resp {
    let q = request::pairs(req.uri().query().unwrap_or("").as_bytes());
    let (Some(client_id), Some(origin)) = (field(&q, "client_id"), field(&q, "origin")) else {
        return response::plain(StatusCode::BAD_REQUEST, "client_id and origin are required\n");
    };
    let client = match app.client(&realm.realm.name, client_id).await {
        Ok(Some(c)) if c.enabled => c,
        Ok(_) => return response::plain(StatusCode::NOT_FOUND, "no such client\n"),
        Err(e) => return storage_failed(app, realm, &e),
    };
    let status = if client.allows_origin(origin) { StatusCode::NO_CONTENT } else { StatusCode::FORBIDDEN };
    let mut r = response::with_body(status, "text/plain", "");
    response::no_store(&mut r);
    r
}
