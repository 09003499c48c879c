//! `/realms/{realm}/account`: the applications a user has authorized (the
//! seed's `UserConsent` records), with a way to withdraw each, and the
//! user's active login sessions, with a way to sign out of one or all
//! (Keycloak's account console).

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use minijinja::context;
use oidc_core::OAuthError;
use oidc_core::ids::{ClientId, RealmName};

use super::authorize::{
    LoginForm, csrf_cookie, csrf_ok, csrf_token, current_session, field, forbidden, realm_path, realm_url, render_login,
};
use super::{error_page, page, storage_failed};
use crate::app::{App, RealmState};
use crate::guard;
use crate::response::{self, Resp};
use crate::{cookies, request};
use oidc_core::model::LoginSession;

/// `GET` shows the list; `POST` withdraws one consent.
pub(crate) async fn account(app: &App, realm: &RealmState, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let session = match current_session(app, realm, &parts.headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(session) = session else {
        let form = LoginForm {
            authz: String::new(),
            client_name: None,
            username: String::new(),
            ui_locales: None,
            display: None,
        };
        return render_login(app, realm, &parts.headers, &form, None, StatusCode::OK);
    };
    let name = &realm.realm.name;
    if parts.method == Method::POST {
        let form = match request::read_form(&parts.headers, body).await {
            Ok(f) => f,
            Err(e) => {
                return error_page(app, realm, StatusCode::BAD_REQUEST, &OAuthError::invalid_request(e.to_string()));
            }
        };
        if !csrf_ok(realm, &parts.headers, &form) {
            return forbidden(app, realm);
        }
        if field(&form, "end_session").is_some() || field(&form, "end_all").is_some() {
            return end_sessions(app, realm, &session, &form).await;
        }
        let Some(client_id) = field(&form, "client_id") else {
            return error_page(
                app,
                realm,
                StatusCode::BAD_REQUEST,
                &OAuthError::invalid_request("no application named"),
            );
        };
        // The consent and the application's tokens for this user go together.
        if let Err(e) =
            app.repos.delete_consent(RealmName::new(name), session.user_id(), ClientId::new(client_id)).await
        {
            return storage_failed(app, realm, &e);
        }
        guard::audit(app, name, "consent.revoked", Some(&session.user_id), Some(client_id), serde_json::json!({}))
            .await;
        return response::redirect(&realm_url(app, realm, "account"), true);
    }
    let user = match app.repos.user(RealmName::new(name), session.user_id()).await {
        Ok(Some(u)) => u,
        Ok(None) => return response::redirect(&realm_url(app, realm, "protocol/openid-connect/logout"), false),
        Err(e) => return storage_failed(app, realm, &e),
    };
    let consents = match app.repos.consents_of_user(RealmName::new(name), user.id()).await {
        Ok(c) => c,
        Err(e) => return storage_failed(app, realm, &e),
    };
    let now = app.clock.now();
    let mut apps = Vec::new();
    for c in &consents {
        let client = match app.client(name, &c.client_id).await {
            Ok(cl) => cl,
            Err(e) => return storage_failed(app, realm, &e),
        };
        let scopes: Vec<String> = app.config.scopes.consent_views(&c.scope).into_iter().map(|v| v.name).collect();
        apps.push(context! {
            client_id => c.client_id.clone(),
            name => client.as_ref().map_or_else(|| c.client_id.clone(), |cl| cl.name.clone()),
            website_url => client.as_ref().and_then(|cl| cl.website_url.clone()),
            scopes => scopes,
            given_at => date(c.given_at.secs()),
            expires_at => date(c.expires_at.secs()),
            expired => c.expires_at <= now,
        });
    }
    let sessions = match app.repos.sessions_of_user(RealmName::new(name), user.id(), now).await {
        Ok(s) => s,
        Err(e) => return storage_failed(app, realm, &e),
    };
    let mut session_views = Vec::new();
    for s in &sessions {
        let ids = match app.repos.session_clients(RealmName::new(name), &s.id).await {
            Ok(c) => c,
            Err(e) => return storage_failed(app, realm, &e),
        };
        let mut names = Vec::new();
        for id in &ids {
            match app.client(name, id).await {
                Ok(Some(c)) => names.push(c.name.clone()),
                Ok(None) => {}
                Err(e) => return storage_failed(app, realm, &e),
            }
        }
        session_views.push(context! {
            id => s.id.clone(),
            current => s.id == session.id,
            browser => browser_name(s.user_agent.as_deref()),
            address => s.address.clone(),
            started => date_time(s.auth_time.secs()),
            last_used => date_time(s.last_used.secs()),
            apps => names,
        });
    }
    let (cookie, new) = csrf_cookie(app, &parts.headers);
    let mut r = page(
        app,
        realm,
        StatusCode::OK,
        "account.html",
        context! {
            username => user.username.clone(),
            sessions => session_views,
            apps => apps,
            action => realm_url(app, realm, "account"),
            logout => realm_url(app, realm, "protocol/openid-connect/logout"),
            csrf_token => csrf_token(realm, &cookie),
        },
    );
    if new {
        let path = realm_path(app, realm);
        response::set_cookie(&mut r, &cookies::set(cookies::CSRF, &cookie, &path, app.config.secure_cookies(), None));
    }
    r
}

/// Signs out of one session of the user (`end_session` = its public id) or of
/// all (`end_all`), telling their applications (back-channel; front-channel
/// iframes when the browser's own session ends). Sessions of other users are
/// never touched.
async fn end_sessions(app: &App, realm: &RealmState, current: &LoginSession, form: &[(String, String)]) -> Resp {
    let name = &realm.realm.name;
    let sessions = match app.repos.sessions_of_user(RealmName::new(name), current.user_id(), app.clock.now()).await {
        Ok(s) => s,
        Err(e) => return storage_failed(app, realm, &e),
    };
    let wanted = field(form, "end_session");
    let mut frontchannel = Vec::new();
    let mut ended_current = false;
    for s in sessions.iter().filter(|s| wanted.is_none_or(|id| id == s.id)) {
        match app.end_session(realm, s, None, "account").await {
            Ok(ended) => {
                if s.id == current.id {
                    ended_current = true;
                    frontchannel = ended.frontchannel;
                }
                App::deliver_later(ended.delivery);
            }
            Err(e) => return storage_failed(app, realm, &e),
        }
    }
    if ended_current {
        return super::logout::logged_out(app, realm, None, &frontchannel, true);
    }
    response::redirect(&realm_url(app, realm, "account"), true)
}

/// A short name of the browser and system of a `User-Agent`.
fn browser_name(ua: Option<&str>) -> String {
    let Some(ua) = ua else { return "Unknown browser".into() };
    let browser = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Safari/", "curl/"].iter().find(|b| ua.contains(*b)).map_or(
        "Browser",
        |b| match *b {
            "Edg/" => "Edge",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            "Safari/" => "Safari",
            _ => "curl",
        },
    );
    let system = ["Windows", "Android", "iPhone", "iPad", "Mac OS X", "Linux"]
        .iter()
        .find(|s| ua.contains(*s))
        .map_or("", |s| if *s == "Mac OS X" { "macOS" } else { s });
    if system.is_empty() { browser.to_owned() } else { format!("{browser} on {system}") }
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time.
fn date_time(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!("{} {:02}:{:02} UTC", date(secs), s / 3600, (s % 3600) / 60)
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by the days-to-civil algorithm of the
/// proleptic Gregorian calendar.
fn date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(951_782_400), "2000-02-29");
        assert_eq!(super::date(1_795_996_800), "2026-11-30");
        assert_eq!(super::date_time(1_795_996_800 + 3_660), "2026-11-30 01:01 UTC");
    }

    #[test]
    fn browser_names() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(super::browser_name(Some(chrome)), "Chrome on Linux");
        assert_eq!(super::browser_name(Some("curl/8.5.0")), "curl");
        assert_eq!(super::browser_name(None), "Unknown browser");
    }
}
