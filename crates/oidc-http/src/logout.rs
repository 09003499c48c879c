//! Ending login sessions and telling their applications: the front-channel
//! URLs to render (Front-Channel Logout 1.0 §3) and the signed logout tokens
//! to POST (Back-Channel Logout 1.0 §2.5), delivered off the request path.

use std::sync::Arc;
use std::time::Duration;

use oidc_core::ids::{RealmName, UserId};
use oidc_core::logout::{frontchannel_url, logout_token, logout_token_claims};
use oidc_core::model::{AuditEvent, LoginSession};
use oidc_core::rand::token;
use oidc_core::repo::{RepoError, Repositories};
use serde_json::json;

use crate::app::{App, RealmState};
use crate::fetch::Fetcher;

/// How many times a logout token is sent before giving up.
pub(crate) const BACKCHANNEL_ATTEMPTS: u32 = 3;
/// The wait before the first retry; it doubles for each further one.
const BACKCHANNEL_BACKOFF: Duration = Duration::from_millis(500);

/// Logout tokens to POST, each to one client's back-channel URI.
pub struct Delivery {
    fetcher: Fetcher,
    repos: Arc<dyn Repositories>,
    realm: String,
    clock: Arc<dyn oidc_core::time::Clock>,
    /// (client_id, back-channel URI, logout token).
    items: Vec<(String, String, String)>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are credentials of a kind: only where they go is shown.
        let to: Vec<&str> = self.items.iter().map(|(c, _, _)| c.as_str()).collect();
        f.debug_struct("Delivery").field("realm", &self.realm).field("clients", &to).finish_non_exhaustive()
    }
}

impl Delivery {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends every logout token, all at once, each with the fetcher's
    /// timeout and a bounded retry; a client that never accepts it gets an
    /// audit event `logout.backchannel_failed`. Returns how many were delivered.
    pub async fn run(self) -> usize {
        let mut tasks = Vec::new();
        for (client_id, uri, jwt) in self.items {
            let (fetcher, repos, realm, clock) =
                (self.fetcher.clone(), self.repos.clone(), self.realm.clone(), self.clock.clone());
            tasks.push(tokio::spawn(async move {
                let form = format!("logout_token={}", oidc_core::params::form_urlencode(&jwt));
                let mut last = String::new();
                for attempt in 0..BACKCHANNEL_ATTEMPTS {
                    if attempt > 0 {
                        tokio::time::sleep(BACKCHANNEL_BACKOFF * 2u32.pow(attempt - 1)).await;
                    }
                    match fetcher.post_form(&uri, form.clone()).await {
                        Ok(()) => return true,
                        Err(e) => last = e.detail(),
                    }
                }
                let event = AuditEvent {
                    realm,
                    at: clock.now(),
                    kind: "logout.backchannel_failed".into(),
                    user_id: None,
                    client_id: Some(client_id),
                    detail: json!({ "uri": uri, "attempts": BACKCHANNEL_ATTEMPTS, "error": last }).to_string(),
                };
                if let Err(e) = repos.record_event(&event).await {
                    crate::log::error(&format!("writing the audit event logout.backchannel_failed: {e}"));
                }
                false
            }));
        }
        let mut delivered = 0;
        for t in tasks {
            if matches!(t.await, Ok(true)) {
                delivered += 1;
            }
        }
        delivered
    }
}

/// What ending a session produced: the front-channel URLs for the browser
/// that logged out, and the back-channel deliveries.
#[derive(Debug)]
pub(crate) struct Ended {
    /// Front-channel logout URLs with `iss` and `sid`.
    pub(crate) frontchannel: Vec<String>,
    /// Logout tokens to send.
    pub(crate) delivery: Delivery,
}

impl App {
    /// Ends `session` (its tokens with it, see
    /// [`oidc_core::repo::SessionRepo::end_session`]) and prepares the
    /// notifications of the clients it issued tokens to, except `except`
    /// (the client that asked, when it already knows). Records `logout`.
    pub(crate) async fn end_session(
        &self,
        realm: &RealmState,
        session: &LoginSession,
        except: Option<&str>,
        why: &str,
    ) -> Result<Ended, RepoError> {
        let name = &realm.realm.name;
        let client_ids = self.repos.session_clients(RealmName::new(name), &session.id).await?;
        self.repos.end_session(RealmName::new(name), &session.id).await?;
        crate::guard::audit(
            self,
            name,
            "logout",
            Some(&session.user_id),
            None,
            json!({ "session": session.id, "by": why, "clients": client_ids }),
        )
        .await;
        let user = self.repos.user(RealmName::new(name), session.user_id()).await?;
        let now = self.clock.now();
        let mut frontchannel = Vec::new();
        let mut items = Vec::new();
        for id in client_ids.iter().filter(|c| Some(c.as_str()) != except) {
            let Some(client) = self.client(name, id).await? else { continue };
            if let Some(url) = frontchannel_url(&client, &realm.issuer, &session.id) {
                frontchannel.push(url);
            }
            let (Some(uri), Some(user)) = (client.logout.backchannel_uri.clone(), user.as_ref()) else { continue };
            let sub = self.subject(realm, user, &client);
            let claims =
                logout_token_claims(&realm.issuer, id, &sub, Some(&session.id), &token(self.rng.as_ref(), 16), now);
            match logout_token(&claims, &client, &realm.keys) {
                Ok(jwt) => items.push((id.clone(), uri, jwt)),
                Err(e) => crate::log::error(&format!("signing a logout token for client '{id}': {}", e.description)),
            }
        }
        let delivery = Delivery {
            fetcher: self.fetcher.clone(),
            repos: self.repos.clone(),
            realm: name.clone(),
            clock: self.clock.clone(),
            items,
        };
        Ok(Ended { frontchannel, delivery })
    }

    /// Ends every session of user `user_id` in realm `realm` and delivers
    /// the back-channel logout tokens before returning (for `oidc user
    /// logout`, which has no browser to render front-channel iframes in).
    /// Returns the number of sessions ended and of tokens delivered.
    pub async fn end_user_sessions(&self, realm: &str, user_id: &str) -> Result<(usize, usize), String> {
        let state = match self.realm(realm).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(format!("no realm '{realm}'")),
            Err(e) => return Err(e.to_string()),
        };
        let sessions = self
            .repos
            .sessions_of_user(RealmName::new(realm), UserId::new(user_id), self.clock.now())
            .await
            .map_err(|e| e.to_string())?;
        let mut delivered = 0;
        for s in &sessions {
            let ended = self.end_session(&state, s, None, "operator").await.map_err(|e| e.to_string())?;
            delivered += ended.delivery.run().await;
        }
        Ok((sessions.len(), delivered))
    }

    /// Sends logout tokens in the background: a slow or dead client never
    /// holds up the user's logout.
    pub(crate) fn deliver_later(delivery: Delivery) {
        if !delivery.is_empty() {
            tokio::spawn(delivery.run());
        }
    }
}
