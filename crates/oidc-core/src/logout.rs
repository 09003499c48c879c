//! Logout: OpenID Connect RP-Initiated Logout 1.0 (the end_session
//! endpoint), Front-Channel Logout 1.0 and Back-Channel Logout 1.0.
//!
//! ```text
//!  params ──parse──▶ LogoutRequest ──check(Client?, keys)──▶ Checked ──decide(session, its clients)──▶ LogoutDecision
//!                         │                                      │                                     ├─ NoSession
//!                         ▼                                      ▼                                     ├─ Confirm (ask the user)
//!                     (the adapter loads                    ErrorPage                                  └─ Logout
//!                      client_to_load())
//! ```
//!
//! A logout request that cannot be attributed to an application the user is
//! signed in to (no valid `id_token_hint` of this session) is confirmed by the
//! user first (RP-Initiated Logout 1.0 §2: "the OP SHOULD ask the End-User
//! whether to log out"), so that a cross-site link cannot sign anyone out.
//! The adapter then ends the session and notifies the session's clients:
//! [`frontchannel_url`] in iframes of the logged-out page, and a signed
//! [`logout_token`] POSTed to each back-channel URI.

use serde_json::{Map, Value, json};

use crate::error::OAuthError;
use crate::idtoken::{self, IdTokenHint};
use crate::jose::KeySet;
use crate::model::{Client, JwtAlg, LoginSession};
use crate::params::{Params, append_params};
use crate::time::UnixTime;

/// The event type of a logout token (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header of logout tokens (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// How long a logout token is valid, in seconds (it is delivered at once).
pub const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// The parameters of an end_session request (RP-Initiated Logout 1.0 §2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    /// A previously issued id_token naming the user and the client.
    pub id_token_hint: Option<String>,
    /// The client asking.
    pub client_id: Option<String>,
    /// Where to send the browser afterwards, if registered for the client.
    pub post_logout_redirect_uri: Option<String>,
    /// Returned to the post_logout_redirect_uri unchanged.
    pub state: Option<String>,
    /// Languages for the pages shown.
    pub ui_locales: Option<String>,
}

/// Reads an end_session request (GET query or POST form).
pub fn parse(params: &Params) -> LogoutRequest {
    let get = |n: &str| params.get(n).filter(|v| !v.is_empty()).map(str::to_owned);
    LogoutRequest {
        id_token_hint: get("id_token_hint"),
        client_id: get("client_id"),
        post_logout_redirect_uri: get("post_logout_redirect_uri"),
        state: get("state"),
        ui_locales: get("ui_locales"),
    }
}

/// A logout request checked against its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The client the request comes from, if it names one.
    pub client_id: Option<String>,
    /// The verified id_token_hint.
    pub hint: Option<IdTokenHint>,
    /// The registered post_logout_redirect_uri with `state` appended, when the
    /// browser is to be sent there.
    pub redirect: Option<String>,
    /// The request's parameters, to carry through the confirmation form.
    pub request: LogoutRequest,
}

/// What the end_session endpoint does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogoutDecision {
    /// The browser has no session: nothing to end; show the logged-out page
    /// (or go to the redirect).
    NoSession,
    /// Ask the user to confirm first: the request cannot be attributed to an
    /// application of this session.
    Confirm,
    /// End the session now.
    Logout,
}

impl LogoutRequest {
    /// The client the adapter should load: `client_id`, or else the first
    /// audience of the (not yet verified) id_token_hint.
    pub fn client_to_load(&self) -> Option<String> {
        self.client_id
            .clone()
            .or_else(|| self.id_token_hint.as_deref().and_then(|h| idtoken::unverified_audiences(h).into_iter().next()))
    }

    /// Checks the request against the client the adapter loaded for
    /// [`Self::client_to_load`] (`None` when there is no such client):
    /// the hint must be an id_token this realm issued to that client
    /// (§2: "the OP MUST validate that it was the issuer"; with both
    /// parameters, "the OP MUST verify that the Client Identifier matches");
    /// the post_logout_redirect_uri is used only when it is registered for
    /// the client (§3), otherwise the user stays on the OP's logged-out page.
    pub fn check(self, client: Option<&Client>, keys: &KeySet, issuer: &str) -> Result<Checked, OAuthError> {
        let named = self.client_to_load();
        let client = match (named.as_deref(), client) {
            (None, _) => None,
            (Some(id), Some(c)) if c.client_id == id => Some(c),
            (Some(_), _) => {
                let what = if self.client_id.is_some() { "client_id" } else { "the audience of id_token_hint" };
                return Err(OAuthError::invalid_request(format!("{what} names no client of this realm")));
            }
        };
        let hint = match (&self.id_token_hint, client) {
            (Some(h), Some(c)) => Some(
                idtoken::verify_hint(h, keys, c, issuer)
                    .map_err(|why| OAuthError::invalid_request(format!("id_token_hint {why}")))?,
            ),
            _ => None,
        };
        let redirect = match (&self.post_logout_redirect_uri, client) {
            (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                let state: Vec<(&str, &str)> = self.state.as_deref().map(|s| vec![("state", s)]).unwrap_or_default();
                Some(append_params(uri, &state, false))
            }
            _ => None,
        };
        Ok(Checked { client_id: client.map(|c| c.client_id.clone()), hint, redirect, request: self })
    }
}

impl Checked {
    /// Decides from the browser's session, the clients that session issued
    /// tokens to, and whether the hint's `sub` is the session user's subject
    /// for the hint's client. The request is attributed to the session when
    /// its hint was issued to one of the session's clients for the session's
    /// user, and (when it carries `sid`) in this very session.
    pub fn decide(
        &self,
        session: Option<&LoginSession>,
        session_clients: &[String],
        hint_names_user: bool,
    ) -> LogoutDecision {
        let Some(session) = session else { return LogoutDecision::NoSession };
        let attributed = match (&self.hint, &self.client_id) {
            (Some(hint), Some(client_id)) => {
                hint_names_user
                    && session_clients.iter().any(|c| c == client_id)
                    && hint.session_id.as_ref().is_none_or(|sid| *sid == session.id)
            }
            _ => false,
        };
        if attributed { LogoutDecision::Logout } else { LogoutDecision::Confirm }
    }
}

/// The front-channel logout URL of `client` for a session (Front-Channel
/// Logout 1.0 §2-§3): its `frontchannel_logout_uri` with `iss` and `sid`.
pub fn frontchannel_url(client: &Client, issuer: &str, session_id: &str) -> Option<String> {
    let uri = client.logout.frontchannel_uri.as_deref()?;
    Some(append_params(uri, &[("iss", issuer), ("sid", session_id)], false))
}

/// The claims of a logout token (Back-Channel Logout 1.0 §2.4): `iss`,
/// `aud`, `iat`, `exp`, `jti`, the `events` member naming the back-channel
/// logout event, `sub` and `sid`; never a `nonce`.
pub fn logout_token_claims(
    issuer: &str,
    client_id: &str,
    subject: &str,
    session_id: Option<&str>,
    jti: &str,
    now: UnixTime,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("sub".into(), json!(subject));
    c.insert("aud".into(), json!(client_id));
    c.insert("iat".into(), json!(now.secs()));
    c.insert("exp".into(), json!(now.plus(LOGOUT_TOKEN_LIFETIME).secs()));
    c.insert("jti".into(), json!(jti));
    c.insert("events".into(), json!({ BACKCHANNEL_EVENT: {} }));
    if let Some(sid) = session_id {
        c.insert("sid".into(), json!(sid));
    }
    c
}

/// Signs a logout token as the client's id_tokens are signed, with header
/// `typ: logout+jwt` (Back-Channel Logout 1.0 §2.4); a client whose
/// id_tokens are unsigned gets one signed with the realm's RS256 key, as a
/// logout token must never use `none`.
pub fn logout_token(claims: &Map<String, Value>, client: &Client, keys: &KeySet) -> Result<String, OAuthError> {
    match (client.jwt_alg, client.client_secret.as_ref()) {
        (JwtAlg::Hs256, Some(secret)) => {
            Ok(crate::jose::sign_hs256_typed(claims, secret.secret().as_bytes(), LOGOUT_TOKEN_TYP))
        }
        (alg, _) => {
            let alg = if alg.uses_realm_key() { alg } else { JwtAlg::Rs256 };
            let key = keys.active_for(alg).or_else(|| keys.active()).ok_or_else(|| {
                OAuthError::server_error(format!("the realm has no active {} signing key", alg.as_str()))
            })?;
            Ok(key.sign_typed(claims, LOGOUT_TOKEN_TYP))
        }
    }
}

#[cfg(test)]
mod tests;
