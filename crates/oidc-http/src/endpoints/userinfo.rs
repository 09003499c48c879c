//! The UserInfo endpoint (OIDC Core §5.3) as an RFC 6750 protected resource.

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use oidc_core::ids::RealmName;
use oidc_core::repo::RoleHolder;
use oidc_core::userinfo::{UserInfoInput, UserInfoResponse};
use oidc_core::{ErrorCode, OAuthError, userinfo};
use serde_json::Value;

use crate::app::{App, RealmState};
use crate::request::{self, header};
use crate::response::{self, ApiError as _, BearerError, Resp};

/// `GET` or `POST /realms/{realm}/protocol/openid-connect/userinfo`.
pub(crate) async fn userinfo(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let origin = header(&parts.headers, hyper::header::ORIGIN).map(str::to_owned);
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
    // The token and its user in one read, then its client; the rules are the core's.
    let found = match app.repos.access_token_with_user(RealmName::new(name), &token.digest()).await {
        Ok(f) => f,
        Err(e) => {
            crate::log::error(&format!("storage: {e}"));
            return fail(OAuthError::server_error("the request could not be completed"));
        }
    };
    let client = match &found {
        Some((record, _)) => match app.client(name, &record.client_id).await {
            Ok(c) => c,
            Err(e) => {
                crate::log::error(&format!("storage: {e}"));
                return fail(OAuthError::server_error("the request could not be completed"));
            }
        },
        None => None,
    };
    // Keycloak's `roles` client scope: the user's roles, read only when the token has it.
    let roles = match &found {
        Some((record, _)) if let Some(user_id) = &record.user_id => {
            match app.roles_for(name, &RoleHolder::User(user_id.clone()), &record.scope).await {
                Ok(r) => r,
                Err(e) => {
                    crate::log::error(&format!("storage: {e}"));
                    return fail(OAuthError::server_error("the request could not be completed"));
                }
            }
        }
        _ => Vec::new(),
    };
    let answer = userinfo::respond(UserInfoInput {
        found,
        client: client.as_deref(),
        issuer: &realm.issuer,
        realm_secret: &realm.realm.secret_key,
        registry: &app.config.scopes,
        hooks: &app.hooks,
        keys: &realm.keys,
        roles: &roles,
        now: app.clock.now(),
    });
    let mut r = match answer {
        Ok(UserInfoResponse::Json(claims)) => {
            response::json_no_store(StatusCode::OK, Value::Object(claims).to_string())
        }
        Ok(UserInfoResponse::Jwt(jwt)) => {
            let mut r = response::with_body(StatusCode::OK, "application/jwt", jwt);
            response::no_store(&mut r);
            r
        }
        Err(e) => {
            if e.code == ErrorCode::ServerError {
                crate::log::error(&format!("realm '{name}': {}", e.description));
            }
            return fail(e);
        }
    };
    // Browser-based clients read claims from their registered origins only.
    if let Some(c) = &client {
        response::cors_for_client(&mut r, origin.as_deref(), c);
    }
    r
}
