//! The extension points of django-oidc-provider's settings, as traits with
//! defaults, for embedders:
//!
//! | seed setting | here |
//! |---|---|
//! | `OIDC_IDTOKEN_SUB_GENERATOR` | [`crate::subject::SubjectGenerator`] |
//! | `OIDC_USERINFO` | [`UserInfoHook`] |
//! | `OIDC_IDTOKEN_PROCESSING_HOOK` (a list, applied in order) | [`IdTokenHook`] |
//! | `OIDC_AFTER_USERLOGIN_HOOK` | [`AfterLoginHook`] |
//! | signals `user_accept_consent`, `user_decline_consent` | [`ConsentListener`] |
//! | `OIDC_INTROSPECTION_PROCESSING_HOOK` | [`IntrospectionHook`] |
//! | `OIDC_AFTER_END_SESSION_HOOK` | [`AfterEndSessionHook`] |
//!
//! The flows of this crate call the id_token and userinfo hooks through
//! [`Hooks`]; the adapter calls the after-login and after-end-session hooks
//! and the listeners.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::{Client, User};
use crate::scope::Scope;
use crate::subject::{DefaultSubjects, SubjectGenerator};
use crate::time::UnixTime;

/// Adds or changes UserInfo claims (the seed's `OIDC_USERINFO`). Runs after
/// the standard and custom scope claims were filled in; `sub` cannot change.
pub trait UserInfoHook: Send + Sync {
    /// Changes `claims` for `user`, `client` and the granted `scope`.
    fn userinfo(&self, claims: &mut Map<String, Value>, user: &User, client: &Client, scope: &Scope);
}

/// Changes an id_token's claims before it is signed (the seed's
/// `OIDC_IDTOKEN_PROCESSING_HOOK`). Protocol claims (`iss`, `sub`, `aud`,
/// `exp`, `iat`, `auth_time`, `nonce`, `at_hash`, `c_hash`, `azp`, `sid`)
/// are restored after the hooks ran, so a hook cannot break verification.
pub trait IdTokenHook: Send + Sync {
    /// Changes `claims` for `user`, `client` and the granted `scope`.
    fn process(&self, claims: &mut Map<String, Value>, user: &User, client: &Client, scope: &Scope);
}

/// Changes the answer of the introspection endpoint for an active token
/// (the seed's `OIDC_INTROSPECTION_PROCESSING_HOOK`, RFC 7662 §2.2 allows
/// extension members). The members RFC 7662 §2.2 defines (`active`, `iss`,
/// `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`, `client_id`, `token_type`,
/// `username`, `sid`) are restored after the hooks ran.
pub trait IntrospectionHook: Send + Sync {
    /// Changes `response` about a token of `token_client` for `user` (none
    /// for a client's own token) with `scope`, asked by `caller`.
    fn process(
        &self,
        response: &mut Map<String, Value>,
        caller: &Client,
        token_client: &Client,
        user: Option<&User>,
        scope: &Scope,
    );
}

/// What happens right after a successful login (the seed's `OIDC_AFTER_USERLOGIN_HOOK`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterLogin {
    /// Go on with the authorization request.
    Continue,
    /// Send the browser to this URL first; the adapter appends a `return_to`
    /// parameter with the authorization URL to come back to.
    Redirect(String),
}

/// Decides what happens after a login, e.g. to ask for terms acceptance.
pub trait AfterLoginHook: Send + Sync {
    /// Called once the user's password was verified, for `client` (none for
    /// the account page).
    fn after_login(&self, user: &User, client: Option<&Client>, now: UnixTime) -> AfterLogin;
}

/// A logout at the end_session endpoint, about to happen (the arguments of
/// the seed's `OIDC_AFTER_END_SESSION_HOOK`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSessionEvent {
    /// The realm.
    pub realm: String,
    /// The user being signed out.
    pub user_id: String,
    /// The login session's public id (`sid`).
    pub session_id: String,
    /// The client that asked, if known.
    pub client_id: Option<String>,
    /// The registered post_logout_redirect_uri the browser goes to next, if any.
    pub post_logout_redirect_uri: Option<String>,
    /// The request's `state`.
    pub state: Option<String>,
    /// When.
    pub at: UnixTime,
}

/// What happens after a logout (the seed's hook returns `None` to continue).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterEndSession {
    /// Go on: the post_logout_redirect_uri, or the logged-out page.
    Continue,
    /// Send the browser here instead (the session is ended all the same).
    Redirect(String),
}

/// Runs business logic when a user logs out at the end_session endpoint,
/// just before the session ends (the seed's `OIDC_AFTER_END_SESSION_HOOK`).
pub trait AfterEndSessionHook: Send + Sync {
    /// Called once per logout with what is known about it.
    fn after_end_session(&self, event: &EndSessionEvent) -> AfterEndSession;
}

/// A consent decision (the seed's `user_accept_consent` / `user_decline_consent` signals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentEvent {
    /// The realm.
    pub realm: String,
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// The scopes asked for.
    pub scope: Scope,
    /// When.
    pub at: UnixTime,
}

/// Hears consent decisions. Both methods do nothing by default.
pub trait ConsentListener: Send + Sync {
    /// The user allowed.
    fn consent_given(&self, _event: &ConsentEvent) {}
    /// The user declined.
    fn consent_declined(&self, _event: &ConsentEvent) {}
}

/// Fixed claims added to the id_tokens of one client, or of every client
/// (operator configuration such as a tenant name). Never overrides a claim
/// already present.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticClaims {
    /// The client whose id_tokens get the claims; `None` for all.
    pub client_id: Option<String>,
    /// The claims.
    pub claims: Map<String, Value>,
}

impl IdTokenHook for StaticClaims {
    fn process(&self, claims: &mut Map<String, Value>, _user: &User, client: &Client, _scope: &Scope) {
        if self.client_id.as_ref().is_some_and(|id| *id != client.client_id) {
            return;
        }
        for (k, v) in &self.claims {
            claims.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The introspection members no hook may change (RFC 7662 §2.2).
const INTROSPECTION_PROTECTED: &[&str] =
    &["active", "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "token_type", "username", "sid"];

/// The claims no hook may change in an id_token.
const PROTECTED: &[&str] =
    &["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "azp", "sid"];

/// Every hook, with the defaults: public or pairwise subjects, no extra
/// claims, continue after login, nobody listening.
#[derive(Clone)]
pub struct Hooks {
    /// Chooses `sub`.
    pub subjects: Arc<dyn SubjectGenerator>,
    /// UserInfo hooks, in order.
    pub userinfo: Vec<Arc<dyn UserInfoHook>>,
    /// id_token hooks, in order.
    pub id_token: Vec<Arc<dyn IdTokenHook>>,
    /// The after-login hook.
    pub after_login: Option<Arc<dyn AfterLoginHook>>,
    /// Consent listeners.
    pub consent: Vec<Arc<dyn ConsentListener>>,
    /// Introspection hooks, in order.
    pub introspection: Vec<Arc<dyn IntrospectionHook>>,
    /// The after-end-session hook.
    pub after_end_session: Option<Arc<dyn AfterEndSessionHook>>,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            subjects: Arc::new(DefaultSubjects),
            userinfo: Vec::new(),
            id_token: Vec::new(),
            after_login: None,
            consent: Vec::new(),
            introspection: Vec::new(),
            after_end_session: None,
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("userinfo", &self.userinfo.len())
            .field("id_token", &self.id_token.len())
            .field("after_login", &self.after_login.is_some())
            .field("consent", &self.consent.len())
            .field("introspection", &self.introspection.len())
            .field("after_end_session", &self.after_end_session.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs `hooks` over `claims`, then puts back the `protected` members as they were.
fn keeping(claims: &mut Map<String, Value>, protected: &[&str], hooks: impl FnOnce(&mut Map<String, Value>)) {
    let kept: Vec<(&str, Option<Value>)> = protected.iter().map(|k| (*k, claims.get(*k).cloned())).collect();
    hooks(claims);
    for (k, v) in kept {
        match v {
            Some(v) => {
                claims.insert(k.to_owned(), v);
            }
            None => {
                claims.remove(k);
            }
        }
    }
}

impl Hooks {
    /// Runs the id_token hooks in order, then restores the protocol claims.
    pub fn process_id_token(&self, claims: &mut Map<String, Value>, user: &User, client: &Client, scope: &Scope) {
        if self.id_token.is_empty() {
            return;
        }
        keeping(claims, PROTECTED, |claims| {
            for h in &self.id_token {
                h.process(claims, user, client, scope);
            }
        });
    }

    /// Runs the introspection hooks in order over an active answer, then
    /// restores the members of RFC 7662 §2.2.
    pub fn process_introspection(
        &self,
        response: &mut Map<String, Value>,
        caller: &Client,
        token_client: &Client,
        user: Option<&User>,
        scope: &Scope,
    ) {
        if self.introspection.is_empty() {
            return;
        }
        keeping(response, INTROSPECTION_PROTECTED, |response| {
            for h in &self.introspection {
                h.process(response, caller, token_client, user, scope);
            }
        });
    }

    /// Runs the UserInfo hooks in order; `sub` is restored afterwards.
    pub fn process_userinfo(&self, claims: &mut Map<String, Value>, user: &User, client: &Client, scope: &Scope) {
        let sub = claims.get("sub").cloned();
        for h in &self.userinfo {
            h.userinfo(claims, user, client, scope);
        }
        if let Some(sub) = sub {
            claims.insert("sub".into(), sub);
        }
    }

    /// The after-login decision (`Continue` without a hook).
    pub fn after_login(&self, user: &User, client: Option<&Client>, now: UnixTime) -> AfterLogin {
        self.after_login.as_ref().map_or(AfterLogin::Continue, |h| h.after_login(user, client, now))
    }

    /// The after-end-session decision (`Continue` without a hook).
    pub fn after_end_session(&self, event: &EndSessionEvent) -> AfterEndSession {
        self.after_end_session.as_ref().map_or(AfterEndSession::Continue, |h| h.after_end_session(event))
    }

    /// Tells every listener that consent was given.
    pub fn consent_given(&self, e: &ConsentEvent) {
        for l in &self.consent {
            l.consent_given(e);
        }
    }

    /// Tells every listener that consent was declined.
    pub fn consent_declined(&self, e: &ConsentEvent) {
        for l in &self.consent {
            l.consent_declined(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    struct Department;
    impl IdTokenHook for Department {
        fn process(&self, claims: &mut Map<String, Value>, user: &User, _c: &Client, _s: &Scope) {
            claims.insert("department".into(), json!(format!("dept-of-{}", user.username)));
            claims.insert("sub".into(), json!("forged"));
            claims.remove("nonce");
        }
    }

    struct Upper;
    impl IdTokenHook for Upper {
        fn process(&self, claims: &mut Map<String, Value>, _u: &User, _c: &Client, _s: &Scope) {
            if let Some(Value::String(d)) = claims.get_mut("department") {
                *d = d.to_uppercase();
            }
        }
    }

    #[test]
    fn id_token_hooks_run_in_order_and_cannot_touch_protocol_claims() {
        let hooks = Hooks { id_token: vec![Arc::new(Department), Arc::new(Upper)], ..Hooks::default() };
        let (user, client) =
            (crate::authorize::tests::user(), crate::authorize::tests::client(crate::model::ClientType::Public));
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("u1"));
        claims.insert("nonce".into(), json!("n"));
        hooks.process_id_token(&mut claims, &user, &client, &Scope::default());
        assert_eq!(claims["department"], "DEPT-OF-ALICE", "applied in order");
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["nonce"], "n");
    }

    #[test]
    fn static_claims_for_one_client_never_override() {
        let (user, client) =
            (crate::authorize::tests::user(), crate::authorize::tests::client(crate::model::ClientType::Public));
        let mut extra = Map::new();
        extra.insert("tenant".into(), json!("acme"));
        extra.insert("sub".into(), json!("nope"));
        let for_rp = StaticClaims { client_id: Some(client.client_id.clone()), claims: extra.clone() };
        let for_other = StaticClaims { client_id: Some("other".into()), claims: extra };
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("u1"));
        for_other.process(&mut claims, &user, &client, &Scope::default());
        assert!(claims.get("tenant").is_none());
        for_rp.process(&mut claims, &user, &client, &Scope::default());
        assert_eq!((claims["tenant"].as_str(), claims["sub"].as_str()), (Some("acme"), Some("u1")));
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl ConsentListener for Recorder {
        fn consent_given(&self, e: &ConsentEvent) {
            self.0.lock().unwrap().push(format!("given:{}", e.client_id));
        }
        fn consent_declined(&self, e: &ConsentEvent) {
            self.0.lock().unwrap().push(format!("declined:{}", e.client_id));
        }
    }

    #[test]
    fn consent_listeners_and_after_login_defaults() {
        let rec = Arc::new(Recorder::default());
        let hooks = Hooks { consent: vec![rec.clone()], ..Hooks::default() };
        let e = ConsentEvent {
            realm: "r".into(),
            user_id: "u".into(),
            client_id: "c".into(),
            scope: Scope::default(),
            at: UnixTime(1),
        };
        hooks.consent_given(&e);
        hooks.consent_declined(&e);
        assert_eq!(*rec.0.lock().unwrap(), ["given:c", "declined:c"]);
        assert_eq!(hooks.after_login(&crate::authorize::tests::user(), None, UnixTime(0)), AfterLogin::Continue);
        assert!(format!("{hooks:?}").contains("consent: 1"));
    }

    struct Elsewhere;
    impl AfterEndSessionHook for Elsewhere {
        fn after_end_session(&self, e: &EndSessionEvent) -> AfterEndSession {
            AfterEndSession::Redirect(format!("https://app.example/bye/{}", e.session_id))
        }
    }

    #[test]
    fn after_end_session_hook_continues_by_default_and_may_redirect() {
        let e = EndSessionEvent {
            realm: "r".into(),
            user_id: "u".into(),
            session_id: "sid1".into(),
            client_id: None,
            post_logout_redirect_uri: None,
            state: None,
            at: UnixTime(1),
        };
        assert_eq!(Hooks::default().after_end_session(&e), AfterEndSession::Continue);
        let hooks = Hooks { after_end_session: Some(Arc::new(Elsewhere)), ..Hooks::default() };
        assert_eq!(hooks.after_end_session(&e), AfterEndSession::Redirect("https://app.example/bye/sid1".into()));
    }
}
