//! Keycloak compatibility of the client registration service, driven with the
//! JSON of Keycloak's documentation: "Securing Applications and Services
//! Guide", chapter "Client registration service", sections "Keycloak
//! Representations", "Client Registration Policies" and "Client Registration CLI".

use oidc_core::ids::{ClientId, RealmName};
use oidc_core::registration::{Policies, PolicyKind};
use oidc_core::repo::RoleHolder;
use serde_json::{Value, json};

use crate::harness::{CALLBACK, Env, REALM, browser};

fn default_endpoint(env: &Env) -> String {
    format!("{}/clients-registrations/default", env.issuer())
}

async fn initial_token(env: &Env) -> String {
    crate::registration::initial_token(env, 5, 3600).await
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn rat(v: &Value) -> String {
    v["registrationAccessToken"].as_str().expect("a registration access token").to_owned()
}

/// Keycloak's example: `curl -X POST -d '{ "clientId": "myclient" }' ... /clients-registrations/default`
/// with an initial access token; then read, update and delete with the
/// registration access token, and the adapter configuration from the `install` provider.
#[tokio::test]
async fn keycloak_representation_create_get_put_delete_and_install() {
    let env = Env::start().await;
    let iat = initial_token(&env).await;
    let url = default_endpoint(&env);
    let (status, created) = send(browser().post(&url).bearer_auth(&iat).json(&json!({"clientId": "myclient"}))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["clientId"], "myclient");
    assert_eq!(created["id"], "myclient");
    assert_eq!(created["protocol"], "openid-connect");
    assert_eq!(created["publicClient"], false);
    assert_eq!(created["standardFlowEnabled"], true);
    assert_eq!(created["clientAuthenticatorType"], "client-secret");
    assert_eq!(created["redirectUris"], json!([]), "a client may start without redirect URIs");
    assert!(created["secret"].as_str().is_some_and(|s| s.len() >= 32), "{created}");
    // Keycloak's realm default client scopes that exist here ("Client scopes": profile, email, roles).
    assert_eq!(created["defaultClientScopes"], json!(["profile", "email", "roles"]));
    // The chosen clientId is taken: 409 with a JSON error.
    let (status, taken) = send(browser().post(&url).bearer_auth(&iat).json(&json!({"clientId": "myclient"}))).await;
    assert_eq!((status, taken["error"].as_str()), (409, Some("invalid_client_metadata")), "{taken}");

    // GET, then PUT the representation back unchanged.
    let uri = format!("{url}/myclient");
    let (status, read) = send(browser().get(&uri).bearer_auth(rat(&created))).await;
    assert_eq!(status, 200, "{read}");
    let (status, same) = send(browser().put(&uri).bearer_auth(rat(&read)).json(&read)).await;
    assert_eq!(status, 200, "{same}");
    let without_token = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("registrationAccessToken");
        v
    };
    assert_eq!(without_token(&same), without_token(&read), "a GET body PUT back changes nothing");
    let stored = env.store.client(RealmName::new(REALM), ClientId::new("myclient")).await.unwrap().unwrap();
    assert!(stored.allowed_scopes.is_empty(), "every scope stays every scope");

    // PUT a change: a relative redirect URI resolves against rootUrl, as in Keycloak.
    let mut change = same.clone();
    change["name"] = json!("My Client");
    change["rootUrl"] = json!("https://app.example");
    change["redirectUris"] = json!(["/callback", CALLBACK]);
    change["attributes"]["pkce.code.challenge.method"] = json!("S256");
    change["attributes"]["post.logout.redirect.uris"] = json!("https://app.example/bye##https://app.example/later");
    let (status, changed) = send(browser().put(&uri).bearer_auth(rat(&same)).json(&change)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "My Client");
    assert_eq!(changed["redirectUris"], json!(["https://app.example/callback", CALLBACK]));
    assert_eq!(changed["attributes"]["pkce.code.challenge.method"], "S256");
    let stored = env.store.client(RealmName::new(REALM), ClientId::new("myclient")).await.unwrap().unwrap();
    assert_eq!(stored.post_logout_redirect_uris, ["https://app.example/bye", "https://app.example/later"]);
    assert_eq!(stored.pkce_method, Some(oidc_core::pkce::PkceMethod::S256));

    // Bad input: a member of the wrong type names it; wildcards cite RFC 9700; unknown members are ignored.
    let next = rat(&changed);
    let (status, b) = send(browser().put(&uri).bearer_auth(&next).json(&json!({"consentRequired": "yes"}))).await;
    assert_eq!(status, 400, "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("consentRequired"), "{b}");
    let (status, b) =
        send(browser().put(&uri).bearer_auth(&next).json(&json!({"redirectUris": ["https://app.example/*"]}))).await;
    assert_eq!((status, b["error"].as_str()), (400, Some("invalid_redirect_uri")), "{b}");
    assert!(b["error_description"].as_str().unwrap().contains("RFC 9700"), "{b}");
    for (body, what) in [
        (json!({"clientId": "other"}), "clientId"),
        (json!({"secret": "chosen-by-the-registrant"}), "secret"),
        (json!({"enabled": false}), "enabled"),
        (json!({"publicClient": true}), "publicClient"),
        (json!({"directAccessGrantsEnabled": true}), "password grant"),
        (json!({"protocol": "saml"}), "protocol"),
    ] {
        let (status, b) = send(browser().put(&uri).bearer_auth(&next).json(&body)).await;
        assert_eq!(status, 400, "{what}: {b}");
    }
    let (status, ok) = send(
        browser().put(&uri).bearer_auth(&next).json(&json!({"surrogateAuthRequired": false, "unknownMember": [1]})),
    )
    .await;
    assert_eq!(status, 200, "{ok}");

    // The install provider: Keycloak's OIDC adapter configuration (keycloak.json).
    let install = format!("{}/clients-registrations/install/myclient", env.issuer());
    let (status, doc) = send(browser().get(&install).bearer_auth(rat(&ok))).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["realm"], REALM);
    assert_eq!(doc["resource"], "myclient");
    assert_eq!(doc["auth-server-url"], format!("{}/", env.server.base_url));
    assert_eq!(doc["ssl-required"], "none");
    assert_eq!(doc["confidential-port"], 0);
    assert_eq!(doc["credentials"]["secret"], created["secret"]);
    assert_eq!(send(browser().get(&install).bearer_auth("not-a-token")).await.0, 401);

    // DELETE; the client and its token are gone.
    let r = browser().delete(&uri).bearer_auth(rat(&ok)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(env.store.client(RealmName::new(REALM), ClientId::new("myclient")).await.unwrap().is_none());
    assert_eq!(send(browser().get(&uri).bearer_auth(rat(&ok))).await.0, 401);
}

/// As in Keycloak, a client may be created without redirect URIs; it cannot
/// use a browser flow until it has one (never a redirect to an unregistered URI).
#[tokio::test]
async fn a_client_without_redirect_uris_gets_browser_flows_once_it_has_one() {
    let env = Env::start().await;
    let iat = initial_token(&env).await;
    let url = default_endpoint(&env);
    let (_, created) = send(browser().post(&url).bearer_auth(&iat).json(&json!({"clientId": "later"}))).await;
    let auth = format!(
        "{}?client_id=later&response_type=code&scope=openid&redirect_uri={}",
        env.endpoint("auth"),
        crate::harness::enc(CALLBACK)
    );
    let r = browser().get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 400, "an error page, not a redirect");
    let (status, _) = send(
        browser().put(format!("{url}/later")).bearer_auth(rat(&created)).json(&json!({"redirectUris": [CALLBACK]})),
    )
    .await;
    assert_eq!(status, 200);
    let r = browser().get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 200, "the login page");
}

/// Keycloak's "Client Registration Policies": a registration access token
/// obtained anonymously stays subject to the anonymous policies on read,
/// update and delete (Trusted Hosts with its two switches, Consent Required,
/// Client Disabled, Full Scope Disabled).
#[tokio::test]
async fn anonymous_registration_tokens_stay_under_the_anonymous_policies() {
    let env = Env::start().await;
    let set = |p: Policies| {
        let store = env.store.clone();
        async move {
            store.set_policies(RealmName::new(REALM), PolicyKind::Anonymous, &p.to_json().to_string()).await.unwrap()
        }
    };
    let trusting = |hosts: &[&str]| Policies {
        trusted_hosts: Some(hosts.iter().map(|h| (*h).to_owned()).collect()),
        client_disabled: true,
        ..Policies::anonymous_default()
    };
    set(trusting(&["127.0.0.1", "app.example"])).await;
    let url = default_endpoint(&env);
    let body = json!({"clientId": "anon", "redirectUris": ["https://app.example/cb"], "consentRequired": false,
        "fullScopeAllowed": true});
    let (status, created) = send(browser().post(&url).json(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["consentRequired"], true, "Consent Required policy");
    assert_eq!(created["enabled"], false, "Client Disabled policy");
    assert_eq!(created["fullScopeAllowed"], false, "Full Scope policy");
    let uri = format!("{url}/anon");
    let (status, read) = send(browser().get(&uri).bearer_auth(rat(&created))).await;
    assert_eq!(status, 200, "{read}");
    let token = rat(&read);

    // Updates may not undo what the policies decided.
    for (change, rule) in [
        (json!({"consentRequired": false}), "consent-required"),
        (json!({"fullScopeAllowed": true}), "full-scope-disabled"),
        (json!({"redirectUris": ["https://evil.example/cb"]}), "trusted-hosts"),
        (json!({"optionalClientScopes": ["address", "phone", "offline_access", "work"]}), "client scope"),
    ] {
        let (status, b) = send(browser().put(&uri).bearer_auth(&token).json(&change)).await;
        assert!(matches!(status, 400 | 403), "{change}: {b}");
        assert!(b["error_description"].as_str().unwrap().contains(rule), "{change}: {b}");
    }
    // enabled is an operator's decision (and Client Disabled holds for updates).
    assert_eq!(send(browser().put(&uri).bearer_auth(&token).json(&json!({"enabled": true}))).await.0, 400);

    // Trusted Hosts on every call: the requester (127.0.0.1) is no longer trusted.
    set(trusting(&["app.example"])).await;
    for req in [browser().get(&uri), browser().delete(&uri), browser().put(&uri).json(&json!({}))] {
        let (status, b) = send(req.bearer_auth(&token)).await;
        assert_eq!(status, 403, "{b}");
        assert!(b["error_description"].as_str().unwrap().contains("not trusted"), "{b}");
    }
    // The "requester must match" switch off: the call goes through; URIs are still checked.
    set(Policies { trusted_hosts_check_requester: false, ..trusting(&["app.example"]) }).await;
    let (status, read) = send(browser().get(&uri).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{read}");
    let token = rat(&read);
    let (status, _) =
        send(browser().put(&uri).bearer_auth(&token).json(&json!({"redirectUris": ["https://evil.example/cb"]}))).await;
    assert_eq!(status, 403, "client URIs must still match");
    // And the "client URIs must match" switch off as well.
    set(Policies { trusted_hosts_check_requester: false, trusted_hosts_check_uris: false, ..trusting(&["x.example"]) })
        .await;
    let (status, b) =
        send(browser().put(&uri).bearer_auth(&token).json(&json!({"redirectUris": ["https://evil.example/cb"]}))).await;
    assert_eq!(status, 200, "{b}");
    // An operator's bearer token with manage-clients is not an anonymous registration token.
    let r = browser().delete(&uri).bearer_auth(rat(&b)).send().await.unwrap();
    assert_eq!(r.status(), 204);
}

/// Issue 8: a bearer value that is not a valid token never selects the
/// authenticated policies, and nothing is fetched before the caller is authorized.
#[tokio::test]
async fn an_invalid_bearer_is_refused_before_any_policy_or_outbound_fetch() {
    let env = Env::start_with_loopback_fetch().await;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let body = json!({"redirect_uris": ["https://a.example/cb"], "subject_type": "pairwise",
        "sector_identifier_uri": format!("http://{addr}/sector.json")});
    let oidc = format!("{}/clients-registrations/openid-connect", env.issuer());
    let (status, b) = send(browser().post(&oidc).bearer_auth("made-up-value").json(&body)).await;
    assert_eq!((status, b["error"].as_str()), (401, Some("invalid_token")), "{b}");
    let (status, _) = send(browser().post(default_endpoint(&env)).bearer_auth("made-up-value").json(&json!({}))).await;
    assert_eq!(status, 401);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no outbound fetch for an unauthorized call");
}

/// Keycloak's roles: `manage-clients` reads, changes and deletes any client,
/// including one an operator created; `view-clients` only reads;
/// `create-client` only creates.
#[tokio::test]
async fn roles_manage_operator_clients_and_operators_issue_registration_tokens() {
    let env = Env::start().await;
    let (id, _) = env
        .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
            s.client_id = Some("operator-made".into());
        })
        .await;
    let token = |roles: &'static [&'static str]| {
        let env = &env;
        async move {
            let (sa, secret) = env
                .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
                    s.response_types = vec![];
                    s.grant_types = vec![oidc_core::model::GrantType::ClientCredentials];
                    s.redirect_uris = vec![];
                })
                .await;
            for r in roles {
                env.store.grant_role(RealmName::new(REALM), &RoleHolder::Client(sa.clone()), r).await.unwrap();
            }
            let (_, b) = send(
                browser()
                    .post(env.endpoint("token"))
                    .basic_auth(&sa, secret.as_deref())
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
            b["access_token"].as_str().unwrap().to_owned()
        }
    };
    let (manager, viewer, creator) =
        (token(&["manage-clients"]).await, token(&["view-clients"]).await, token(&["create-client"]).await);
    let uri = format!("{}/{id}", default_endpoint(&env));
    let (status, read) = send(browser().get(&uri).bearer_auth(&viewer)).await;
    assert_eq!(status, 200, "{read}");
    assert!(read.get("registrationAccessToken").is_none(), "a role holder gets no registration access token");
    assert_eq!(send(browser().put(&uri).bearer_auth(&viewer).json(&json!({"name": "X"}))).await.0, 403);
    assert_eq!(send(browser().get(&uri).bearer_auth(&creator)).await.0, 403, "create-client only creates");
    let (status, b) = send(browser().post(default_endpoint(&env)).bearer_auth(&creator).json(&json!({}))).await;
    assert_eq!(status, 201, "{b}");
    let (status, b) = send(browser().put(&uri).bearer_auth(&manager).json(&json!({"name": "Managed"}))).await;
    assert_eq!((status, b["name"].as_str()), (200, Some("Managed")), "{b}");
    let (status, b) =
        send(browser().get(format!("{}/clients-registrations/install/{id}", env.issuer())).bearer_auth(&manager)).await;
    assert_eq!((status, b["resource"].as_str()), (200, Some(id.as_str())), "{b}");
    assert_eq!(browser().delete(&uri).bearer_auth(&manager).send().await.unwrap().status(), 204);
}

/// Reads one DER element (X.690 §8.1): its tag, contents and the rest.
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (input[0], input[1]);
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        (input[2..2 + n].iter().fold(0usize, |acc, b| acc * 256 + usize::from(*b)), 2 + n)
    };
    (tag, &input[start..start + len], &input[start + len..])
}

/// A Keycloak-built application: reads the realm's public key from
/// `GET /realms/{realm}` (Keycloak's `PublishedRealmRepresentation`),
/// verifies an id_token with it, and reads Keycloak's token response members
/// (`refresh_expires_in`, `session_state`, `not-before-policy`). A client whose
/// default client scopes are `profile email` gets their claims for `scope=openid`
/// (Server Administration Guide, "Client scopes": default client scopes).
#[tokio::test]
async fn keycloak_apps_read_the_realm_key_token_members_and_default_scopes() {
    use base64::Engine as _;
    let env = Env::start().await;
    let (status, info) = send(browser().get(env.issuer())).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["realm"], REALM);
    assert_eq!(info["token-service"], format!("{}/protocol/openid-connect", env.issuer()));
    assert_eq!(info["account-service"], format!("{}/account", env.issuer()));
    assert_eq!(info["tokens-not-before"], 0);
    // SubjectPublicKeyInfo { AlgorithmIdentifier, BIT STRING { RSAPublicKey { n, e } } }.
    let spki = base64::engine::general_purpose::STANDARD.decode(info["public_key"].as_str().unwrap()).unwrap();
    let (tag, spki_body, _) = der(&spki);
    assert_eq!(tag, 0x30);
    let (_, algorithm, rest) = der(spki_body);
    assert_eq!(
        algorithm,
        [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00],
        "rsaEncryption"
    );
    let (tag, bits, _) = der(rest);
    assert_eq!((tag, bits[0]), (0x03, 0));
    let (_, rsa_key, _) = der(&bits[1..]);
    let (_, n, rest) = der(rsa_key);
    let (_, e, _) = der(rest);
    let unsigned = |x: &[u8]| oidc_core::jose::b64(x.strip_prefix(&[0]).unwrap_or(x));
    let jwk = json!({"kty": "RSA", "n": unsigned(n), "e": unsigned(e)});
    let key = oidc_core::jose::VerifyKey::from_jwk(&jwk).unwrap();

    let (client_id, secret) = env
        .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
            s.default_scopes = vec!["profile".into(), "email".into()];
            s.require_consent = false;
        })
        .await;
    let sub = env.user("alice", "wonderland-42").await;
    let auth = format!(
        "{}?client_id={client_id}&response_type=code&scope=openid&state=s&redirect_uri={}",
        env.endpoint("auth"),
        crate::harness::enc(CALLBACK)
    );
    let http = browser();
    let back = crate::harness::authorize(&http, &auth, "alice", "wonderland-42").await;
    let code = crate::harness::query_param(&back, "code").unwrap();
    let (status, tokens) =
        send(browser().post(env.endpoint("token")).basic_auth(&client_id, secret.as_deref()).form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ]))
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile email", "the default client scopes are granted");
    assert!(tokens["refresh_expires_in"].as_i64().is_some_and(|s| s > 0), "{tokens}");
    assert!(tokens["session_state"].as_str().is_some_and(|s| !s.is_empty()), "{tokens}");
    assert_eq!(tokens["not-before-policy"], 0);
    let verified = oidc_core::jose::verify(tokens["id_token"].as_str().unwrap(), &["RS256"], &[key]).unwrap();
    assert_eq!(verified.claims["sub"], sub.as_str());
    let (_, info) =
        send(browser().get(env.endpoint("userinfo")).bearer_auth(tokens["access_token"].as_str().unwrap())).await;
    assert_eq!(info["email"], "alice@example.com", "{info}");
    assert_eq!(info["name"], "Alice Liddell", "{info}");
}

/// A client registered in Keycloak's form gets JWT access tokens (RFC 9068), as
/// Keycloak issues them: keycloak-js reads them and server adapters verify them
/// against the realm's keys; their `sid` is the token response's `session_state`,
/// which keycloak-js posts to the session iframe ("Securing Applications",
/// "JavaScript adapter").
#[tokio::test]
async fn clients_registered_in_keycloak_form_get_jwt_access_tokens() {
    let env = Env::start().await;
    env.user("alice", "wonderland-42").await;
    let iat = initial_token(&env).await;
    let (status, created) = send(
        browser()
            .post(default_endpoint(&env))
            .bearer_auth(&iat)
            .json(&json!({"clientId": "kc-app", "redirectUris": [CALLBACK]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let auth = format!(
        "{}?client_id=kc-app&response_type=code&scope=openid&state=s&redirect_uri={}",
        env.endpoint("auth"),
        crate::harness::enc(CALLBACK)
    );
    let back = crate::harness::authorize(&browser(), &auth, "alice", "wonderland-42").await;
    let code = crate::harness::query_param(&back, "code").unwrap();
    let (status, tokens) = send(browser().post(env.endpoint("token")).basic_auth("kc-app", Some(&secret)).form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
    ]))
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let (_, jwks) = send(browser().get(env.endpoint("certs"))).await;
    let keys: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().filter_map(|k| oidc_core::jose::VerifyKey::from_jwk(k).ok()).collect();
    let verified = oidc_core::jose::verify(access, &["RS256"], &keys).expect("a JWT the realm's keys verify");
    assert_eq!(verified.header["typ"], "at+jwt");
    assert_eq!(verified.claims["azp"], "kc-app");
    assert_eq!(verified.claims["sid"], tokens["session_state"], "keycloak-js posts this sid to the iframe");
}

/// The Python interpreter of the virtual environment `cargo xtask ci` makes in
/// `target/py` with python-keycloak from PyPI.
fn python_keycloak() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python3")
}

/// A server-side application written for Keycloak: python-keycloak (PyPI,
/// unmodified) registers a client in Keycloak's form with an initial access
/// token, signs in with the password grant, reads UserInfo, verifies the access
/// token with the realm's certificates, introspects, refreshes, reads the
/// realm's public key and logs out with the refresh token
/// (tests/python/python_keycloak.py prints each step).
#[tokio::test]
async fn python_keycloak_drives_the_provider_as_it_drives_keycloak() {
    let python = python_keycloak();
    assert!(
        python.exists(),
        "{} is missing: `cargo xtask ci` makes it (python3 -m venv target/py && target/py/bin/pip install python-keycloak)",
        python.display()
    );
    let settings =
        oidc_core::config::Settings { password_grant_enabled: true, ..oidc_core::config::Settings::default() };
    let env = Env::start_with(settings).await;
    env.user("alice", "wonderland-42").await;
    let iat = initial_token(&env).await;
    // An application the operator set up for the password grant, with JWT access tokens as Keycloak's.
    let (client_id, secret) = env
        .client(oidc_core::model::ClientType::Confidential, oidc_core::model::JwtAlg::Rs256, |s| {
            s.grant_types.push(oidc_core::model::GrantType::Password);
            s.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
        })
        .await;
    let secret = secret.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/python_keycloak.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .args([env.server.base_url.as_str(), REALM, iat.as_str(), "alice", "wonderland-42", &client_id, &secret])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python-keycloak failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 12, "{stdout}");
}
