//! Stateless instances on one PostgreSQL database (issue 12, scale-out): two
//! servers, each with its own connection pool and caches, share everything
//! that matters through the database. A code issued by one is redeemed at the
//! other once; refresh token replay at one revokes the grant at both; client,
//! key and role changes made elsewhere reach an instance within its
//! `cache_refresh` bound; a lockout and a logout hold everywhere.

use std::time::{Duration, Instant};

use oidc_cli::server::ServerOptions;
use oidc_core::config::{AddressLimit, Settings, ThrottlePolicy};
use oidc_core::ids::{ClientId, RealmName};
use oidc_core::model::{ClientType, GrantType, JwtAlg, KeyState};
use oidc_core::rand::OsRandom;
use oidc_core::repo::RoleHolder;
use oidc_core::secret::ClientSecret;
use serde_json::Value;

use crate::harness::{
    Backend, CALLBACK, Env, REALM, SharedDb, authorize, browser, enc, eventually, location, now, query_param,
};

const PASSWORD: &str = "wonderland-42";
/// The cache bound the instances of these tests run with.
const REFRESH: Duration = Duration::from_secs(1);

/// Two instances on one fresh PostgreSQL database, each with its own pool,
/// and one public base URL (as behind a load balancer): A's. Requests meant
/// for one instance go to its own address ([`at`]); the pages' forms point to
/// the base URL, so a browser that posts one lands at A.
async fn pair(settings: Settings) -> (SharedDb, Env, Env) {
    let db = SharedDb::new(Backend::Postgres).await;
    let opts = |base_url: Option<String>| {
        let mut o = ServerOptions::new("127.0.0.1:0", settings.clone());
        o.cache_refresh = REFRESH;
        o.base_url = base_url;
        o
    };
    let a = db.instance(opts(None)).await;
    let b = db.instance(opts(Some(a.server.base_url.clone()))).await;
    assert_eq!(a.issuer(), b.issuer(), "one issuer");
    (db, a, b)
}

/// The endpoint `name` of this very instance.
fn at(env: &Env, name: &str) -> String {
    format!("http://{}/realms/{REALM}/protocol/openid-connect/{name}", env.server.addr)
}

fn auth_url(env: &Env, client_id: &str, extra: &str) -> String {
    format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=st{extra}",
        at(env, "auth"),
        enc(CALLBACK)
    )
}

/// A token request to `env` with client_secret_basic: status and body.
async fn token(env: &Env, client: &(String, Option<String>), form: &[(&str, &str)]) -> (u16, Value) {
    let r = browser().post(at(env, "token")).basic_auth(&client.0, client.1.as_deref()).form(form).send().await;
    let r = r.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn redeem(env: &Env, client: &(String, Option<String>), code: &str) -> (u16, Value) {
    token(env, client, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CALLBACK)]).await
}

async fn userinfo_status(env: &Env, access_token: &str) -> u16 {
    browser().get(at(env, "userinfo")).bearer_auth(access_token).send().await.unwrap().status().as_u16()
}

/// A code for `client` from `env`, logging `http` in first when needed.
async fn code(env: &Env, http: &reqwest::Client, client_id: &str) -> String {
    let back = authorize(http, &auth_url(env, client_id, ""), "alice", PASSWORD).await;
    query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"))
}

async fn consentless_client(env: &Env) -> (String, Option<String>) {
    env.client(ClientType::Confidential, JwtAlg::Rs256, |s| {
        s.require_consent = false;
        s.grant_types.push(GrantType::ClientCredentials);
    })
    .await
}

/// RFC 6749 §4.1.2: a code is used once, whichever instance it reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_issued_by_one_instance_is_redeemed_once_at_the_other_rfc6749_4_1_2() {
    let (_db, a, b) = pair(Settings::default()).await;
    let client = consentless_client(&a).await;
    a.user("alice", PASSWORD).await;
    let code = code(&a, &browser(), &client.0).await;
    let (status, body) = redeem(&b, &client, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(userinfo_status(&a, body["access_token"].as_str().unwrap()).await, 200, "A accepts B's token");
    for env in [&a, &b] {
        let (status, again) = redeem(env, &client, &code).await;
        assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "{again}");
    }
    // RFC 6749 §4.1.2: the replay revoked what the first exchange issued, at both instances.
    assert_eq!(userinfo_status(&a, body["access_token"].as_str().unwrap()).await, 401);
    assert_eq!(userinfo_status(&b, body["access_token"].as_str().unwrap()).await, 401);
}

/// RFC 9700 §4.14.2: a refresh token rotated at one instance and replayed at
/// the other revokes the grant everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_at_one_instance_and_its_reuse_at_the_other_revokes_the_grant_rfc9700_4_14_2() {
    let (_db, a, b) = pair(Settings::default()).await;
    let client = consentless_client(&a).await;
    a.user("alice", PASSWORD).await;
    let code = code(&a, &browser(), &client.0).await;
    let (_, first) = redeem(&a, &client, &code).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (status, second) = token(&a, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, 200, "{second}");
    let (status, replay) = token(&b, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")), "{replay}");
    assert_eq!(userinfo_status(&a, second["access_token"].as_str().unwrap()).await, 401);
    let rt2 = second["refresh_token"].as_str().unwrap();
    let (status, _) = token(&a, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await;
    assert_eq!(status, 400, "the rotated refresh token went with the grant");
}

/// Waits until `check` holds and returns how long that took; fails past `REFRESH` plus slack.
async fn within_bound<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    assert!(eventually(5, &mut check).await, "{what}: not seen within 5 s");
    let took = started.elapsed();
    // The bound plus one poll interval and a request's time on a busy machine.
    assert!(took <= REFRESH + Duration::from_secs(2), "{what}: seen after {took:?}, bound {REFRESH:?}");
    took
}

/// A client's secret rotated by another process (as `oidc client update` or
/// the registration service of the other instance would) stops working at
/// this instance within its `cache_refresh` bound; a key rotation reaches its
/// JWKS and its signatures within the same bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_key_changes_made_elsewhere_reach_the_other_instance_within_the_cache_bound() {
    let (_db, a, b) = pair(Settings::default()).await;
    let client = consentless_client(&a).await;
    let cc = [("grant_type", "client_credentials")];
    let (status, body) = token(&b, &client, &cc).await;
    assert_eq!(status, 200, "B has the client cached now: {body}");

    // The secret changes in the database, not through B.
    let mut changed = a.store.client(RealmName::new(REALM), ClientId::new(&client.0)).await.unwrap().unwrap();
    changed.client_secret = Some(ClientSecret::new("a-brand-new-secret-0123456789abcdef".into()));
    a.store.update_client(&changed).await.unwrap();
    let took = within_bound("the old secret refused at B", || async { token(&b, &client, &cc).await.0 == 401 }).await;
    eprintln!("client change seen after {took:?}");
    let new_client = (client.0.clone(), Some("a-brand-new-secret-0123456789abcdef".to_owned()));
    assert_eq!(token(&b, &new_client, &cc).await.0, 200);

    // A new signing key, the old one retired (`oidc key rotate`).
    let jwks = |env: &Env| {
        let url = at(env, "certs");
        async move { browser().get(url).send().await.unwrap().text().await.unwrap() }
    };
    let old_kid = a.store.keys(RealmName::new(REALM)).await.unwrap()[0].kid.clone();
    let new = oidc_cli::keys::generate(REALM, JwtAlg::Rs256, now(), &OsRandom::new()).unwrap();
    a.store.add_key(&new).await.unwrap();
    a.store.set_key_state(RealmName::new(REALM), &old_kid, KeyState::Retired, Some(now().plus(3600))).await.unwrap();
    let took = within_bound("the new key in B's JWKS", || async { jwks(&b).await.contains(&new.kid) }).await;
    eprintln!("key change seen after {took:?}");
    a.user("alice", PASSWORD).await;
    let code = code(&b, &browser(), &new_client.0).await;
    let (_, t) = redeem(&b, &new_client, &code).await;
    let header = t["id_token"].as_str().unwrap().split('.').next().unwrap().to_owned();
    let header: Value = serde_json::from_slice(&oidc_core::jose::b64_decode(&header).unwrap()).unwrap();
    assert_eq!(header["kid"], new.kid.as_str(), "B signs with the new key");
}

/// Roles are read on every request, so a role granted or taken away anywhere
/// counts at every instance at once (no cache, no bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_changes_count_at_the_other_instance_at_once() {
    let (_db, a, b) = pair(Settings::default()).await;
    let (sa, secret) = a.service_account().await;
    let (_, bearer) = token(&a, &(sa.clone(), secret), &[("grant_type", "client_credentials")]).await;
    let bearer = bearer["access_token"].as_str().unwrap().to_owned();
    let target = consentless_client(&a).await.0;
    let read = || {
        let url = format!("http://{}/realms/{REALM}/clients-registrations/openid-connect/{target}", b.server.addr);
        let bearer = bearer.clone();
        async move { browser().get(url).bearer_auth(bearer).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(read().await, 403, "no role yet");
    a.store.grant_role(RealmName::new(REALM), &RoleHolder::Client(sa.clone()), "view-clients").await.unwrap();
    assert_eq!(read().await, 200, "granted through A's database, counted at B at once");
    a.store.revoke_role(RealmName::new(REALM), &RoleHolder::Client(sa.clone()), "view-clients").await.unwrap();
    assert_eq!(read().await, 403, "taken away at once");
}

/// RFC 6749 §10.7: failures counted at one instance lock the username at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockout_counted_at_one_instance_holds_at_the_other_rfc6749_10_7() {
    let settings = Settings {
        password_grant_enabled: true,
        throttle: ThrottlePolicy {
            max_failures_per_user: 2,
            max_failures_per_address: 1000,
            window: 900,
            lockout: 60,
            max_lockout: 600,
            address_limit: AddressLimit::Delay,
            max_address_delay: 1,
        },
        ..Settings::default()
    };
    let (_db, a, b) = pair(settings).await;
    let client = a.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.grant_types.push(GrantType::Password)).await;
    a.user("alice", PASSWORD).await;
    let password = |p: &'static str| [("grant_type", "password"), ("username", "alice"), ("password", p)];
    for _ in 0..2 {
        let (status, body) = token(&a, &client, &password("wrong-guess")).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
    let (status, body) = token(&b, &client, &password(PASSWORD)).await;
    assert_eq!(status, 400, "the right password at B is refused while locked: {body}");
    assert!(body["error_description"].as_str().unwrap_or("").contains("too many"), "{body}");
}

/// RP-Initiated Logout 1.0 §2 at one instance ends the session, its tokens and
/// its refresh tokens at the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_at_one_instance_ends_the_session_at_the_other_rp_initiated_logout_2() {
    let (_db, a, b) = pair(Settings::default()).await;
    let client = consentless_client(&a).await;
    a.user("alice", PASSWORD).await;
    // One browser: its session cookie goes to both instances (same host, RFC 6265 ignores ports).
    let http = browser();
    let code = code(&a, &http, &client.0).await;
    let (_, t) = redeem(&a, &client, &code).await;
    let r = http.get(auth_url(&b, &client.0, "&prompt=none")).send().await.unwrap();
    assert!(query_param(&location(&r), "code").is_some(), "B knows the session A started");
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}",
        at(&b, "logout"),
        t["id_token"].as_str().unwrap(),
        enc("http://127.0.0.1:9/bye")
    );
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = http.get(auth_url(&a, &client.0, "&prompt=none")).send().await.unwrap();
    assert_eq!(query_param(&location(&r), "error").as_deref(), Some("login_required"), "A: the session ended");
    assert_eq!(userinfo_status(&a, t["access_token"].as_str().unwrap()).await, 401);
    let rt = t["refresh_token"].as_str().unwrap();
    let (status, _) = token(&a, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, 400);
}
