//! The protected-resource helper (`oidc-resource`) and the example API in
//! `examples/protected-api`, against the real provider: RFC 6750 errors,
//! RFC 9068 JWT checks, RFC 7662 introspection, and the in-process check.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oidc_core::model::{AccessTokenFormat, JwtAlg, KeyRecord, KeyState};
use oidc_core::scope::{ScopeDef, ScopeRegistry};
use oidc_core::time::{Clock, UnixTime};
use serde_json::{Value, json};

use crate::harness::{Env, REALM, browser, now};
use crate::tokens::{post, resource_server, service_client};

const API: &str = "https://api.example/";

/// The system clock moved by an offset the test controls (to see tokens expire).
struct TestClock(AtomicI64);
impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime(now().secs() + self.0.load(Ordering::SeqCst))
    }
}

async fn token(env: &Env, client: &(String, String), scope: &str) -> String {
    let form = [("grant_type", "client_credentials"), ("scope", scope), ("resource", API)];
    let (status, _, body) = post(env, "token", &form, Some((&client.0, &client.1))).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn call(base: &str, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = browser().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

#[tokio::test]
async fn the_example_api_accepts_scoped_tokens_and_refuses_the_rest_rfc6750_rfc9068_rfc7662() {
    let notes = ScopeDef {
        name: "notes".into(),
        display_name: "Notes".into(),
        description: "Your notes".into(),
        claims: vec![],
    };
    let env = Env::start_with_options(ScopeRegistry::new(vec![notes]).unwrap(), Default::default()).await;
    let api = resource_server(&env).await;
    let jwt_client = service_client(&env, Some(AccessTokenFormat::Jwt)).await;
    let opaque_client = service_client(&env, Some(AccessTokenFormat::Opaque)).await;

    let clock = Arc::new(TestClock(AtomicI64::new(0)));
    let mut config = oidc_resource::Config::new(env.issuer(), API);
    config.introspection_client = Some(api.clone());
    // No positive cache here, so that a revocation shows at the next call.
    config.introspection_cache = std::time::Duration::ZERO;
    let verifier = Arc::new(oidc_resource::Verifier::new(config, clock.clone()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(protected_api::serve(listener, verifier.clone()));

    // No token: a bare challenge (RFC 6750 §3.1).
    let (status, challenge, _) = call(&base, "/notes", None).await;
    assert_eq!((status, challenge.as_str()), (401, "Bearer realm=\"api\""));

    // A JWT access token with the scope passes, on both routes, checked with the JWKS alone.
    let jwt = token(&env, &jwt_client, "notes").await;
    for path in ["/notes", "/tower/notes"] {
        let (status, _, body) = call(&base, path, Some(&jwt)).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["client"], jwt_client.0.as_str());
    }
    // Without the scope: 403 naming it.
    let unscoped = token(&env, &jwt_client, "email").await;
    for path in ["/notes", "/tower/notes"] {
        let (status, challenge, _) = call(&base, path, Some(&unscoped)).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"notes\""),
            "{challenge}"
        );
    }

    // An opaque token is checked by introspection; revoked, it is refused at once.
    let opaque = token(&env, &opaque_client, "notes").await;
    assert_eq!(call(&base, "/notes", Some(&opaque)).await.0, 200);
    let (status, _, _) = post(&env, "revoke", &[("token", &opaque)], Some((&opaque_client.0, &opaque_client.1))).await;
    assert_eq!(status, 200);
    let (status, challenge, _) = call(&base, "/notes", Some(&opaque)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");

    // A revoked JWT passes until it expires: the API checks only its signature.
    let (status, _, _) = post(&env, "revoke", &[("token", &jwt)], Some((&jwt_client.0, &jwt_client.1))).await;
    assert_eq!(status, 200);
    assert_eq!(call(&base, "/notes", Some(&jwt)).await.0, 200, "valid until exp (RFC 9068 §4)");
    // ...and not after: five minutes later it has expired.
    clock.0.store(301, Ordering::SeqCst);
    let (status, challenge, _) = call(&base, "/notes", Some(&jwt)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
    clock.0.store(0, Ordering::SeqCst);

    // A forged JWT: the same claims signed with a key that is not the realm's.
    let fresh = token(&env, &jwt_client, "notes").await;
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&oidc_core::jose::b64_decode(fresh.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let forger = oidc_core::jose::SigningKey::from_record(&KeyRecord {
        kid: "forged".into(),
        realm: REALM.into(),
        alg: "EdDSA".into(),
        private_pkcs8: oidc_core::jose::generate_pkcs8(JwtAlg::EdDsa).unwrap(),
        state: KeyState::Active,
        created_at: now(),
        published_until: None,
    })
    .unwrap();
    let forged = forger.sign_typed(&claims, "at+jwt");
    let (status, challenge, _) = call(&base, "/notes", Some(&forged)).await;
    assert_eq!(status, 401, "{challenge}");
    // A tampered payload under the realm's real signature.
    let mut parts: Vec<String> = fresh.split('.').map(str::to_owned).collect();
    let mut wider = claims.clone();
    wider.insert("scope".into(), json!("notes admin"));
    parts[1] = oidc_core::jose::b64(Value::Object(wider).to_string().as_bytes());
    assert_eq!(call(&base, "/notes", Some(&parts.join("."))).await.0, 401);
}

#[tokio::test]
async fn the_in_process_check_reads_the_repositories() {
    let env = Env::start().await;
    let client = service_client(&env, Some(AccessTokenFormat::Opaque)).await;
    let at = token(&env, &client, "email").await;
    let store = env.store.as_ref();
    let p = oidc_resource::local::check(store, REALM, &at, &["email"], now()).await.unwrap();
    assert_eq!((p.client_id.as_str(), p.subject.as_str()), (client.0.as_str(), client.0.as_str()));
    assert_eq!(p.claims["aud"], json!([API]));
    let e = oidc_resource::local::check(store, REALM, &at, &["notes"], now()).await.unwrap_err();
    assert_eq!(e, oidc_resource::AuthError::InsufficientScope("notes".into()));
    let (status, _, _) = post(&env, "revoke", &[("token", &at)], Some((&client.0, &client.1))).await;
    assert_eq!(status, 200);
    assert!(matches!(
        oidc_resource::local::check(store, REALM, &at, &[], now()).await,
        Err(oidc_resource::AuthError::InvalidToken(_))
    ));
}
