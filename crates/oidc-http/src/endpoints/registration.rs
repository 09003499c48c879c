//! The client registration service (Keycloak's layout):
//! `POST /realms/{realm}/clients-registrations/openid-connect` registers a
//! client (OIDC Dynamic Client Registration 1.0, RFC 7591), and
//! `GET`/`PUT`/`DELETE .../openid-connect/{client_id}` read, replace and
//! delete it with its registration access token (RFC 7592), which rotates on
//! every use unless a policy turns rotation off.

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use oidc_core::manage;
use oidc_core::model::Client;
use oidc_core::rand::token;
use oidc_core::registration::{
    self, ClientRegistration, Metadata, Policies, PolicyKind, RegistrationError, parse_metadata,
};
use oidc_core::repo::{Registered, RepoError, RoleHolder};
use oidc_core::scope::Scope;
use oidc_core::secret::{Digest, ct_eq};
use serde_json::{Value, json};

use crate::app::{App, RealmState};
use crate::guard::{self, PeerAddr};
use crate::request::{self, header};
use crate::response::{self, Resp};
use crate::router::RegistrationFormat;

/// An answer of the registration service: a status and a JSON body.
fn answer(status: StatusCode, body: &Value) -> Resp {
    let mut r = response::json_no_store(status, body.to_string());
    cors(&mut r);
    r
}

/// CORS for browser-based clients: any origin, no cookies.
pub(crate) fn cors(r: &mut Resp) {
    response::cors(r);
    response::set_header(r, "access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
}

fn error(status: StatusCode, code: &str, description: &str) -> Resp {
    let d = oidc_core::error::description_text(description);
    let mut r = answer(status, &json!({ "error": code, "error_description": d }));
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3: the token was missing or is not valid.
        let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{d}\"");
        response::set_header(&mut r, "www-authenticate", &challenge);
    }
    r
}

fn invalid_token(description: &str) -> Resp {
    error(StatusCode::UNAUTHORIZED, "invalid_token", description)
}

fn refused(e: &RegistrationError) -> Resp {
    match e {
        // A policy refusal is a 403 naming the rule.
        RegistrationError::Policy { .. } => error(StatusCode::FORBIDDEN, "access_denied", &e.description()),
        _ => error(StatusCode::BAD_REQUEST, e.code(), &e.description()),
    }
}

fn storage(e: &RepoError) -> Resp {
    crate::log::error(&format!("storage: {e}"));
    error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the request could not be completed, please try again")
}

/// The bearer token of the request, if any; a malformed header is an error.
// The error is the finished response, built once per request: boxing it gains nothing.
#[allow(clippy::result_large_err)]
fn bearer(headers: &hyper::HeaderMap) -> Result<Option<String>, Resp> {
    match header(headers, AUTHORIZATION) {
        None => Ok(None),
        Some(h) => match h.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                Ok(Some(t.trim().to_owned()))
            }
            _ => Err(invalid_token("the Authorization header must be a Bearer token")),
        },
    }
}

/// Reads a JSON object body.
#[allow(clippy::result_large_err)]
async fn json_body(headers: &hyper::HeaderMap, body: Incoming) -> Result<Value, Resp> {
    let is_json = header(headers, CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the body must be application/json"));
    }
    let bytes = request::read_body(body)
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &format!("the body is not JSON: {e}")))
}

/// What a bearer access token of this realm may do: the roles of its user,
/// or of its client's service account (a `client_credentials` token).
/// `Ok(None)` when the token is not an access token of this realm.
async fn access_token_roles(app: &App, realm: &str, presented: &str) -> Result<Option<Vec<String>>, Resp> {
    let rec = match app.repos.access_token(realm, &Digest::of(presented)).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return Err(storage(&e)),
    };
    if rec.expires_at <= app.clock.now() {
        return Err(invalid_token("the access token has expired"));
    }
    let holder = match rec.user_id {
        Some(u) => RoleHolder::User(u),
        None => RoleHolder::Client(rec.client_id),
    };
    app.repos.roles(realm, &holder).await.map(Some).map_err(|e| storage(&e))
}

fn lacks_role(role: &str) -> Resp {
    error(StatusCode::FORBIDDEN, "insufficient_scope", &format!("the token's holder does not have the '{role}' role"))
}

/// OIDC Registration §5: the document at a pairwise client's
/// sector_identifier_uri is a JSON array that lists every redirect URI.
async fn check_sector(app: &App, spec: &manage::ClientSpec) -> Result<(), Resp> {
    let Some(uri) = &spec.sector_identifier_uri else { return Ok(()) };
    let bad = |why: String| {
        error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &format!("sector_identifier_uri: {why}"))
    };
    let body = app.fetcher.get(uri, "client registration").await.map_err(|e| bad(e.to_string()))?;
    let listed: Vec<String> =
        serde_json::from_slice(&body).map_err(|_| bad("the document must be a JSON array of URIs".into()))?;
    if let Some(missing) = spec.redirect_uris.iter().find(|u| !listed.contains(u)) {
        return Err(bad(format!("redirect URI '{missing}' is not listed in the document")));
    }
    Ok(())
}

/// The realm's policies of `kind`: stored ones, or the defaults.
pub(crate) async fn policies(app: &App, realm: &str, kind: PolicyKind) -> Result<Policies, RepoError> {
    Ok(match app.repos.policies(realm, kind).await? {
        None => kind.defaults(),
        Some(text) => {
            let parsed = serde_json::from_str(&text).map_err(|e| RepoError::Backend(Box::new(e)))?;
            Policies::from_json(&parsed, kind.defaults()).map_err(|e| RepoError::Backend(e.into()))?
        }
    })
}

fn client_uri(app: &App, realm: &RealmState, format: RegistrationFormat, client_id: &str) -> String {
    let provider = match format {
        RegistrationFormat::OpenIdConnect => "openid-connect",
        RegistrationFormat::Native => "default",
    };
    format!(
        "{}/realms/{}/clients-registrations/{provider}/{}",
        app.config.base_url,
        realm.realm.name,
        oidc_core::params::form_urlencode(client_id)
    )
}

/// The native representation with the registration access token.
fn native_response(app: &App, realm: &RealmState, client: &Client, rat: &str, status: StatusCode) -> Resp {
    let mut m = registration::native_json(client);
    m.insert("registration_access_token".into(), json!(rat));
    m.insert(
        "registration_client_uri".into(),
        json!(client_uri(app, realm, RegistrationFormat::Native, &client.client_id)),
    );
    answer(status, &Value::Object(m))
}

/// Dispatches on method and path.
pub(crate) async fn registration(
    app: &App,
    realm: &RealmState,
    format: RegistrationFormat,
    client_id: Option<String>,
    req: Request<Incoming>,
) -> Resp {
    if req.method() == Method::OPTIONS {
        let mut r = response::with_body(StatusCode::NO_CONTENT, "text/plain", "");
        cors(&mut r);
        return r;
    }
    match (req.method().clone(), client_id) {
        (Method::POST, None) => register(app, realm, format, req).await,
        (Method::GET | Method::PUT | Method::DELETE, Some(id)) => configure(app, realm, format, &id, req).await,
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "method not allowed here"),
    }
}

/// `POST .../openid-connect` (RFC 7591 §3).
async fn register(app: &App, realm: &RealmState, format: RegistrationFormat, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let iat = match bearer(&parts.headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match json_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = &realm.realm.name;
    // A bearer token is either an access token whose holder has the create-client
    // role, or an initial access token (counted when the client is stored).
    let mut iat = iat;
    if let Some(t) = &iat {
        match access_token_roles(app, name, t).await {
            Ok(Some(roles)) if roles.iter().any(|r| r == "create-client") => iat = None,
            Ok(Some(_)) => return lacks_role("create-client"),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    let authenticated = bearer(&parts.headers).ok().flatten().is_some();
    let kind = if authenticated { PolicyKind::Authenticated } else { PolicyKind::Anonymous };
    let policy = match policies(app, name, kind).await {
        Ok(p) => p,
        Err(e) => return storage(&e),
    };
    let count = match app.repos.client_count(name).await {
        Ok(c) => c,
        Err(e) => return storage(&e),
    };
    let requester = parts.extensions.get::<PeerAddr>().map_or_else(String::new, |p| p.0.to_string());
    let (mut spec, metadata) = match format {
        RegistrationFormat::OpenIdConnect => {
            let md = match parse_metadata(&body, &realm.keys.algs()) {
                Ok(m) => m,
                Err(e) => return refused(&e),
            };
            if let Err(e) = policy.check(&md, Some(&requester), Some(count)) {
                return refused(&e);
            }
            (md.to_spec(&app.config.scopes), md.to_json())
        }
        RegistrationFormat::Native => {
            let spec = match registration::native_spec(&body, None) {
                Ok(s) => s,
                Err(e) => return refused(&e),
            };
            let scope = (!spec.allowed_scopes.is_empty()).then(|| Scope::from_tokens(spec.allowed_scopes.clone()));
            if let Err(e) =
                policy.check_parts(&registration::spec_uris(&spec), scope.as_ref(), Some(&requester), Some(count))
            {
                return refused(&e);
            }
            (spec, serde_json::Map::new())
        }
    };
    let now = app.clock.now();
    policy.apply(&mut spec);
    if let Err(r) = check_sector(app, &spec).await {
        return r;
    }
    let (client, secret) = match manage::new_client(name, spec, now, app.rng.as_ref()) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e),
    };
    if client.jwt_alg.uses_realm_key() && realm.keys.active_for(client.jwt_alg).is_none() {
        return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the realm has no key for this jwt_alg");
    }
    let rat = token(app.rng.as_ref(), 32);
    let reg = ClientRegistration {
        realm: name.clone(),
        client_id: client.client_id.clone(),
        token_digest: Digest::of(&rat),
        metadata: Value::Object(metadata.clone()).to_string(),
        anonymous: !authenticated,
        created_at: now,
    };
    let iat_digest = iat.as_deref().map(Digest::of);
    match app.repos.register_client(&client, &reg, iat_digest.as_ref(), now).await {
        Ok(Registered::Created) => {}
        Ok(Registered::TokenRefused) => {
            return invalid_token("the initial access token is unknown, expired or used up");
        }
        Err(RepoError::Conflict(_)) => {
            return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the client_id is taken");
        }
        Err(e) => return storage(&e),
    }
    guard::audit(
        app,
        name,
        "client.registered",
        None,
        Some(&client.client_id),
        json!({ "anonymous": !authenticated, "address": requester }),
    )
    .await;
    let uri = client_uri(app, realm, format, &client.client_id);
    let mut r = match format {
        RegistrationFormat::OpenIdConnect => {
            let body = registration::response(&client, &metadata, secret.as_ref().map(|s| s.secret()), &rat, &uri);
            answer(StatusCode::CREATED, &Value::Object(body))
        }
        RegistrationFormat::Native => native_response(app, realm, &client, &rat, StatusCode::CREATED),
    };
    response::set_header(&mut r, "location", &uri);
    r
}

/// `GET`, `PUT`, `DELETE .../openid-connect/{client_id}` (RFC 7592 §2).
async fn configure(
    app: &App,
    realm: &RealmState,
    format: RegistrationFormat,
    client_id: &str,
    req: Request<Incoming>,
) -> Resp {
    let (parts, body) = req.into_parts();
    let name = &realm.realm.name;
    let presented = match bearer(&parts.headers) {
        Ok(Some(t)) => t,
        Ok(None) => return invalid_token("a registration access token is required"),
        Err(r) => return r,
    };
    // RFC 7592 §2: the token authorizes operations on its own client only.
    let reg = match app.repos.registration(name, client_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return invalid_token("the registration access token is not valid for this client"),
        Err(e) => return storage(&e),
    };
    // The registration access token of this client, or an access token whose holder
    // has manage-clients (or view-clients, to read).
    let presented_digest = Digest::of(&presented);
    if !ct_eq(presented_digest.as_str().as_bytes(), reg.token_digest.as_str().as_bytes()) {
        let needed =
            if parts.method == Method::GET { ["view-clients", "manage-clients"] } else { ["manage-clients"; 2] };
        match access_token_roles(app, name, &presented).await {
            Ok(Some(roles)) if roles.iter().any(|r| needed.contains(&r.as_str())) => {}
            Ok(Some(_)) => return lacks_role(needed[0]),
            Ok(None) => return invalid_token("the registration access token is not valid for this client"),
            Err(r) => return r,
        }
    }
    // The stored token rotates whichever token authorized the call.
    let old = reg.token_digest.clone();
    let client = match app.repos.client(name, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return invalid_token("the client no longer exists"),
        Err(e) => return storage(&e),
    };
    let kind = if reg.anonymous { PolicyKind::Anonymous } else { PolicyKind::Authenticated };
    let policy = match policies(app, name, kind).await {
        Ok(p) => p,
        Err(e) => return storage(&e),
    };
    let next = if policy.rotate_registration_token || presented_digest != old {
        token(app.rng.as_ref(), 32)
    } else {
        presented.clone()
    };
    let new = Digest::of(&next);
    match parts.method {
        Method::DELETE => {
            if let Err(e) = app.repos.delete_client(name, client_id).await {
                return storage(&e);
            }
            app.invalidate_client(name, client_id);
            guard::audit(app, name, "client.unregistered", None, Some(client_id), json!({})).await;
            let mut r = response::with_body(StatusCode::NO_CONTENT, "application/json", "");
            cors(&mut r);
            r
        }
        Method::GET => {
            match app.repos.rotate_registration_token(name, client_id, &old, &new).await {
                Ok(true) => {}
                Ok(false) => return invalid_token("the registration access token was already used"),
                Err(e) => return storage(&e),
            }
            if format == RegistrationFormat::Native {
                return native_response(app, realm, &client, &next, StatusCode::OK);
            }
            let metadata = match serde_json::from_str::<Value>(&reg.metadata) {
                Ok(Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            read_response(app, realm, &client, &metadata, &next)
        }
        _ => {
            let body = match json_body(&parts.headers, body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match format {
                RegistrationFormat::OpenIdConnect => {
                    update(app, realm, &client, &policy, body, (&old, &new, &next)).await
                }
                RegistrationFormat::Native => {
                    update_native(app, realm, &client, &reg, &policy, body, (&old, &new, &next)).await
                }
            }
        }
    }
}

/// Whether an update asks for a new client secret.
fn rotate_secret(body: &Value) -> bool {
    body.get("rotate_client_secret").and_then(Value::as_bool) == Some(true)
}

/// The client's current configuration with the (new) registration access token.
fn read_response(
    app: &App,
    realm: &RealmState,
    client: &Client,
    metadata: &serde_json::Map<String, Value>,
    rat: &str,
) -> Resp {
    let body = registration::response(
        client,
        metadata,
        client.client_secret.as_ref().map(|s| s.secret()),
        rat,
        &client_uri(app, realm, RegistrationFormat::OpenIdConnect, &client.client_id),
    );
    answer(StatusCode::OK, &Value::Object(body))
}

/// `PUT .../default/{client_id}`: the native representation; members not
/// given keep their values.
async fn update_native(
    app: &App,
    realm: &RealmState,
    client: &Client,
    reg: &ClientRegistration,
    policy: &Policies,
    body: Value,
    (old, new, next): (&Digest, &Digest, &str),
) -> Resp {
    let name = &realm.realm.name;
    let mut spec = match registration::native_spec(&body, Some(client)) {
        Ok(s) => s,
        Err(e) => return refused(&e),
    };
    if rotate_secret(&body) {
        spec.client_secret = None;
    }
    if let Err(r) = check_sector(app, &spec).await {
        return r;
    }
    let scope = (!spec.allowed_scopes.is_empty()).then(|| Scope::from_tokens(spec.allowed_scopes.clone()));
    if let Err(e) = policy.check_parts(&registration::spec_uris(&spec), scope.as_ref(), None, None) {
        return refused(&e);
    }
    policy.apply(&mut spec);
    let (mut updated, _) = match manage::new_client(name, spec, client.date_created, app.rng.as_ref()) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e),
    };
    updated.date_created = client.date_created;
    match app.repos.update_registered_client(&updated, &reg.metadata, old, new).await {
        Ok(true) => {}
        Ok(false) => return invalid_token("the registration access token was already used"),
        Err(e) => return storage(&e),
    }
    app.invalidate_client(name, &client.client_id);
    native_response(app, realm, &updated, next, StatusCode::OK)
}

/// `PUT`: the body replaces the metadata (RFC 7592 §2.2).
async fn update(
    app: &App,
    realm: &RealmState,
    client: &Client,
    policy: &Policies,
    body: Value,
    (old, new, next): (&Digest, &Digest, &str),
) -> Resp {
    let name = &realm.realm.name;
    // RFC 7592 §2.2: client_id must be the client's; a client_secret, if sent, must match.
    if body.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "client_id must be the client's own");
    }
    if let Some(sent) = body.get("client_secret").and_then(Value::as_str)
        && !client.client_secret.as_ref().is_some_and(|s| s.ct_eq(sent))
    {
        return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "client_secret does not match");
    }
    let md: Metadata = match parse_metadata(&body, &realm.keys.algs()) {
        Ok(m) => m,
        Err(e) => return refused(&e),
    };
    // Updates obey the same policies as the registration did (URIs on trusted hosts, scopes).
    if let Err(e) = policy.check(&md, None, None) {
        return refused(&e);
    }
    let mut spec = md.to_spec(&app.config.scopes);
    // The client keeps its identity and secret; a public/confidential switch is refused.
    if spec.client_type != client.client_type {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "token_endpoint_auth_method cannot switch between none and a secret",
        );
    }
    spec.client_id = Some(client.client_id.clone());
    // `"rotate_client_secret": true` asks for a new secret (RFC 7592 §2.2 lets the
    // server issue one); the old secret stops working at once.
    spec.client_secret = if rotate_secret(&body) { None } else { client.client_secret.clone() };
    spec.enabled = client.enabled;
    policy.apply(&mut spec);
    if let Err(r) = check_sector(app, &spec).await {
        return r;
    }
    let (mut updated, _) = match manage::new_client(name, spec, client.date_created, app.rng.as_ref()) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e),
    };
    updated.date_created = client.date_created;
    let metadata = md.to_json();
    match app.repos.update_registered_client(&updated, &Value::Object(metadata.clone()).to_string(), old, new).await {
        Ok(true) => {}
        Ok(false) => return invalid_token("the registration access token was already used"),
        Err(e) => return storage(&e),
    }
    app.invalidate_client(name, &client.client_id);
    read_response(app, realm, &updated, &metadata, next)
}
