//! Hostile load and hostile input: brute force under concurrency, per-address
//! throttling behind proxies, and floods of slow connections (RFC 6749 §10.7,
//! RFC 9700 §4.15 and the provider's own availability).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use oidc_cli::server::ServerOptions;
use oidc_core::config::{AddressLimit, Settings, ThrottlePolicy};
use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, GrantType, JwtAlg};
use oidc_http::{Cidr, ServerLimits};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{Backend, CALLBACK, Env, SharedDb, authorize, browser, enc, query_param};

fn settings(max_user: i64, max_address: i64, address_limit: AddressLimit) -> Settings {
    Settings {
        password_grant_enabled: true,
        throttle: ThrottlePolicy {
            max_failures_per_user: max_user,
            max_failures_per_address: max_address,
            window: 900,
            lockout: 60,
            max_lockout: 600,
            address_limit,
            max_address_delay: 2,
        },
        ..Settings::default()
    }
}

/// A confidential client allowed the password grant: its id and secret.
async fn password_client(env: &Env) -> (String, String) {
    let (id, secret) =
        env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.grant_types.push(GrantType::Password)).await;
    (id, secret.expect("a confidential client has a secret"))
}

async fn password_grant(
    http: &reqwest::Client,
    env: &Env,
    client: (&str, &str),
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut req = http.post(env.endpoint("token")).basic_auth(client.0, Some(client.1)).form(&[
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

/// RFC 6749 §10.7 and §4.3.2: 39 wrong passwords and the right one, sent at
/// once to two server instances sharing one database, get no more than the
/// limit of 3 wrong passwords checked, wherever the right one falls among them;
/// the rest are refused as locked without a check.
async fn concurrent_guesses_get_at_most_the_limit_checked(backend: Backend) {
    let db = SharedDb::new(backend).await;
    let opts = || ServerOptions::new("127.0.0.1:0", settings(3, 10_000, AddressLimit::Delay));
    let a = db.instance(opts()).await;
    let b = db.instance(opts()).await;
    let (client_id, secret) = password_client(&a).await;
    a.user("alice", "the-right-password-1").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let env_url = if i % 2 == 0 { a.endpoint("token") } else { b.endpoint("token") };
        let (client_id, secret) = (client_id.clone(), secret.clone());
        let password = if i == 20 { "the-right-password-1".to_owned() } else { format!("guess-{i}") };
        tasks.push(tokio::spawn(async move {
            let r = browser()
                .post(env_url)
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "password"), ("username", "alice"), ("password", password.as_str())])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body)
        }));
    }
    let (mut checked_wrong, mut succeeded, mut locked) = (0, 0, 0);
    for t in tasks {
        let (status, body) = t.await.unwrap();
        let description = body["error_description"].as_str().unwrap_or("");
        match status {
            200 => succeeded += 1,
            400 if description.contains("too many") => locked += 1,
            400 if description.contains("username or password is wrong") => checked_wrong += 1,
            _ => panic!("unexpected answer {status} {body}"),
        }
    }
    // The right password may be among the first three counted and succeed; it
    // takes back only its own count, so the wrong ones checked stay within the limit.
    assert!(checked_wrong <= 3, "{checked_wrong} wrong and {succeeded} right passwords were checked");
    assert!(succeeded <= 1);
    assert_eq!(checked_wrong + succeeded + locked, 40);
    assert!(locked >= 36);
    a.server.stop().await.unwrap();
    b.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_get_at_most_the_limit_checked_sqlite_two_instances_rfc6749_10_7() {
    concurrent_guesses_get_at_most_the_limit_checked(Backend::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_get_at_most_the_limit_checked_postgres_two_instances_rfc6749_10_7() {
    concurrent_guesses_get_at_most_the_limit_checked(Backend::Postgres).await;
}

/// Failures with made-up usernames from one address slow that address down but
/// do not lock out a real user behind it (an office NAT, a reverse proxy).
#[tokio::test]
async fn an_address_past_its_limit_is_slowed_not_locked_rfc6749_10_7() {
    let env = Env::start_with(settings(5, 3, AddressLimit::Delay)).await;
    let (client_id, secret) = password_client(&env).await;
    env.user("bob", "bobs-password-12").await;
    let http = browser();
    for i in 0..3 {
        let (status, _) = password_grant(&http, &env, (&client_id, &secret), &format!("nobody{i}"), "x", &[]).await;
        assert_eq!(status, 400);
    }
    let started = Instant::now();
    let (status, body) = password_grant(&http, &env, (&client_id, &secret), "bob", "bobs-password-12", &[]).await;
    assert_eq!(status, 200, "the real user behind the address still signs in: {body}");
    assert!(started.elapsed() >= Duration::from_millis(900), "but only after a delay");
}

/// The operator may choose to lock addresses instead.
#[tokio::test]
async fn an_address_lock_is_the_operators_choice() {
    let env = Env::start_with(settings(5, 3, AddressLimit::Lock)).await;
    let (client_id, secret) = password_client(&env).await;
    env.user("bob", "bobs-password-12").await;
    let http = browser();
    for i in 0..3 {
        assert_eq!(password_grant(&http, &env, (&client_id, &secret), &format!("nobody{i}"), "x", &[]).await.0, 400);
    }
    let (status, body) = password_grant(&http, &env, (&client_id, &secret), "bob", "bobs-password-12", &[]).await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("too many"), "{body}");
}

/// `X-Forwarded-For` names the client only when a trusted proxy sends it;
/// from anyone else it is ignored (else an attacker picks the address it is counted under).
#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let mut opts = ServerOptions::new("127.0.0.1:0", settings(50, 50, AddressLimit::Delay));
    opts.trusted_proxies = vec![Cidr::parse("127.0.0.1").unwrap()];
    let env = Env::start_with_opts(opts).await;
    let (client_id, secret) = password_client(&env).await;
    let proxy = browser();
    let forwarded = [("x-forwarded-for", "1.2.3.4, 203.0.113.7")];
    password_grant(&proxy, &env, (&client_id, &secret), "mallory", "x", &forwarded).await;
    let direct = reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, 2])).build().unwrap();
    password_grant(&direct, &env, (&client_id, &secret), "mallory", "x", &forwarded).await;
    let events = env.store.events(RealmName::new("main"), 10).await.unwrap();
    let addresses: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "login.failed")
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["address"].as_str().unwrap().to_owned())
        .collect();
    assert!(addresses.contains(&"203.0.113.7".to_owned()), "through the trusted proxy: {addresses:?}");
    assert!(addresses.contains(&"127.0.0.2".to_owned()), "from an untrusted peer the header is ignored: {addresses:?}");
    assert!(!addresses.iter().any(|a| a == "1.2.3.4"), "a forged left part is never believed");
}

async fn connect_from(source: [u8; 4], server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(server).await
}

/// Whether the server closes `stream` within `within` (reads EOF or an error).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A flood of slow connections from one address (slowloris: headers or a body
/// trickling in) does not stop a normal client from signing in: the address
/// gets only its share of connections, and slow requests are cut at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_slow_connections_does_not_stop_a_login() {
    let mut opts = ServerOptions::new("127.0.0.1:0", Settings::default());
    opts.limits = ServerLimits {
        max_connections: 4096,
        max_connections_per_address: 16,
        request_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
    };
    let env = Env::start_with_opts(opts).await;
    let server = env.server.addr;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    env.user("carol", "carols-password-1").await;

    // The attacker: 300 connections from 127.0.0.1, half sending a head one byte
    // at a time, half a complete head and then a body one byte at a time.
    let mut attackers = Vec::new();
    for i in 0..300 {
        let Ok(mut s) = connect_from([127, 0, 0, 1], server).await else { continue };
        let start: &[u8] = if i % 2 == 0 {
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
        } else {
            b"POST /realms/main/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ngrant_type="
        };
        let _ = s.write_all(start).await;
        attackers.push(s);
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..8 {
            for s in &mut attackers {
                let _ = s.write_all(b"a").await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        attackers
    });

    // A normal client from another address signs in through the forms and redeems the code.
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let auth = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s1",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &auth, "carol", "carols-password-1").await;
    let code = query_param(&back, "code").expect("a code");
    let r = http
        .post(env.endpoint("token"))
        .basic_auth(&client_id, secret.as_deref())
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the login completed during the flood");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Beyond its share, a new connection from the attacking address is closed at once;
    // the slow ones it holds are cut at the deadline.
    let mut extra = connect_from([127, 0, 0, 1], server).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(1)).await, "over the per-address cap");
    let mut attackers = trickle.await.unwrap();
    let mut still_open = 0;
    for s in &mut attackers {
        if !closed_within(s, Duration::from_millis(50)).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "every slow connection was closed within the request deadline");
    // And the health check answers.
    let r = browser().get(format!("{}/health", env.server.base_url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// An idle keep-alive connection is closed after the idle timeout.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let mut opts = ServerOptions::new("127.0.0.1:0", Settings::default());
    opts.limits.idle_timeout = Duration::from_secs(1);
    let env = Env::start_with_opts(opts).await;
    let mut s = TcpStream::connect(env.server.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut s, Duration::from_secs(3)).await, "idle connection closed");
}

/// RFC 7523 §3 client assertions with keys at a jwks_uri: one bad assertion
/// fetches the document once, not twice, and a stream of them cannot make the
/// provider fetch on demand (the per-client allowance bounds it).
#[tokio::test]
async fn bad_client_assertions_do_not_make_the_provider_fetch_on_demand() {
    let env = Env::start_with_loopback_fetch().await;
    let (published, forged) = (crate::registration::client_key("k-a"), crate::registration::client_key("k-x"));
    let doc = serde_json::json!({"keys": [published.public_jwk()]}).to_string();
    let (base, fetches) = crate::harness::serve_counted(doc, "application/json").await;
    let (id, _) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.response_types = vec![];
            s.grant_types = vec![GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
            s.jwks_uri = Some(format!("{base}/jwks.json"));
        })
        .await;
    let token_url = env.endpoint("token");
    let attempt = |jti: String| {
        let now = crate::harness::now();
        let claims =
            serde_json::json!({"iss": id, "sub": id, "aud": token_url, "jti": jti, "exp": now.plus(60).secs()});
        let assertion = forged.sign(claims.as_object().unwrap());
        browser().post(env.endpoint("token")).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_assertion_type", oidc_core::token::JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ])
    };
    let load = std::sync::atomic::Ordering::SeqCst;
    assert_eq!(attempt("j0".into()).send().await.unwrap().status(), 401);
    assert_eq!(fetches.load(load), 1, "one bad assertion, one fetch");
    for i in 1..=30 {
        assert_eq!(attempt(format!("j{i}")).send().await.unwrap().status(), 401);
    }
    assert!(fetches.load(load) <= 11, "30 more bad assertions caused {} fetches", fetches.load(load));
}

/// Registration refuses URIs that browsers read differently from their text,
/// host checks compare parsed hosts (never prefixes), and a pairwise client
/// cannot borrow another party's sector (OIDC Core §8.1; RFC 9700 §4.1).
#[tokio::test]
async fn registration_reads_uris_as_browsers_do() {
    use oidc_core::registration::{Policies, PolicyKind};
    let env = Env::start().await;
    let p = Policies {
        trusted_hosts: Some(vec!["127.0.0.1".into(), "*.trusted.example".into()]),
        ..Policies::anonymous_default()
    };
    env.store.set_policies(RealmName::new("main"), PolicyKind::Anonymous, &p.to_json().to_string()).await.unwrap();
    let register = |body: serde_json::Value| {
        let url = format!("{}/clients-registrations/openid-connect", env.issuer());
        async move {
            let r = browser().post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    // A browser sends this to evil.example, whatever the text after the backslash says.
    let (status, body) =
        register(serde_json::json!({"redirect_uris": ["https://evil.example\\.trusted.example/cb"]})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_redirect_uri");
    let (status, body) =
        register(serde_json::json!({"redirect_uris": ["https://a.trusted.example@evil.example/cb"]})).await;
    assert_eq!(status, 400, "{body}");
    // A web URI is checked by its parsed host: localhost.evil.example is not loopback.
    let (status, body) = register(serde_json::json!({
        "redirect_uris": ["https://app.trusted.example/cb"],
        "logo_uri": "http://localhost.evil.example/logo.png"
    }))
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client_metadata")), "{body}");
    // The victim's https redirect URI plus the registrant's own app scheme: no sector without a sector_identifier_uri.
    let (status, body) = register(serde_json::json!({
        "redirect_uris": ["https://victim.trusted.example/cb", "com.attacker.app:/cb"],
        "subject_type": "pairwise",
        "application_type": "native"
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error_description"].as_str().unwrap_or("").contains("sector_identifier_uri"), "{body}");
    // A plain, trusted URI still registers.
    let (status, body) = register(serde_json::json!({"redirect_uris": ["https://app.trusted.example/cb"]})).await;
    assert_eq!(status, 201, "{body}");
}

/// The pending authorization request travels through the login and consent
/// forms sealed (encrypted and authenticated, bound to the browser): the
/// parameters of a signed request object cannot be read or changed on the way,
/// a form from another browser or an altered one is refused, and the consent
/// form only counts for the login session it was shown to.
#[tokio::test]
async fn the_pending_request_is_sealed_between_the_forms_oidc_core_6_1() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |s| s.require_consent = true).await;
    let secret = secret.unwrap();
    env.user("alice", "wonderland-42").await;
    env.user("bob", "bob-the-builder-1").await;
    let claims = serde_json::json!({"iss": client_id, "aud": env.issuer(), "client_id": client_id,
        "redirect_uri": CALLBACK, "scope": "openid", "nonce": "signed-nonce", "state": "signed-state"});
    let request = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), secret.as_bytes());
    let url =
        format!("{}?client_id={client_id}&response_type=code&scope=openid&request={request}", env.endpoint("auth"));
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    let authz = crate::harness::input(&page, "authz").unwrap();
    assert!(!authz.contains("signed-state") && !authz.contains("redirect_uri"), "the request is not readable: {authz}");

    // Altered by one character: refused with an error page, never a redirect.
    let mut altered = authz.clone().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let forged_page = page.replace(&authz, &altered);
    let r = crate::harness::submit_login(&http, &forged_page, "alice", "wonderland-42").await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // The old plain form of the field (the request as a query string) is refused too.
    let plain = format!("client_id={client_id}&redirect_uri={}&response_type=code&scope=openid", enc(CALLBACK));
    let r = crate::harness::submit_login(&http, &page.replace(&authz, &plain), "alice", "wonderland-42").await;
    assert_eq!(r.status(), 400);
    // Another browser (another CSRF cookie) cannot use this browser's form, even with its own CSRF token.
    let other = browser();
    let other_page = other.get(&url).send().await.unwrap().text().await.unwrap();
    let other_authz = crate::harness::input(&other_page, "authz").unwrap();
    let r =
        crate::harness::submit_login(&other, &other_page.replace(&other_authz, &authz), "alice", "wonderland-42").await;
    assert_eq!(r.status(), 400);

    // The genuine form signs in and resumes the request as signed.
    let r = crate::harness::submit_login(&http, &page, "alice", "wonderland-42").await;
    assert_eq!(r.status(), 303);
    let r = http.get(crate::harness::location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let consent = r.text().await.unwrap();
    assert!(consent.contains("Request for Permission"));
    // Bob's session replaces Alice's in this browser before Alice's consent form is
    // sent: the form was shown to Alice's session, so nothing is issued from it.
    let bobs = browser();
    let account = bobs.get(format!("{}/account", env.issuer())).send().await.unwrap().text().await.unwrap();
    let r = crate::harness::submit_login(&bobs, &account, "bob", "bob-the-builder-1").await;
    let session_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("OIDC_SESSION="))
        .expect("a session cookie");
    let realm_url: reqwest::Url = env.issuer().parse().unwrap();
    jar.add_cookie_str(&session_cookie, &realm_url);
    let r = crate::harness::submit_consent(&http, &consent, true).await;
    assert_ne!(r.status(), 303, "no code from a consent form shown to another session");
    assert!(r.headers().get("location").is_none());
    // Bob consents on his own page and gets the signed state back.
    let page = r.text().await.unwrap();
    assert!(page.contains("Request for Permission"), "Bob is asked himself");
    let r = crate::harness::submit_consent(&http, &page, true).await;
    let back = crate::harness::location(&r);
    assert_eq!(query_param(&back, "state").as_deref(), Some("signed-state"), "{back}");
}

/// RFC 9101 §10.2: a request object is accepted once within its lifetime; an
/// expired one is refused; both errors go to the registered redirect_uri.
#[tokio::test]
async fn request_objects_are_not_replayed_and_expire_rfc9101_10_2() {
    let env = Env::start().await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let secret = secret.unwrap();
    let now = crate::harness::now().secs();
    let sign = |claims: serde_json::Value| oidc_core::jose::sign_hs256(claims.as_object().unwrap(), secret.as_bytes());
    let base = serde_json::json!({"iss": client_id, "aud": env.issuer(), "client_id": client_id,
        "redirect_uri": CALLBACK, "scope": "openid", "state": "st", "jti": "once-only", "exp": now + 300});
    let url = |request: &str| {
        format!(
            "{}?client_id={client_id}&response_type=code&redirect_uri={}&request={request}",
            env.endpoint("auth"),
            enc(CALLBACK)
        )
    };
    let once = sign(base.clone());
    let r = browser().get(url(&once)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the first use shows the login page");
    let r = browser().get(url(&once)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(crate::harness::location(&r).contains("error=invalid_request_object"), "a replay is refused");
    let mut expired = base.clone();
    expired["jti"] = "another".into();
    expired["exp"] = (now - 10).into();
    let r = browser().get(url(&sign(expired))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(crate::harness::location(&r).contains("error=invalid_request_object"));
}

/// OIDC Core §6.2: a request_uri that cannot be fetched is an error sent to the
/// client's registered redirect_uri with the request's state, not an error page.
#[tokio::test]
async fn an_unfetchable_request_uri_is_an_error_at_the_redirect_uri_oidc_core_6_2() {
    let env = Env::start().await;
    let (client_id, _) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let url = format!(
        "{}?client_id={client_id}&response_type=code&scope=openid&redirect_uri={}&state=s9&request_uri={}",
        env.endpoint("auth"),
        enc(CALLBACK),
        enc("https://10.0.0.1/request.jwt")
    );
    let r = browser().get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let loc = crate::harness::location(&r);
    assert!(loc.starts_with(&format!("{CALLBACK}?error=invalid_request_uri")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s9"));
    // Without a registered redirect_uri it stays an error page.
    let url = format!(
        "{}?client_id={client_id}&response_type=code&scope=openid&redirect_uri={}&request_uri={}",
        env.endpoint("auth"),
        enc("https://evil.example/cb"),
        enc("https://10.0.0.1/request.jwt")
    );
    let r = browser().get(url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

/// RFC 9700 §4.15: a registrant cannot choose a client_id equal to a user's
/// `sub`, so that no resource server can take the client's own tokens
/// (client_credentials) for that user's.
#[tokio::test]
async fn a_registrant_cannot_take_a_users_sub_as_client_id_rfc9700_4_15() {
    let env = Env::start().await;
    let victim_sub = env.user("victim", "victims-password-1").await;
    let iat = crate::registration::initial_token(&env, 5, 3600).await;
    let url = format!("{}/clients-registrations/default", env.issuer());
    let r =
        browser().post(&url).bearer_auth(&iat).json(&serde_json::json!({"clientId": victim_sub})).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let r =
        browser().post(&url).bearer_auth(&iat).json(&serde_json::json!({"clientId": "an-app"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
}

/// Attempts are counted before their passwords are checked, but several correct
/// logins of one user at the same moment (more than the failure limit) all go
/// through: an attempt that finds the limit reached by attempts still in
/// flight waits for them instead of being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_correct_logins_of_one_user_all_succeed_rfc6749_10_7() {
    let env = Env::start_with(settings(3, 10_000, AddressLimit::Delay)).await;
    let (client_id, secret) = password_client(&env).await;
    env.user("dora", "doras-password-1").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (url, client_id, secret) = (env.endpoint("token"), client_id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            browser()
                .post(url)
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "password"), ("username", "dora"), ("password", "doras-password-1")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "every correct login succeeds");
    }
}
