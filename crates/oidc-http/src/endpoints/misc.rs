//! Discovery, JWKS, the demo relying party, static files and health.

use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use minijinja::context;

use super::page;
use crate::app::{App, RealmState};
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
