//! The client registration service (Keycloak's layout):
//! `POST /realms/{realm}/clients-registrations/{openid-connect|default}`
//! registers a client (OIDC Dynamic Client Registration 1.0, RFC 7591, or
//! Keycloak's client representation), `GET`/`PUT`/`DELETE .../{client_id}`
//! read, replace and delete it (RFC 7592), and `GET .../install/{client_id}`
//! returns Keycloak's adapter configuration for it.
//!
//! Each call is authorized before anything else happens (no outbound fetch,
//! no policy choice on an unverified token): by an initial access token, by
//! a bearer access token whose holder has a realm role (`create-client`,
//! `view-clients`, `manage-clients`), or by the client's registration access
//! token, which rotates on every use unless a policy turns rotation off.

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use oidc_core::ids::{ClientId, RealmName, UserId};
use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::{Client, ClientType, TokenAuthMethod};
use oidc_core::rand::token;
use oidc_core::registration::{
    self, ClientRegistration, Metadata, Policies, PolicyKind, RegistrationError, parse_metadata,
};
use oidc_core::repo::{Registered, RepoError, RoleHolder};
use oidc_core::scope::Scope;
use oidc_core::secret::{Digest, ct_eq};
use serde_json::{Value, json};

use super::keycloak;
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

fn bad_metadata(description: &str) -> Resp {
    error(StatusCode::BAD_REQUEST, "invalid_client_metadata", description)
}

fn storage(e: &RepoError) -> Resp {
    crate::log::error(&format!("storage: {e}"));
    error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the request could not be completed, please try again")
}

/// The bearer token of the request, if any; a malformed header is an error.
// The error is the finished response, built once per request: boxing it gains nothing.
#[allow(clippy::result_large_err)]
fn bearer(headers: &HeaderMap) -> Result<Option<String>, Resp> {
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
async fn json_body(headers: &HeaderMap, body: Incoming) -> Result<Value, Resp> {
    let is_json = header(headers, CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(bad_metadata("the body must be application/json"));
    }
    let bytes = request::read_body(body).await.map_err(|e| bad_metadata(&e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_metadata(&format!("the body is not JSON: {e}")))
}

/// What a bearer access token of this realm may do: the roles of its user,
/// or of its client's service account (a `client_credentials` token).
/// `Ok(None)` when the token is not an access token of this realm.
async fn access_token_roles(app: &App, realm: &str, presented: &str) -> Result<Option<Vec<String>>, Resp> {
    let rec = match app.repos.access_token(RealmName::new(realm), &Digest::of(presented)).await {
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
    app.repos.roles(RealmName::new(realm), &holder).await.map(Some).map_err(|e| storage(&e))
}

fn lacks_role(role: &str) -> Resp {
    error(StatusCode::FORBIDDEN, "insufficient_scope", &format!("the token's holder does not have the '{role}' role"))
}

/// OIDC Registration §5: the document at a pairwise client's
/// sector_identifier_uri is a JSON array that lists every redirect URI.
/// Only called once the request is authorized.
async fn check_sector(app: &App, spec: &ClientSpec) -> Result<(), Resp> {
    let Some(uri) = &spec.sector_identifier_uri else { return Ok(()) };
    let bad = |why: String| bad_metadata(&format!("sector_identifier_uri: {why}"));
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
    Ok(match app.repos.policies(RealmName::new(realm), kind).await? {
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
        RegistrationFormat::Keycloak => "default",
        RegistrationFormat::Install => "install",
    };
    format!(
        "{}/realms/{}/clients-registrations/{provider}/{}",
        app.config.base_url,
        realm.realm.name,
        oidc_core::params::form_urlencode(client_id)
    )
}

/// Keycloak's representation of the client, with the registration access token when the caller gets one.
fn keycloak_response(app: &App, client: &Client, rat: Option<&str>, status: StatusCode) -> Resp {
    let rep = keycloak::to_representation(client, &app.config.scopes, rat);
    match serde_json::to_value(&rep) {
        Ok(body) => answer(status, &body),
        Err(e) => {
            crate::log::error(&format!("serializing a client representation: {e}"));
            error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the client could not be represented")
        }
    }
}

/// The requester's address, for the trusted-hosts policy.
fn requester(parts: &hyper::http::request::Parts) -> String {
    parts.extensions.get::<PeerAddr>().map_or_else(String::new, |p| p.0.to_string())
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
        (Method::POST, None) if format != RegistrationFormat::Install => register(app, realm, format, req).await,
        (Method::GET, Some(id)) if format == RegistrationFormat::Install => install(app, realm, &id, req).await,
        (Method::GET | Method::PUT | Method::DELETE, Some(id)) if format != RegistrationFormat::Install => {
            configure(app, realm, format, &id, req).await
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "method not allowed here"),
    }
}

/// Who may register: the policy set that applies and the initial access
/// token to count, decided from a verified token only.
struct Registrant {
    kind: PolicyKind,
    initial_token: Option<Digest>,
}

/// Authorizes a registration. A bearer value must be a valid token: an
/// access token whose holder has `create-client` or `manage-clients`, or an
/// initial access token that is unexpired and not used up (its use is
/// counted atomically when the client is stored). Anything else is refused
/// here, so an invalid value never selects the authenticated policies.
async fn registrant(app: &App, realm: &str, headers: &HeaderMap) -> Result<Registrant, Resp> {
    let Some(presented) = bearer(headers)? else {
        return Ok(Registrant { kind: PolicyKind::Anonymous, initial_token: None });
    };
    match access_token_roles(app, realm, &presented).await? {
        Some(roles) if roles.iter().any(|r| r == "create-client" || r == "manage-clients") => {
            return Ok(Registrant { kind: PolicyKind::Authenticated, initial_token: None });
        }
        Some(_) => return Err(lacks_role("create-client")),
        None => {}
    }
    let digest = Digest::of(&presented);
    let now = app.clock.now();
    match app.repos.initial_token(RealmName::new(realm), &digest).await {
        Ok(Some(t)) if t.used < t.max_uses && t.expires_at.is_none_or(|e| e > now) => {
            Ok(Registrant { kind: PolicyKind::Authenticated, initial_token: Some(digest) })
        }
        Ok(_) => Err(invalid_token("the initial access token is unknown, expired or used up")),
        Err(e) => Err(storage(&e)),
    }
}

/// `POST .../{openid-connect|default}` (RFC 7591 §3).
async fn register(app: &App, realm: &RealmState, format: RegistrationFormat, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let name = &realm.realm.name;
    let who = match registrant(app, name, &parts.headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let policy = match policies(app, name, who.kind).await {
        Ok(p) => p,
        Err(e) => return storage(&e),
    };
    let requester = requester(&parts);
    if let Err(e) = policy.check_requester(&requester) {
        return refused(&e);
    }
    let body = match json_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let count = match app.repos.client_count(RealmName::new(name)).await {
        Ok(c) => c,
        Err(e) => return storage(&e),
    };
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
        _ => {
            let spec = match keycloak::parse(&body)
                .and_then(|rep| keycloak::to_spec(&rep, None, &app.config.scopes))
                .and_then(|spec| registration::check_registrant_change(None, &spec).map(|()| spec))
            {
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
    // RFC 9700 §4.15: a registrant must not choose a client_id that could be taken
    // for a resource owner (a user's sub) by a resource server.
    if let Some(chosen) = spec.client_id.as_deref() {
        match app.repos.user(RealmName::new(name), UserId::new(chosen)).await {
            Ok(None) => {}
            Ok(Some(_)) => return error(StatusCode::CONFLICT, "invalid_client_metadata", "Client Identifier in use"),
            Err(e) => return storage(&e),
        }
    }
    if let Err(r) = check_sector(app, &spec).await {
        return r;
    }
    let (client, secret) = match manage::new_client(name, spec, now, app.rng.as_ref()) {
        Ok(c) => c,
        Err(e) => return bad_metadata(&e),
    };
    if client.jwt_alg.uses_realm_key() && realm.keys.active_for(client.jwt_alg).is_none() {
        return bad_metadata("the realm has no key for this id_token signing algorithm");
    }
    let rat = token(app.rng.as_ref(), 32);
    let anonymous = who.kind == PolicyKind::Anonymous;
    let reg = ClientRegistration {
        realm: name.clone(),
        client_id: client.client_id.clone(),
        token_digest: Digest::of(&rat),
        metadata: Value::Object(metadata.clone()).to_string(),
        anonymous,
        created_at: now,
    };
    match app.repos.register_client(&client, &reg, who.initial_token.as_ref(), now, policy.max_clients).await {
        Ok(Registered::Created) => {}
        Ok(Registered::TokenRefused) => {
            return invalid_token("the initial access token is unknown, expired or used up");
        }
        Ok(Registered::LimitReached) => {
            return refused(&RegistrationError::Policy {
                rule: "max-clients",
                reason: "the realm has reached its maximum number of clients".into(),
            });
        }
        Err(RepoError::Conflict(_)) => {
            // Keycloak answers a taken clientId as a conflict.
            return error(StatusCode::CONFLICT, "invalid_client_metadata", "Client Identifier in use");
        }
        Err(e) => return storage(&e),
    }
    guard::audit(
        app,
        name,
        "client.registered",
        None,
        Some(&client.client_id),
        json!({ "anonymous": anonymous, "address": requester }),
    )
    .await;
    let uri = client_uri(app, realm, format, &client.client_id);
    let mut r = match format {
        RegistrationFormat::OpenIdConnect => {
            let body = registration::response(&client, &metadata, secret.as_ref().map(|s| s.secret()), &rat, &uri);
            answer(StatusCode::CREATED, &Value::Object(body))
        }
        _ => keycloak_response(app, &client, Some(&rat), StatusCode::CREATED),
    };
    response::set_header(&mut r, "location", &uri);
    r
}

/// What a call on an existing client needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Read it (`view-clients` or `manage-clients`).
    View,
    /// Change or delete it (`manage-clients`).
    Manage,
}

/// A call on an existing client, authorized.
struct Authorized {
    client: Client,
    registration: Option<ClientRegistration>,
    /// The registration access token authorized the call (it rotates).
    by_registration_token: bool,
    presented: String,
    /// The policies the call is subject to: the anonymous ones for a
    /// registration access token obtained anonymously, else the authenticated ones.
    policy: Policies,
    requester: String,
}

/// Authorizes a call on client `client_id` (RFC 7592 §2): its registration
/// access token, or an access token whose holder has the role `need` asks
/// for, on any client of the realm, operator-created ones included.
async fn authorize_call(
    app: &App,
    realm: &str,
    client_id: &str,
    parts: &hyper::http::request::Parts,
    need: Need,
) -> Result<Authorized, Resp> {
    let presented = bearer(&parts.headers)?.ok_or_else(|| invalid_token("a registration access token is required"))?;
    let registration =
        app.repos.registration(RealmName::new(realm), ClientId::new(client_id)).await.map_err(|e| storage(&e))?;
    let digest = Digest::of(&presented);
    let by_registration_token =
        registration.as_ref().is_some_and(|r| ct_eq(digest.as_str().as_bytes(), r.token_digest.as_str().as_bytes()));
    if !by_registration_token {
        let needed: &[&str] = match need {
            Need::View => &["view-clients", "manage-clients"],
            Need::Manage => &["manage-clients"],
        };
        match access_token_roles(app, realm, &presented).await? {
            Some(roles) if roles.iter().any(|r| needed.contains(&r.as_str())) => {}
            Some(_) => return Err(lacks_role(needed[needed.len() - 1])),
            None => return Err(invalid_token("the registration access token is not valid for this client")),
        }
    }
    // RFC 7592 §2: an unknown client is answered 401.
    let client = match app.repos.client(RealmName::new(realm), ClientId::new(client_id)).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(invalid_token("the registration access token is not valid for this client")),
        Err(e) => return Err(storage(&e)),
    };
    let anonymous = by_registration_token && registration.as_ref().is_some_and(|r| r.anonymous);
    let kind = if anonymous { PolicyKind::Anonymous } else { PolicyKind::Authenticated };
    let policy = policies(app, realm, kind).await.map_err(|e| storage(&e))?;
    let requester = requester(parts);
    // Trusted Hosts holds on reads and deletions too (Keycloak's beforeView, beforeDelete).
    policy.check_requester(&requester).map_err(|e| refused(&e))?;
    Ok(Authorized { client, registration, by_registration_token, presented, policy, requester })
}

/// The registration access token after this call: rotated when it authorized
/// the call (unless the policy keeps it); `None` when the caller used a role.
fn next_token(app: &App, auth: &Authorized) -> Option<String> {
    if !auth.by_registration_token {
        return None;
    }
    Some(if auth.policy.rotate_registration_token { token(app.rng.as_ref(), 32) } else { auth.presented.clone() })
}

/// `GET`, `PUT`, `DELETE .../{client_id}` (RFC 7592 §2).
async fn configure(
    app: &App,
    realm: &RealmState,
    format: RegistrationFormat,
    client_id: &str,
    req: Request<Incoming>,
) -> Resp {
    let (parts, body) = req.into_parts();
    let name = &realm.realm.name;
    let need = if parts.method == Method::GET { Need::View } else { Need::Manage };
    let auth = match authorize_call(app, name, client_id, &parts, need).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let next = next_token(app, &auth);
    match parts.method {
        Method::DELETE => {
            if let Err(e) = app.repos.delete_client(RealmName::new(name), ClientId::new(client_id)).await {
                return storage(&e);
            }
            app.invalidate_client(name, client_id);
            guard::audit(app, name, "client.unregistered", None, Some(client_id), json!({})).await;
            let mut r = response::with_body(StatusCode::NO_CONTENT, "application/json", "");
            cors(&mut r);
            r
        }
        Method::GET => {
            if let (Some(reg), Some(next)) = (&auth.registration, &next) {
                match app
                    .repos
                    .rotate_registration_token(
                        RealmName::new(name),
                        ClientId::new(client_id),
                        &reg.token_digest,
                        &Digest::of(next),
                    )
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return invalid_token("the registration access token was already used"),
                    Err(e) => return storage(&e),
                }
            }
            if format == RegistrationFormat::Keycloak {
                return keycloak_response(app, &auth.client, next.as_deref(), StatusCode::OK);
            }
            let metadata = stored_metadata(&auth);
            oidc_response(app, realm, &auth.client, &metadata, next.as_deref())
        }
        _ => {
            let body = match json_body(&parts.headers, body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let update = match format {
                RegistrationFormat::OpenIdConnect => oidc_update(app, realm, &auth, &body),
                _ => keycloak_update(app, &auth, &body),
            };
            let (spec, metadata) = match update {
                Ok(u) => u,
                Err(r) => return r,
            };
            save_update(app, realm, format, &auth, spec, metadata, next, rotate_secret(&body)).await
        }
    }
}

/// The RFC 7591 metadata of the client: as registered, or derived from the client.
fn stored_metadata(auth: &Authorized) -> serde_json::Map<String, Value> {
    match auth.registration.as_ref().map(|r| serde_json::from_str::<Value>(&r.metadata)) {
        Some(Ok(Value::Object(m))) if !m.is_empty() => m,
        _ => Metadata::of_client(&auth.client).to_json(),
    }
}

/// Whether an update asks for a new client secret (an extension of both
/// representations; RFC 7592 §2.2 lets the server issue one).
fn rotate_secret(body: &Value) -> bool {
    body.get("rotate_client_secret").and_then(Value::as_bool) == Some(true)
}

/// The client's configuration as RFC 7591 metadata with the (new) registration access token.
fn oidc_response(
    app: &App,
    realm: &RealmState,
    client: &Client,
    metadata: &serde_json::Map<String, Value>,
    rat: Option<&str>,
) -> Resp {
    let mut body = registration::response(
        client,
        metadata,
        client.client_secret.as_ref().map(|s| s.secret()),
        rat.unwrap_or(""),
        &client_uri(app, realm, RegistrationFormat::OpenIdConnect, &client.client_id),
    );
    if rat.is_none() {
        body.remove("registration_access_token");
    }
    answer(StatusCode::OK, &Value::Object(body))
}

/// `PUT .../default/{client_id}`: Keycloak's representation; members not given keep their values.
#[allow(clippy::result_large_err)]
fn keycloak_update(
    app: &App,
    auth: &Authorized,
    body: &Value,
) -> Result<(ClientSpec, Option<serde_json::Map<String, Value>>), Resp> {
    let rep = keycloak::parse(body).map_err(|e| refused(&e))?;
    // The registration access token echoed from a read is accepted when it is the one presented.
    if let Some(t) = &rep.registration_access_token
        && !ct_eq(t.as_bytes(), auth.presented.as_bytes())
        && auth.registration.as_ref().is_none_or(|r| Digest::of(t) != r.token_digest)
    {
        return Err(bad_metadata("registrationAccessToken is issued by the provider and cannot be set"));
    }
    let spec = keycloak::to_spec(&rep, Some(&auth.client), &app.config.scopes).map_err(|e| refused(&e))?;
    Ok((spec, None))
}

/// `PUT .../openid-connect/{client_id}`: the body replaces the metadata (RFC 7592 §2.2).
#[allow(clippy::result_large_err)]
fn oidc_update(
    app: &App,
    realm: &RealmState,
    auth: &Authorized,
    body: &Value,
) -> Result<(ClientSpec, Option<serde_json::Map<String, Value>>), Resp> {
    let client = &auth.client;
    // RFC 7592 §2.2: client_id must be the client's; a client_secret, if sent, must match.
    if body.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
        return Err(bad_metadata("client_id must be the client's own"));
    }
    if let Some(sent) = body.get("client_secret").and_then(Value::as_str)
        && !client.client_secret.as_ref().is_some_and(|s| s.ct_eq(sent))
    {
        return Err(bad_metadata("client_secret does not match"));
    }
    let md: Metadata = parse_metadata(body, &realm.keys.algs()).map_err(|e| refused(&e))?;
    let mut spec = md.to_spec(&app.config.scopes);
    // The client keeps its identity; a public/confidential switch is refused.
    if spec.client_type != client.client_type {
        return Err(bad_metadata("token_endpoint_auth_method cannot switch between none and a secret"));
    }
    // What RFC 7591 metadata does not describe stays as it is.
    let kept = &client.settings;
    spec.enabled = kept.enabled;
    spec.require_consent = kept.require_consent;
    spec.reuse_consent = kept.reuse_consent;
    spec.full_scope_allowed = kept.full_scope_allowed;
    spec.role_scope.clone_from(&kept.role_scope);
    spec.default_scopes.clone_from(&kept.default_scopes);
    spec.description.clone_from(&kept.description);
    spec.root_url.clone_from(&kept.root_url);
    spec.web_origins.clone_from(&kept.web_origins);
    spec.pkce_method = kept.pkce_method;
    if !spec.allowed_scopes.is_empty() {
        let set = &mut spec.settings;
        set.default_scopes.retain(|s| set.allowed_scopes.contains(s));
    }
    Ok((spec, Some(md.to_json())))
}

#[allow(clippy::too_many_arguments)]
/// Checks an update against the registrant rules and the policies, fetches
/// a sector identifier document, and stores the client with its rotated token.
async fn save_update(
    app: &App,
    realm: &RealmState,
    format: RegistrationFormat,
    auth: &Authorized,
    mut spec: ClientSpec,
    metadata: Option<serde_json::Map<String, Value>>,
    next: Option<String>,
    new_secret: bool,
) -> Resp {
    let name = &realm.realm.name;
    let client = &auth.client;
    spec.client_id = Some(client.client_id.clone());
    // `"rotate_client_secret": true` asks for a new secret; the old one stops working at once.
    spec.client_secret = if new_secret { None } else { client.client_secret.clone() };
    if let Err(e) = registration::check_registrant_change(Some(client), &spec) {
        return refused(&e);
    }
    // Keycloak's beforeUpdate: consent, enabled state, full scope, scopes and URIs.
    if let Err(e) = auth.policy.check_update(client, &spec, Some(&auth.requester)) {
        return refused(&e);
    }
    if spec.client_type == ClientType::Confidential && client.client_type == ClientType::Confidential {
        // A method that needs no secret cannot be chosen by a confidential client here.
        if spec.token_endpoint_auth_method == Some(TokenAuthMethod::None) {
            return bad_metadata("a confidential client authenticates with its secret or keys");
        }
    }
    if let Err(r) = check_sector(app, &spec).await {
        return r;
    }
    let (mut updated, _) = match manage::new_client(name, spec, client.date_created, app.rng.as_ref()) {
        Ok(c) => c,
        Err(e) => return bad_metadata(&e),
    };
    updated.date_created = client.date_created;
    let stored = match (&metadata, &auth.registration) {
        (Some(m), _) => Value::Object(m.clone()).to_string(),
        (None, Some(reg)) => reg.metadata.clone(),
        (None, None) => String::new(),
    };
    let result = match &auth.registration {
        Some(reg) => {
            let new = next.as_deref().map_or_else(|| reg.token_digest.clone(), Digest::of);
            app.repos.update_registered_client(&updated, &stored, &reg.token_digest, &new).await
        }
        None => app.repos.update_client(&updated).await.map(|()| true),
    };
    match result {
        Ok(true) => {}
        Ok(false) => return invalid_token("the registration access token was already used"),
        Err(e) => return storage(&e),
    }
    app.invalidate_client(name, &client.client_id);
    match format {
        RegistrationFormat::OpenIdConnect => {
            let md = metadata.unwrap_or_else(|| Metadata::of_client(&updated).to_json());
            oidc_response(app, realm, &updated, &md, next.as_deref())
        }
        _ => keycloak_response(app, &updated, next.as_deref(), StatusCode::OK),
    }
}

/// `GET .../install/{client_id}`: Keycloak's OIDC adapter configuration
/// (`keycloak.json`, its "Keycloak OIDC JSON" installation provider) for the
/// client; read permission as for `GET .../default/{client_id}`, and the
/// registration access token does not rotate.
async fn install(app: &App, realm: &RealmState, client_id: &str, req: Request<Incoming>) -> Resp {
    let (parts, _) = req.into_parts();
    let auth = match authorize_call(app, &realm.realm.name, client_id, &parts, Need::View).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let c = &auth.client;
    let mut doc = serde_json::Map::new();
    doc.insert("realm".into(), json!(realm.realm.name));
    doc.insert("auth-server-url".into(), json!(format!("{}/", app.config.base_url)));
    let ssl = if app.config.base_url.starts_with("https://") { "external" } else { "none" };
    doc.insert("ssl-required".into(), json!(ssl));
    doc.insert("resource".into(), json!(c.client_id));
    if c.client_type == ClientType::Public {
        doc.insert("public-client".into(), json!(true));
    } else if let Some(secret) = &c.client_secret {
        let credentials = match c.token_endpoint_auth_method {
            Some(TokenAuthMethod::ClientSecretJwt) => json!({ "secret-jwt": { "secret": secret.secret() } }),
            Some(TokenAuthMethod::PrivateKeyJwt) => json!({}),
            _ => json!({ "secret": secret.secret() }),
        };
        doc.insert("credentials".into(), credentials);
    }
    doc.insert("confidential-port".into(), json!(0));
    answer(StatusCode::OK, &Value::Object(doc))
}
