//! The UserInfo endpoint (OIDC Core §5.3) as an RFC 6750 protected resource.

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use oidc_core::claims::ClaimsRequest;
use oidc_core::{ErrorCode, OAuthError, userinfo};
use serde_json::Value;

use crate::app::{App, RealmState};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, BearerError, Resp};

/// `GET` or `POST /realms/{realm}/protocol/openid-connect/userinfo`.
pub(crate) async fn userinfo(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let query = request::pairs(parts.uri.query().unwrap_or("").as_bytes());
    let query_token = query.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.clone());
    // RFC 6750 §2.2: a form body may carry the token.
    let form_token = if parts.method == Method::POST && request::is_form(&parts.headers) {
        match request::read_form(&parts.headers, body).await {
            Ok(f) => f.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v),
            Err(e) => {
                return BearerError(Some(&OAuthError::invalid_request(e.to_string())), &realm.realm.name).to_response();
            }
        }
    } else {
        None
    };
    let token = match userinfo::bearer_token(
        header(&parts.headers, AUTHORIZATION),
        form_token.as_deref(),
        query_token.as_deref(),
    ) {
        Ok(Some(t)) => t,
        Ok(None) => return BearerError(None, &realm.realm.name).to_response(),
        Err(e) => return BearerError(Some(&e), &realm.realm.name).to_response(),
    };
    let name = &realm.realm.name;
    let fail = |e: OAuthError| BearerError(Some(&e), name).to_response();
    // The token and its user in one read.
    let (record, user) = match app.repos.access_token_with_user(name, &token.digest()).await {
        Ok(Some((r, u))) => (Some(r), u),
        Ok(None) => (None, None),
        Err(e) => {
            crate::log::error(&format!("storage: {e}"));
            return fail(OAuthError::server_error("the request could not be completed"));
        }
    };
    // OIDC Core §5.3: the token must come from an OpenID Connect request.
    let record = match userinfo::check_access_token(record, &["openid"], app.clock.now()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // A client_credentials token has no end-user to describe.
    if record.user_id.is_none() {
        return fail(OAuthError::new(ErrorCode::InvalidToken, "this access token was not issued for a user"));
    }
    let user = match user {
        Some(u) if u.active => u,
        _ => return fail(OAuthError::new(ErrorCode::InvalidToken, "the user of this token is not active")),
    };
    let client = match app.client(name, &record.client_id).await {
        Ok(Some(c)) if c.enabled => c,
        Ok(_) => return fail(OAuthError::new(ErrorCode::InvalidToken, "the client of this token is disabled or gone")),
        Err(e) => {
            crate::log::error(&format!("storage: {e}"));
            return fail(OAuthError::server_error("the request could not be completed"));
        }
    };
    // The scope's claims and those asked for individually (OIDC Core §5.5), then the hooks.
    let request = record.claims.as_deref().and_then(|c| ClaimsRequest::parse(c).ok());
    let requested = request.as_ref().map(ClaimsRequest::userinfo_names).unwrap_or_default();
    let names = userinfo::released(&app.config.scopes, &record.scope, &requested);
    let mut claims = userinfo::claims_for(&user, &app.subject(realm, &user, &client), &names);
    app.hooks.process_userinfo(&mut claims, &user, &client, &record.scope);
    // OIDC Core §5.3.2: a client that registered userinfo_signed_response_alg gets a JWT with iss and aud.
    if let Some(alg) = client.userinfo_signed_response_alg {
        claims.insert("iss".into(), Value::from(realm.issuer.clone()));
        claims.insert("aud".into(), Value::from(client.client_id.clone()));
        let signed = match (alg, client.client_secret.as_ref()) {
            (oidc_core::model::JwtAlg::Hs256, Some(secret)) => {
                Some(oidc_core::jose::sign_hs256(&claims, secret.secret().as_bytes()))
            }
            (alg, _) => realm.keys.active_for(alg).map(|k| k.sign(&claims)),
        };
        let Some(jwt) = signed else {
            crate::log::error(&format!("realm '{name}' has no key to sign userinfo with {}", alg.as_str()));
            return fail(OAuthError::server_error("the response could not be signed"));
        };
        let mut r = response::with_body(StatusCode::OK, "application/jwt", jwt);
        response::no_store(&mut r);
        response::cors(&mut r);
        return r;
    }
    let mut r = response::json_no_store(StatusCode::OK, Value::Object(claims).to_string());
    response::cors(&mut r);
    r
}
