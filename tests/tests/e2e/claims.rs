//! Custom scopes and claims, the `claims` parameter (OIDC Core §5.5),
//! pairwise subjects (§8.1) and the hooks, end to end.

use std::sync::{Arc, Mutex};

use oidc_core::hooks::{AfterLogin, AfterLoginHook, ConsentEvent, ConsentListener, Hooks, StaticClaims, UserInfoHook};
use oidc_core::ids::RealmName;
use oidc_core::model::{Client, ClientType, JwtAlg, User};
use oidc_core::scope::{Scope, ScopeDef, ScopeRegistry};
use oidc_core::subject::SubjectType;
use oidc_core::time::UnixTime;
use serde_json::{Map, Value, json};

use crate::harness::{self, CALLBACK, Env, REALM, authorize, browser, enc, location, query_param};

fn work_scope() -> ScopeRegistry {
    ScopeRegistry::new(vec![ScopeDef {
        name: "work".into(),
        display_name: "Work information".into(),
        description: "Your department".into(),
        claims: vec!["department".into()],
    }])
    .unwrap()
}

/// Code flow for `client_id` with `extra` query parameters; returns the token response.
async fn tokens(
    env: &Env,
    http: &reqwest::Client,
    client_id: &str,
    secret: &str,
    extra: &str,
    user: (&str, &str),
) -> Value {
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&state=s&nonce=n{extra}",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(http, &url, user.0, user.1).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    http.post(env.endpoint("token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&oidc_core::jose::b64_decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn userinfo(env: &Env, at: &str) -> Value {
    browser().get(env.endpoint("userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn custom_scope_claims_param_and_consent_page_oidc_core_5_4_and_5_5() {
    let env = Env::start_with_options(work_scope(), Hooks::default()).await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let secret = secret.unwrap();
    env.user("alice", "wonderland-42").await;
    let mut alice = env.store.user_by_username(RealmName::new(REALM), "alice").await.unwrap().unwrap();
    alice.attributes.insert("department".into(), json!("Research"));
    env.store.update_user(&alice).await.unwrap();

    // Discovery lists the custom scope and its claim, pairwise subjects and the claims parameter.
    let d: Value = env.discovery().await;
    assert!(d["scopes_supported"].as_array().unwrap().contains(&json!("work")));
    assert!(d["claims_supported"].as_array().unwrap().contains(&json!("department")));
    assert_eq!(d["subject_types_supported"], json!(["public", "pairwise"]));
    assert_eq!(d["claims_parameter_supported"], true);

    // The consent page names the custom scope.
    let http = browser();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20work",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    let r = harness::submit_login(&http, &page, "alice", "wonderland-42").await;
    let page = http.get(location(&r)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Work information") && page.contains("Your department"), "{page}");

    // UserInfo releases the custom claim; the claims parameter adds individual claims
    // to UserInfo (email) and to the id_token (department, acr).
    let claims = enc(r#"{"userinfo":{"email":null},"id_token":{"department":null,"acr":{"essential":true}}}"#);
    let t = tokens(
        &env,
        &browser(),
        &client_id,
        &secret,
        &format!("&scope=openid%20work&claims={claims}"),
        ("alice", "wonderland-42"),
    )
    .await;
    let id = payload(t["id_token"].as_str().unwrap());
    assert_eq!(id["department"], "Research");
    assert_eq!(id["acr"], "1");
    assert!(id.get("email").is_none(), "email was asked for UserInfo only");
    let info = userinfo(&env, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["department"], "Research");
    assert_eq!(info["email"], "alice@example.com");
    assert!(info.get("given_name").is_none(), "profile was not granted");
    // The request survives a refresh.
    let refreshed: Value = browser()
        .post(env.endpoint("token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo(&env, refreshed["access_token"].as_str().unwrap()).await["email"], "alice@example.com");
    assert_eq!(payload(refreshed["id_token"].as_str().unwrap())["department"], "Research");

    // A malformed claims parameter goes back as invalid_request.
    let url = format!("{url}&state=x&claims={}", enc("{oops"));
    let loc = location(&http.get(&url).send().await.unwrap());
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
}

#[tokio::test]
async fn pairwise_subjects_differ_per_sector_and_agree_between_id_token_and_userinfo_oidc_core_8_1() {
    let env = Env::start().await;
    let (public_id, public_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let pairwise = |sector: &'static str| {
        move |s: &mut oidc_core::manage::ClientSpec| {
            s.subject_type = SubjectType::Pairwise;
            s.sector_identifier_uri = Some(format!("https://{sector}/sector.json"));
        }
    };
    let (a_id, a_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, pairwise("a.example")).await;
    let (a2_id, a2_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, pairwise("a.example")).await;
    let (b_id, b_secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, pairwise("b.example")).await;
    let sub = env.user("alice", "wonderland-42").await;
    let http = browser();
    let mut subs = Vec::new();
    for (id, secret) in [(&public_id, &public_secret), (&a_id, &a_secret), (&a2_id, &a2_secret), (&b_id, &b_secret)] {
        let t = tokens(&env, &http, id, secret.as_deref().unwrap(), "&scope=openid", ("alice", "wonderland-42")).await;
        let id_sub = payload(t["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_owned();
        assert_eq!(
            userinfo(&env, t["access_token"].as_str().unwrap()).await["sub"],
            id_sub.as_str(),
            "the same sub everywhere"
        );
        subs.push(id_sub);
    }
    assert_eq!(subs[0], sub, "public clients see the user's id");
    assert_ne!(subs[1], sub, "pairwise clients never see it");
    assert_eq!(subs[1], subs[2], "one sector, one subject");
    assert_ne!(subs[1], subs[3], "another sector, another subject");
    // id_token_hint with the pairwise subject names the logged-in user (OIDC Core §3.1.2.2).
    let t = tokens(&env, &http, &a_id, a_secret.as_deref().unwrap(), "&scope=openid", ("alice", "wonderland-42")).await;
    let url = format!(
        "{}?client_id={a_id}&redirect_uri={}&response_type=code&scope=openid&prompt=none&state=h&id_token_hint={}",
        env.endpoint("auth"),
        enc(CALLBACK),
        t["id_token"].as_str().unwrap()
    );
    let loc = location(&http.get(&url).send().await.unwrap());
    assert!(query_param(&loc, "code").is_some(), "{loc}");
}

struct Badge;
impl UserInfoHook for Badge {
    fn userinfo(&self, claims: &mut Map<String, Value>, user: &User, _client: &Client, _scope: &Scope) {
        claims.insert("badge".into(), json!(format!("B-{}", user.username)));
        claims.insert("sub".into(), json!("forged"));
    }
}

struct Terms;
impl AfterLoginHook for Terms {
    fn after_login(&self, user: &User, _client: Option<&Client>, _now: UnixTime) -> AfterLogin {
        if user.username == "newbie" {
            AfterLogin::Redirect("https://terms.example/accept".into())
        } else {
            AfterLogin::Continue
        }
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<String>>);
impl ConsentListener for Events {
    fn consent_given(&self, e: &ConsentEvent) {
        self.0.lock().unwrap().push(format!("given {} {}", e.client_id, e.scope));
    }
    fn consent_declined(&self, e: &ConsentEvent) {
        self.0.lock().unwrap().push(format!("declined {}", e.client_id));
    }
}

#[tokio::test]
async fn hooks_userinfo_id_token_after_login_and_consent_listeners() {
    let events = Arc::new(Events::default());
    let mut tenant = Map::new();
    tenant.insert("tenant".into(), json!("acme"));
    let hooks = Hooks {
        userinfo: vec![Arc::new(Badge)],
        id_token: vec![Arc::new(StaticClaims { client_id: None, claims: tenant })],
        after_login: Some(Arc::new(Terms)),
        consent: vec![events.clone()],
        ..Hooks::default()
    };
    let env = Env::start_with_options(ScopeRegistry::default(), hooks).await;
    let (client_id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let sub = env.user("alice", "wonderland-42").await;
    env.user("newbie", "newbie-pw-1").await;
    let t =
        tokens(&env, &browser(), &client_id, secret.as_deref().unwrap(), "&scope=openid", ("alice", "wonderland-42"))
            .await;
    assert_eq!(payload(t["id_token"].as_str().unwrap())["tenant"], "acme");
    let info = userinfo(&env, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["badge"], "B-alice");
    assert_eq!(info["sub"], sub.as_str(), "a hook cannot change sub");
    assert_eq!(*events.0.lock().unwrap(), [format!("given {client_id} openid")]);

    // After login, the hook sends "newbie" elsewhere with the way back; coming back resumes the request.
    let http = browser();
    let url = format!(
        "{}?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    let r = harness::submit_login(&http, &page, "newbie", "newbie-pw-1").await;
    let loc = location(&r);
    assert!(loc.starts_with("https://terms.example/accept?return_to="), "{loc}");
    let back = query_param(&loc, "return_to").unwrap();
    // The way back resumes the sealed request (the parameters never travel in the clear).
    assert!(back.starts_with(&format!("{}/login-actions/authenticate?authz=", env.issuer())), "{back}");
    let r = http.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200, "signed in: the consent page");
    let page = r.text().await.unwrap();
    let r = harness::submit_consent(&http, &page, false).await;
    assert!(location(&r).contains("error=access_denied"));
    assert_eq!(events.0.lock().unwrap().last().unwrap(), &format!("declined {client_id}"));
}
