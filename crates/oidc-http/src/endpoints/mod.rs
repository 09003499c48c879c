//! The endpoints: one function per [`Endpoint`], dispatched from [`handle`].

mod account;
mod authorize;
mod client_auth;
mod introspect;
mod keycloak;
mod logout;
mod misc;
mod registration;
mod revoke;
mod token;
mod userinfo;

/// Keycloak's representation parser, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn keycloak_parse(
    body: &serde_json::Value,
) -> Result<keycloak::ClientRepresentation, oidc_core::registration::RegistrationError> {
    keycloak::parse(body)
}

/// A representation applied to a new client, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn keycloak_to_spec(
    rep: &keycloak::ClientRepresentation,
    registry: &oidc_core::scope::ScopeRegistry,
) -> Result<oidc_core::manage::ClientSpec, oidc_core::registration::RegistrationError> {
    keycloak::to_spec(rep, None, registry)
}

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use minijinja::context;
use oidc_core::OAuthError;

use crate::app::{App, RealmState};
use crate::response::{self, Resp};
use crate::router::Endpoint;

/// Answers one request.
pub(crate) async fn handle(app: &App, req: Request<Incoming>) -> Resp {
    let path = req.uri().path();
    // When the base URL has a path (a reverse proxy's prefix), routes live under it.
    let prefix = app.config.base_url_path();
    let endpoint = match path.strip_prefix(prefix) {
        Some(rest) if prefix.is_empty() || rest.starts_with('/') => Endpoint::parse(rest),
        _ => Endpoint::NotFound,
    };
    if req.method() == Method::OPTIONS && matches!(endpoint, Endpoint::Registration(..)) {
        let mut r = response::with_body(StatusCode::NO_CONTENT, "text/plain", "");
        registration::cors(&mut r);
        return r;
    }
    if req.method() == Method::OPTIONS
        && matches!(endpoint, Endpoint::Token(_) | Endpoint::Revoke(_) | Endpoint::UserInfo(_))
    {
        // CORS preflight for browser-based clients (the token, revocation and userinfo endpoints take no
        // cookies). The client is not known yet: the actual response allows only its origins.
        let mut r = response::with_body(StatusCode::NO_CONTENT, "text/plain", "");
        match crate::request::header(req.headers(), hyper::header::ORIGIN) {
            Some(origin) => response::allow_origin(&mut r, origin),
            None => response::cors(&mut r),
        }
        return r;
    }
    if endpoint == Endpoint::NotFound {
        return response::plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if !endpoint.allows(req.method()) {
        return response::plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let realm_name = match &endpoint {
        Endpoint::Static(file) => return misc::static_file(app, file),
        Endpoint::Health => return misc::health(app).await,
        Endpoint::NotFound => return response::plain(StatusCode::NOT_FOUND, "not found\n"),
        Endpoint::Discovery(r)
        | Endpoint::Authorize(r)
        | Endpoint::Token(r)
        | Endpoint::Introspect(r)
        | Endpoint::Revoke(r)
        | Endpoint::UserInfo(r)
        | Endpoint::Jwks(r)
        | Endpoint::Logout(r)
        | Endpoint::CheckSessionIframe(r)
        | Endpoint::ThirdPartyCookies(r, _)
        | Endpoint::CheckSessionInit(r)
        | Endpoint::Login(r)
        | Endpoint::Consent(r)
        | Endpoint::Demo(r)
        | Endpoint::Account(r)
        | Endpoint::RealmInfo(r)
        | Endpoint::Registration(r, _, _) => r.clone(),
    };
    let realm = match app.realm(&realm_name).await {
        Ok(Some(r)) => r,
        Ok(None) => return response::plain(StatusCode::NOT_FOUND, "no such realm\n"),
        Err(e) => {
            crate::log::error(&format!("loading realm '{realm_name}': {e}"));
            return response::plain(StatusCode::INTERNAL_SERVER_ERROR, "the realm could not be loaded\n");
        }
    };
    match endpoint {
        Endpoint::Discovery(_) => misc::discovery(&realm),
        Endpoint::Jwks(_) => misc::jwks(&realm),
        Endpoint::RealmInfo(_) => misc::realm_info(&realm),
        Endpoint::Authorize(_) => authorize::authorize(app, &realm, req).await,
        Endpoint::Login(_) => authorize::login(app, &realm, req).await,
        Endpoint::Consent(_) => authorize::consent(app, &realm, req).await,
        Endpoint::Token(_) => token::token(app, &realm, req).await,
        Endpoint::Introspect(_) => introspect::introspect(app, &realm, req).await,
        Endpoint::Revoke(_) => revoke::revoke(app, &realm, req).await,
        Endpoint::UserInfo(_) => userinfo::userinfo(app, &realm, req).await,
        Endpoint::Logout(_) => logout::logout(app, &realm, req).await,
        Endpoint::CheckSessionIframe(_) => logout::check_session_iframe(app, &realm),
        Endpoint::ThirdPartyCookies(_, step) => logout::third_party_cookies(app, &realm, step),
        Endpoint::CheckSessionInit(_) => logout::check_session_init(app, &realm, &req).await,
        Endpoint::Demo(_) => misc::demo(app, &realm),
        Endpoint::Account(_) => account::account(app, &realm, req).await,
        Endpoint::Registration(_, format, id) => registration::registration(app, &realm, format, id, req).await,
        Endpoint::Static(_) | Endpoint::Health | Endpoint::NotFound => {
            response::plain(StatusCode::NOT_FOUND, "not found\n")
        }
    }
}

/// Renders the error page (the seed's error.html): never a redirect.
pub(crate) fn error_page(app: &App, realm: &RealmState, status: StatusCode, e: &OAuthError) -> Resp {
    page(app, realm, status, "error.html", context! { error => e.code.as_str(), description => e.description.clone() })
}

/// Renders an HTML page with the common context (realm, static_url).
pub(crate) fn page(app: &App, realm: &RealmState, status: StatusCode, name: &str, ctx: minijinja::Value) -> Resp {
    let common =
        context! { realm => realm.realm.name.clone(), static_url => format!("{}/static", app.config.base_url_path()) };
    match app.templates.render(name, context! { ..common, ..ctx }) {
        Ok(body) => response::html(status, body),
        Err(e) => {
            crate::log::error(&format!("rendering {name}: {e}"));
            response::plain(StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered\n")
        }
    }
}

/// A storage failure: logged, answered as a server error page.
pub(crate) fn storage_failed(app: &App, realm: &RealmState, e: &oidc_core::repo::RepoError) -> Resp {
    crate::log::error(&format!("storage: {e}"));
    error_page(
        app,
        realm,
        StatusCode::INTERNAL_SERVER_ERROR,
        &OAuthError::server_error("the request could not be completed, please try again"),
    )
}
