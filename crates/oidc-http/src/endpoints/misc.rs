//! Discovery, JWKS, logout, the demo relying party, static files and health.

use hyper::body::Incoming;
use hyper::header::{self, COOKIE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use minijinja::context;
use oidc_core::OAuthError;
use oidc_core::secret::Digest;

use super::{error_page, page};
use crate::app::{App, RealmState};
use crate::cookies;
use crate::request::{self, header};
use crate::response::{self, Resp};

/// `GET /realms/{realm}/.well-known/openid-configuration`: precomputed (Discovery 1.0 §4).
pub(crate) fn discovery(realm: &RealmState) -> Resp {
    let mut r = response::with_body(StatusCode::OK, "application/json", realm.discovery.clone());
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response::cors(&mut r);
    r
}

/// `GET /realms/{realm}`: Keycloak's public realm document
/// (`PublishedRealmRepresentation`), which Keycloak's adapters read the
/// realm's public key from: the active RS256 key as a base64 DER
/// SubjectPublicKeyInfo, the token and account service URLs, and the
/// realm's not-before time (0: tokens are not revoked by date here).
pub(crate) fn realm_info(realm: &RealmState) -> Resp {
    use base64::Engine as _;
    let public_key = realm
        .keys
        .active_for(oidc_core::model::JwtAlg::Rs256)
        .and_then(oidc_core::jose::SigningKey::rsa_spki_der)
        .map(|der| base64::engine::general_purpose::STANDARD.encode(der));
    let body = serde_json::json!({
        "realm": realm.realm.name,
        "public_key": public_key,
        "token-service": format!("{}/protocol/openid-connect", realm.issuer),
        "account-service": format!("{}/account", realm.issuer),
        "tokens-not-before": 0,
    });
    let mut r = response::with_body(StatusCode::OK, "application/json", body.to_string());
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response::cors(&mut r);
    r
}

/// `GET /realms/{realm}/protocol/openid-connect/certs`: precomputed (RFC 7517 §5).
pub(crate) fn jwks(realm: &RealmState) -> Resp {
    let mut r = response::with_body(StatusCode::OK, "application/jwk-set+json", realm.jwks.clone());
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response::cors(&mut r);
    r
}

/// `/realms/{realm}/protocol/openid-connect/logout`: ends the login session and,
/// when the client registered the `post_logout_redirect_uri`, returns there
/// with `state` (RP-Initiated Logout 1.0 §2, §3).
pub(crate) async fn logout(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    // OIDC Core §3.1.2.1: GET with a query, or POST with a form.
    let pairs = match request::query_or_form(&parts, body).await {
        Ok(p) => p,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string())),
    };
    let params = match oidc_core::params::Params::from_pairs(pairs) {
        Ok(p) => p,
        Err(e) => return error_page(app, realm, StatusCode::BAD_REQUEST, &e),
    };
    let name = &realm.realm.name;
    // The client is named by client_id or by the audience of id_token_hint (verified with our keys).
    let hint_aud = params.get("id_token_hint").and_then(|t| {
        let v = oidc_core::jose::verify(t, &oidc_core::jose::ALL_ALGS, realm.keys.verify_keys()).ok()?;
        (v.claims.get("iss")?.as_str()? == realm.issuer).then_some(())?;
        v.claims.get("aud")?.as_str().map(str::to_owned)
    });
    let client_id = params.get("client_id").map(str::to_owned).or(hint_aud);
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => app.client(name, id).await.ok().flatten(),
                None => None,
            };
            match client {
                Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => Some(uri.to_owned()),
                _ => {
                    return error_page(
                        app,
                        realm,
                        StatusCode::BAD_REQUEST,
                        &OAuthError::invalid_request("post_logout_redirect_uri is not registered for this client"),
                    );
                }
            }
        }
    };
    if let Some(value) = cookies::get(header(&parts.headers, COOKIE), cookies::SESSION)
        && let Err(e) = app.repos.delete_session(name, &Digest::of(value)).await
    {
        return super::storage_failed(app, realm, &e);
    }
    let path = format!("{}/realms/{name}/", app.config.base_url_path());
    let mut r = match target {
        Some(uri) => {
            let state: Vec<(&str, &str)> = params.get("state").map(|s| vec![("state", s)]).unwrap_or_default();
            response::redirect(&oidc_core::params::append_params(&uri, &state, false), parts.method == Method::POST)
        }
        None => page(app, realm, StatusCode::OK, "logged_out.html", context! {}),
    };
    response::set_cookie(&mut r, &cookies::clear(cookies::SESSION, &path, app.config.secure_cookies()));
    r
}

/// `GET /realms/{realm}/demo`: the built-in demo relying party, when enabled.
pub(crate) fn demo(app: &App, realm: &RealmState) -> Resp {
    let Some(client_id) = &app.config.demo_client_id else {
        return response::plain(StatusCode::NOT_FOUND, "the demo is not enabled (start with --demo)\n");
    };
    let redirect_uri = format!("{}/realms/{}/demo", app.config.base_url, realm.realm.name);
    page(
        app,
        realm,
        StatusCode::OK,
        "demo.html",
        context! { issuer => realm.issuer.clone(), client_id => client_id, redirect_uri => redirect_uri },
    )
}

/// `GET /static/{file}`.
pub(crate) fn static_file(app: &App, file: &str) -> Resp {
    match app.templates.static_file(file) {
        Some((ctype, body)) => {
            let mut r = response::with_body(StatusCode::OK, ctype, body);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            r
        }
        None => response::plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `GET /health`: 200 when the database answers.
pub(crate) async fn health(app: &App) -> Resp {
    match app.repos.realm_names().await {
        Ok(_) => response::with_body(StatusCode::OK, "application/json", r#"{"status":"ok"}"#),
        Err(e) => {
            crate::log::error(&format!("health check: {e}"));
            response::with_body(StatusCode::SERVICE_UNAVAILABLE, "application/json", r#"{"status":"unavailable"}"#)
        }
    }
}
