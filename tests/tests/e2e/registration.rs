//! The client registration service: OIDC Dynamic Client Registration 1.0,
//! RFC 7591 and RFC 7592, initial access tokens and registration policies.

use oidc_core::ids::RealmName;
use oidc_core::registration::{InitialAccessToken, Policies, PolicyKind};
use oidc_core::secret::Digest;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, RedirectUrl, TokenResponse as _,
};
use serde_json::{Value, json};

use crate::harness::{CALLBACK, Env, REALM, authorize, browser, now, query_param, rp_http};

fn endpoint(env: &Env) -> String {
    format!("{}/clients-registrations/openid-connect", env.issuer())
}

/// Creates an initial access token with `count` uses that expires after `ttl` seconds.
pub(crate) async fn initial_token(env: &Env, count: i64, ttl: i64) -> String {
    let value = format!("iat-{}", oidc_core::rand::token(&oidc_core::rand::OsRandom::new(), 16));
    let t = InitialAccessToken {
        id: oidc_core::rand::token(&oidc_core::rand::OsRandom::new(), 6),
        realm: REALM.into(),
        digest: Digest::of(&value),
        created_at: now(),
        expires_at: Some(now().plus(ttl)),
        max_uses: count,
        used: 0,
    };
    env.store.create_initial_token(&t).await.unwrap();
    value
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn register(env: &Env, token: Option<&str>, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = browser().post(endpoint(env)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

#[tokio::test]
async fn register_use_read_update_delete_with_a_rotating_registration_token_rfc7591_rfc7592() {
    let env = Env::start().await;
    let d: Value = env.discovery().await;
    assert_eq!(d["registration_endpoint"], endpoint(&env).as_str());
    let iat = initial_token(&env, 1, 3600).await;
    let (status, reg, headers) = register(
        &env,
        Some(&iat),
        json!({"redirect_uris": [CALLBACK], "client_name": "Dyn RP", "contacts": ["ops@rp.example"],
               "scope": "openid email", "x-custom": "ignored"}),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["client_name"], "Dyn RP");
    assert_eq!(reg["contacts"], json!(["ops@rp.example"]));
    assert!(reg.get("x-custom").is_none(), "unknown metadata is not echoed (RFC 7591 §3.1)");
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, format!("{}/{client_id}", endpoint(&env)));
    let rat1 = reg["registration_access_token"].as_str().unwrap().to_owned();
    // The token was for one client only.
    let (status, body, h) = register(&env, Some(&iat), json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    // The registered client runs the code flow, verified by openidconnect.
    env.user("alice", "wonderland-42").await;
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(env.issuer()).unwrap(), &rp_http).await.unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (url, _, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let back = authorize(&browser(), url.as_str(), "alice", "wonderland-42").await;
    let code = AuthorizationCode::new(query_param(&back, "code").expect("code"));
    let tokens = rp.exchange_code(code).unwrap().request_async(&rp_http).await.unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).expect("valid id_token");

    // Read: the token rotates, the old one stops working (RFC 7592 §2.1).
    let (status, read, _) = send(browser().get(&uri).bearer_auth(&rat1)).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_secret"], secret.as_str());
    let rat2 = read["registration_access_token"].as_str().unwrap().to_owned();
    assert_ne!(rat2, rat1);
    let (status, _, _) = send(browser().get(&uri).bearer_auth(&rat1)).await;
    assert_eq!(status, 401, "the previous registration access token is refused");

    // Update (RFC 7592 §2.2): the body replaces the metadata.
    let update = json!({"client_id": client_id, "redirect_uris": [CALLBACK, "https://rp.example/cb2"], "client_name": "Renamed"});
    let (status, upd, _) = send(browser().put(&uri).bearer_auth(&rat2).json(&update)).await;
    assert_eq!(status, 200, "{upd}");
    assert_eq!(upd["client_name"], "Renamed");
    assert_eq!(upd["redirect_uris"].as_array().unwrap().len(), 2);
    let rat3 = upd["registration_access_token"].as_str().unwrap().to_owned();
    let stored =
        env.store.client(RealmName::new(REALM), oidc_core::ids::ClientId::new(&client_id)).await.unwrap().unwrap();
    assert_eq!(stored.name, "Renamed");
    // Another client's id in the body, or a wrong secret, is refused.
    let other = json!({"client_id": "someone-else", "redirect_uris": [CALLBACK]});
    assert_eq!(send(browser().put(&uri).bearer_auth(&rat3).json(&other)).await.0, 400);
    let wrong = json!({"client_id": client_id, "client_secret": "nope", "redirect_uris": [CALLBACK]});
    assert_eq!(send(browser().put(&uri).bearer_auth(&rat3).json(&wrong)).await.0, 400);
    // A token only works for its own client.
    let other_uri = format!("{}/not-this-one", endpoint(&env));
    assert_eq!(send(browser().get(&other_uri).bearer_auth(&rat3)).await.0, 401);

    // Delete (RFC 7592 §2.3).
    let r = browser().delete(&uri).bearer_auth(&rat3).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        env.store.client(RealmName::new(REALM), oidc_core::ids::ClientId::new(&client_id)).await.unwrap().is_none()
    );
    assert_eq!(send(browser().get(&uri).bearer_auth(&rat3)).await.0, 401);
}

#[tokio::test]
async fn anonymous_registration_follows_the_policies() {
    let env = Env::start().await;
    let body = json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "Anon"});
    // Keycloak's default: no trusted host, so anonymous registration is refused, naming the rule.
    let (status, b, _) = register(&env, None, body.clone()).await;
    assert_eq!(status, 403, "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("trusted-hosts"), "{b}");

    let p = Policies {
        trusted_hosts: Some(vec!["127.0.0.1".into()]),
        max_clients: Some(2),
        client_disabled: true,
        ..Policies::anonymous_default()
    };
    env.store.set_policies(RealmName::new(REALM), PolicyKind::Anonymous, &p.to_json().to_string()).await.unwrap();
    let (status, reg, _) = register(&env, None, body.clone()).await;
    assert_eq!(status, 201, "{reg}");
    let client = env
        .store
        .client(RealmName::new(REALM), oidc_core::ids::ClientId::new(reg["client_id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert!(client.require_consent, "consent-required policy");
    assert!(!client.enabled, "client-disabled policy: an operator enables it");
    // The standard scopes and `roles` (Keycloak's Allowed Client Scopes policy allows the realm's default client scopes).
    assert_eq!(client.allowed_scopes.len(), 7, "only the allowed scopes");
    assert!(client.allowed_scopes.iter().any(|s| s == "roles"), "{:?}", client.allowed_scopes);
    // URIs on an untrusted host, or a scope the policy does not allow, are refused.
    let (status, b, _) = register(&env, None, json!({"redirect_uris": ["https://evil.example/cb"]})).await;
    assert_eq!(status, 403, "{b}");
    let (status, b, _) =
        register(&env, None, json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "scope": "openid admin"})).await;
    assert_eq!(status, 403, "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("allowed-client-scopes"));
    // max-clients counts every client of the realm: 1 registered now, limit 2.
    assert_eq!(register(&env, None, body.clone()).await.0, 201);
    let (status, b, _) = register(&env, None, body.clone()).await;
    assert_eq!(status, 403, "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("max-clients"));
    // An anonymous client's update obeys the same policies.
    let rat = reg["registration_access_token"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let evil = json!({"client_id": reg["client_id"], "redirect_uris": ["https://evil.example/cb"]});
    assert_eq!(send(browser().put(uri).bearer_auth(rat).json(&evil)).await.0, 403);
}

#[tokio::test]
async fn invalid_metadata_and_tokens_are_refused_with_rfc7591_errors() {
    let env = Env::start().await;
    let iat = initial_token(&env, 10, 3600).await;
    for (body, error) in [
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://rp.example/cb#x"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["http://rp.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": [CALLBACK], "response_types": ["code id_token"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [CALLBACK], "id_token_signed_response_alg": "ES256"}), "invalid_client_metadata"),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let (status, b, _) = register(&env, Some(&iat), body.clone()).await;
        assert_eq!((status, b["error"].as_str()), (400, Some(error)), "{body}: {b}");
    }
    assert_eq!(env.store.initial_tokens(RealmName::new(REALM)).await.unwrap()[0].used, 0, "refusals consume no use");
    let r = browser().post(endpoint(&env)).bearer_auth(&iat).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 400, "not application/json");
    let (status, _, _) = register(&env, Some("not-a-token"), json!({"redirect_uris": [CALLBACK]})).await;
    assert_eq!(status, 401);
    let expired = initial_token(&env, 1, -1).await;
    assert_eq!(register(&env, Some(&expired), json!({"redirect_uris": [CALLBACK]})).await.0, 401);
}

#[tokio::test]
async fn parallel_registrations_never_exceed_the_initial_token_count() {
    let env = Env::start().await;
    let iat = initial_token(&env, 3, 3600).await;
    let before = env.store.clients(RealmName::new(REALM)).await.unwrap().len();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (url, iat) = (endpoint(&env), iat.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"redirect_uris": [CALLBACK], "client_name": format!("P{i}")});
            browser().post(url).bearer_auth(iat).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 401), "{statuses:?}");
    assert_eq!(env.store.clients(RealmName::new(REALM)).await.unwrap().len(), before + 3);
}

/// A service account: a confidential client with client_credentials, holding `roles`; returns an access token.
async fn service_token(env: &Env, roles: &[&str]) -> String {
    let (id, secret) = env
        .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
            s.response_types = vec![];
            s.grant_types = vec![oidc_core::model::GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
        })
        .await;
    for r in roles {
        env.store.grant_role(RealmName::new(REALM), &oidc_core::repo::RoleHolder::Client(id.clone()), r).await.unwrap();
    }
    let (status, body, _) = send(
        browser()
            .post(env.endpoint("token"))
            .basic_auth(&id, secret.as_deref())
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bearer_tokens_of_role_holders_create_read_and_manage_clients() {
    let env = Env::start().await;
    let creator = service_token(&env, &["create-client"]).await;
    let nobody = service_token(&env, &[]).await;
    let viewer = service_token(&env, &["view-clients"]).await;
    let manager = service_token(&env, &["manage-clients"]).await;
    let body = json!({"redirect_uris": [CALLBACK], "client_name": "By role"});
    let (status, b, _) = register(&env, Some(&nobody), body.clone()).await;
    assert_eq!((status, b["error"].as_str()), (403, Some("insufficient_scope")), "{b}");
    let (status, reg, _) = register(&env, Some(&creator), body).await;
    assert_eq!(status, 201, "{reg}");
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();

    // view-clients reads, but cannot change or delete; as in Keycloak, a role holder's
    // call leaves the client's registration access token as it is.
    let (status, read, _) = send(browser().get(uri).bearer_auth(&viewer)).await;
    assert_eq!(status, 200, "{read}");
    assert!(read.get("registration_access_token").is_none(), "{read}");
    assert_eq!(send(browser().get(uri).bearer_auth(rat)).await.0, 200, "the registration token still works");
    let update = json!({"client_id": reg["client_id"], "redirect_uris": [CALLBACK], "client_name": "Managed"});
    assert_eq!(send(browser().put(uri).bearer_auth(&viewer).json(&update)).await.0, 403);
    assert_eq!(send(browser().get(uri).bearer_auth(&creator)).await.0, 403, "create-client alone cannot read");
    // manage-clients changes and deletes.
    let (status, upd, _) = send(browser().put(uri).bearer_auth(&manager).json(&update)).await;
    assert_eq!((status, upd["client_name"].as_str()), (200, Some("Managed")), "{upd}");
    assert_eq!(browser().delete(uri).bearer_auth(&manager).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn client_secret_jwt_at_the_token_endpoint_is_accepted_once_rfc7523() {
    let env = Env::start().await;
    let d = env.discovery().await;
    assert!(d["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("client_secret_jwt")));
    let iat = initial_token(&env, 1, 3600).await;
    let (status, reg, _) = register(
        &env,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_jwt");
    let (id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
    let token_url = env.endpoint("token");
    let claims = json!({"iss": id, "sub": id, "aud": token_url, "jti": "once", "exp": now().plus(60).secs()});
    let assertion = oidc_core::jose::sign_hs256(claims.as_object().unwrap(), secret.as_bytes());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", oidc_core::token::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, body, _) = send(browser().post(&token_url).form(&form)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body, _) = send(browser().post(&token_url).form(&form)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "a replayed assertion: {body}");
    let forged = oidc_core::jose::sign_hs256(
        json!({"iss": id, "sub": id, "aud": token_url, "jti": "two", "exp": now().plus(60).secs()})
            .as_object()
            .unwrap(),
        b"not-the-secret",
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", oidc_core::token::JWT_BEARER),
        ("client_assertion", forged.as_str()),
    ];
    assert_eq!(send(browser().post(&token_url).form(&form)).await.0, 401);
}

#[tokio::test]
async fn private_key_jwt_with_registered_jwks_rfc7523() {
    let env = Env::start().await;
    let rec = oidc_core::model::KeyRecord {
        kid: "rp-key-1".into(),
        realm: "rp".into(),
        alg: "ES256".into(),
        private_pkcs8: oidc_core::jose::generate_pkcs8(oidc_core::model::JwtAlg::Es256).unwrap(),
        state: oidc_core::model::KeyState::Active,
        created_at: now(),
        published_until: None,
    };
    let key = oidc_core::jose::SigningKey::from_record(&rec).unwrap();
    let iat = initial_token(&env, 2, 3600).await;
    // private_key_jwt without keys is refused.
    let (status, _, _) = register(
        &env,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "response_types": [],
        "token_endpoint_auth_method": "private_key_jwt"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, reg, _) = register(
        &env,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [key.public_jwk()]}}),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["jwks"]["keys"][0]["kid"], "rp-key-1");
    let id = reg["client_id"].as_str().unwrap();
    let token_url = env.endpoint("token");
    let claims = json!({"iss": id, "sub": id, "aud": token_url, "jti": "pk-1", "exp": now().plus(60).secs()});
    let assertion = key.sign(claims.as_object().unwrap());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", oidc_core::token::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, body, _) = send(browser().post(&token_url).form(&form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(send(browser().post(&token_url).form(&form)).await.0, 401, "replay");
}

#[tokio::test]
async fn unsigned_id_tokens_signed_userinfo_and_default_max_age_end_to_end() {
    let env = Env::start().await;
    let d = env.discovery().await;
    assert!(d["id_token_signing_alg_values_supported"].as_array().unwrap().contains(&json!("none")));
    assert!(d["userinfo_signing_alg_values_supported"].as_array().unwrap().contains(&json!("RS256")));
    let iat = initial_token(&env, 1, 3600).await;
    let (status, reg, _) = register(
        &env,
        Some(&iat),
        json!({"redirect_uris": [CALLBACK], "id_token_signed_response_alg": "none",
               "userinfo_signed_response_alg": "RS256", "default_max_age": 3600}),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let (id, secret) =
        (reg["client_id"].as_str().unwrap().to_owned(), reg["client_secret"].as_str().unwrap().to_owned());
    env.user("alice", "wonderland-42").await;
    let url = format!(
        "{}?client_id={id}&redirect_uri={}&response_type=code&scope=openid%20email&state=s&nonce=n",
        env.endpoint("auth"),
        crate::harness::enc(CALLBACK)
    );
    let back = authorize(&browser(), &url, "alice", "wonderland-42").await;
    let code = query_param(&back, "code").unwrap();
    let (status, tokens, _) = send(browser().post(env.endpoint("token")).basic_auth(&id, Some(&secret)).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ]))
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert!(id_token.ends_with('.'), "unsigned: an empty signature");
    let header: Value =
        serde_json::from_slice(&oidc_core::jose::b64_decode(id_token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "none");
    // UserInfo comes back as a JWT signed by the realm's RS256 key, with iss and aud.
    let r = browser()
        .get(env.endpoint("userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    let jwks: Value = browser().get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().map(|k| oidc_core::jose::VerifyKey::from_jwk(k).unwrap()).collect();
    let v = oidc_core::jose::verify(&jwt, &["RS256"], &keys).expect("signed by the realm key");
    assert_eq!(v.claims["iss"], env.issuer().as_str());
    assert_eq!(v.claims["aud"], id.as_str());
    assert_eq!(v.claims["email"], "alice@example.com");
}

#[tokio::test]
async fn a_registered_client_rotates_its_secret_through_put() {
    let env = Env::start().await;
    let iat = initial_token(&env, 1, 3600).await;
    let (_, reg, _) = register(&env, Some(&iat), json!({"redirect_uris": [CALLBACK]})).await;
    let (id, old_secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let body = json!({"client_id": id, "redirect_uris": [CALLBACK], "rotate_client_secret": true});
    let (status, upd, _) =
        send(browser().put(uri).bearer_auth(reg["registration_access_token"].as_str().unwrap()).json(&body)).await;
    assert_eq!(status, 200, "{upd}");
    let new_secret = upd["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert_eq!(upd["client_secret_expires_at"], 0);
    let cc = |secret: &str| {
        browser()
            .post(env.endpoint("token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
    };
    assert_eq!(send(cc(old_secret)).await.0, 401, "the old secret stops working");
    assert_eq!(send(cc(new_secret)).await.0, 400, "the new one authenticates (the code itself is bogus)");
}

#[tokio::test]
async fn sector_identifier_uri_is_fetched_and_must_be_public_oidc_registration_5() {
    let env = Env::start().await;
    let iat = initial_token(&env, 1, 3600).await;
    let (status, b, _) = register(
        &env,
        Some(&iat),
        json!({"redirect_uris": ["https://a.example/cb", "https://b.example/cb"], "subject_type": "pairwise",
               "sector_identifier_uri": "https://127.0.0.1:9/sector.json"}),
    )
    .await;
    assert_eq!((status, b["error"].as_str()), (400, Some("invalid_client_metadata")), "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("public address"), "{b}");
    assert_eq!(env.store.initial_tokens(RealmName::new(REALM)).await.unwrap()[0].used, 0);
}

pub(crate) fn client_key(kid: &str) -> oidc_core::jose::SigningKey {
    let rec = oidc_core::model::KeyRecord {
        kid: kid.into(),
        realm: "rp".into(),
        alg: "ES256".into(),
        private_pkcs8: oidc_core::jose::generate_pkcs8(oidc_core::model::JwtAlg::Es256).unwrap(),
        state: oidc_core::model::KeyState::Active,
        created_at: now(),
        published_until: None,
    };
    oidc_core::jose::SigningKey::from_record(&rec).unwrap()
}

#[tokio::test]
async fn jwks_uri_keys_are_fetched_and_fetched_again_for_a_new_key() {
    let env = Env::start_with_loopback_fetch().await;
    let (first, second) = (client_key("k-2026-a"), client_key("k-2026-b"));
    let (base, doc) =
        crate::harness::serve_mutable(json!({"keys": [first.public_jwk()]}).to_string(), "application/json").await;
    let (id, _) = env
        .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
            s.response_types = vec![];
            s.grant_types = vec![oidc_core::model::GrantType::ClientCredentials];
            s.redirect_uris = vec![];
            s.post_logout_redirect_uris = vec![];
            s.jwks_uri = Some(format!("{base}/jwks.json"));
        })
        .await;
    let token_url = env.endpoint("token");
    let assert_with = |key: &oidc_core::jose::SigningKey, jti: &str| {
        let claims = json!({"iss": id, "sub": id, "aud": token_url, "jti": jti, "exp": now().plus(60).secs()});
        key.sign(claims.as_object().unwrap())
    };
    let post = |assertion: String| {
        browser().post(env.endpoint("token")).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_assertion_type", oidc_core::token::JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ])
    };
    assert_eq!(send(post(assert_with(&first, "j1"))).await.0, 200, "signed with the published key");
    // The client rotates: its document now has the second key only; the cached copy does not,
    // so the provider fetches again once and accepts.
    *doc.lock().unwrap() = json!({"keys": [second.public_jwk()]}).to_string();
    assert_eq!(send(post(assert_with(&second, "j2"))).await.0, 200, "a new kid makes the provider fetch again");
    assert_eq!(send(post(assert_with(&first, "j3"))).await.0, 401, "the retired key no longer verifies");
}

#[tokio::test]
async fn the_rotation_policy_can_keep_the_registration_token() {
    let env = Env::start().await;
    let p = Policies { rotate_registration_token: false, ..Policies::authenticated_default() };
    env.store.set_policies(RealmName::new(REALM), PolicyKind::Authenticated, &p.to_json().to_string()).await.unwrap();
    let iat = initial_token(&env, 1, 3600).await;
    let (_, reg, _) = register(&env, Some(&iat), json!({"redirect_uris": [CALLBACK]})).await;
    let (uri, rat) =
        (reg["registration_client_uri"].as_str().unwrap(), reg["registration_access_token"].as_str().unwrap());
    for _ in 0..2 {
        let (status, read, _) = send(browser().get(uri).bearer_auth(rat)).await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["registration_access_token"], rat, "the same token keeps working");
    }
}

#[tokio::test]
async fn the_consent_page_shows_a_registered_clients_logo_policy_and_terms() {
    let env = Env::start().await;
    let iat = initial_token(&env, 1, 3600).await;
    let (_, reg, _) = register(
        &env,
        Some(&iat),
        json!({"redirect_uris": [CALLBACK], "client_name": "Shown RP", "logo_uri": "https://rp.example/logo.png",
               "policy_uri": "https://rp.example/privacy", "tos_uri": "https://rp.example/terms"}),
    )
    .await;
    env.user("alice", "wonderland-42").await;
    let http = browser();
    let url = format!(
        "{}?client_id={}&redirect_uri={}&response_type=code&scope=openid",
        env.endpoint("auth"),
        reg["client_id"].as_str().unwrap(),
        crate::harness::enc(CALLBACK)
    );
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    let r = crate::harness::submit_login(&http, &page, "alice", "wonderland-42").await;
    let page = http.get(crate::harness::location(&r)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Shown RP"), "{page}");
    for link in
        ["logo.png", "id=\"client-policy\"", "id=\"client-tos\"", "rp.example&#x2f;privacy", "rp.example&#x2f;terms"]
    {
        assert!(page.contains(link), "{link} in {page}");
    }
}

#[tokio::test]
async fn a_client_registered_for_client_secret_post_cannot_use_basic() {
    let env = Env::start().await;
    let iat = initial_token(&env, 1, 3600).await;
    let (_, reg, _) = register(
        &env,
        Some(&iat),
        json!({"grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let (id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
    let basic = browser()
        .post(env.endpoint("token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    assert_eq!(send(basic).await.0, 401);
    let post = browser().post(env.endpoint("token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ]);
    assert_eq!(send(post).await.0, 200);
}

#[tokio::test]
async fn clients_registered_anonymously_and_by_a_role_holder_run_the_code_flow() {
    let env = Env::start().await;
    let p = Policies { trusted_hosts: Some(vec!["127.0.0.1".into()]), ..Policies::anonymous_default() };
    env.store.set_policies(RealmName::new(REALM), PolicyKind::Anonymous, &p.to_json().to_string()).await.unwrap();
    let creator = service_token(&env, &["create-client"]).await;
    env.user("alice", "wonderland-42").await;
    for token in [None, Some(creator.as_str())] {
        let (status, reg, _) =
            register(&env, token, json!({"redirect_uris": [CALLBACK], "scope": "openid email"})).await;
        assert_eq!(status, 201, "{reg}");
        let (id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
        let url = format!(
            "{}?client_id={id}&redirect_uri={}&response_type=code&scope=openid%20email&state=s",
            env.endpoint("auth"),
            crate::harness::enc(CALLBACK)
        );
        let back = authorize(&browser(), &url, "alice", "wonderland-42").await;
        let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
        let (status, tokens, _) = send(browser().post(env.endpoint("token")).basic_auth(id, Some(secret)).form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ]))
        .await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["scope"], "openid email");
    }
}
