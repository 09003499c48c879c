//! Realm roles in tokens, end to end: Keycloak's `realm_access.roles` claim in
//! id_tokens and UserInfo under the `roles` scope, limited by a client's role
//! scope. Keycloak Server Administration Guide: "Assigning permissions using
//! roles and groups" (realm roles), "Role scope mappings" (`fullScopeAllowed`
//! off: only the mapped roles), "Client scopes" (the `roles` client scope).

use oidc_core::ids::RealmName;
use oidc_core::model::{ClientType, JwtAlg, ResponseType};
use oidc_core::repo::RoleHolder;
use oidc_core::roles::RoleDef;
use serde_json::{Value, json};

use crate::harness::{CALLBACK, Env, REALM, authorize, browser, enc, query_param};

const PASSWORD: &str = "wonderland-42";

/// Alice holds `reader` and `writer`; `auditor` is defined but not hers.
async fn env_with_roles() -> Env {
    let env = Env::start().await;
    for name in ["reader", "writer", "auditor"] {
        let def = RoleDef { name: name.into(), description: format!("The {name}s") };
        env.store.define_role(RealmName::new(REALM), &def).await.unwrap();
    }
    let alice = RoleHolder::User(env.user("alice", PASSWORD).await);
    env.store.grant_role(RealmName::new(REALM), &alice, "reader").await.unwrap();
    env.store.grant_role(RealmName::new(REALM), &alice, "writer").await.unwrap();
    env
}

/// The id_token's claims, after checking its signature with the realm's JWKS.
async fn verified(env: &Env, jwt: &str) -> Value {
    let jwks: Value = browser().get(env.endpoint("certs")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().filter_map(|k| oidc_core::jose::VerifyKey::from_jwk(k).ok()).collect();
    let v = oidc_core::jose::verify(jwt, &["RS256"], &keys).expect("signed by the realm");
    Value::Object(v.claims)
}

/// The code flow with `scope` (the user's consent given when asked); returns the token response.
async fn code_flow(env: &Env, http: &reqwest::Client, client: (&str, &str), scope: &str) -> Value {
    let url = format!(
        "{}?client_id={}&redirect_uri={}&response_type=code&state=s&nonce=n&scope={}",
        env.endpoint("auth"),
        client.0,
        enc(CALLBACK),
        enc(scope)
    );
    let back = authorize(http, &url, "alice", PASSWORD).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let r = http
        .post(env.endpoint("token"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn userinfo(env: &Env, at: &Value) -> Value {
    let r = browser().get(env.endpoint("userinfo")).bearer_auth(at.as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// "Client scopes": the `roles` scope puts the holder's realm roles in the
/// id_token and UserInfo as `realm_access.roles`; without it, neither has them.
#[tokio::test]
async fn realm_roles_in_id_token_and_userinfo_only_under_the_roles_scope() {
    let env = env_with_roles().await;
    let (id, secret) = env.client(ClientType::Confidential, JwtAlg::Rs256, |_| {}).await;
    let client = (id.as_str(), secret.as_deref().unwrap());
    // Discovery lists the scope and the claim.
    let d = env.discovery().await;
    assert!(d["scopes_supported"].as_array().unwrap().contains(&json!("roles")), "{d}");
    assert!(d["claims_supported"].as_array().unwrap().contains(&json!("realm_access")), "{d}");

    // The consent page names the roles scope (Keycloak's consent text "User roles").
    let http = browser();
    let url = format!(
        "{}?client_id={id}&redirect_uri={}&response_type=code&state=s&scope=openid%20roles",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let login = http.get(&url).send().await.unwrap().text().await.unwrap();
    let r = crate::harness::submit_login(&http, &login, "alice", PASSWORD).await;
    let consent = http.get(crate::harness::location(&r)).send().await.unwrap().text().await.unwrap();
    assert!(consent.contains("User roles"), "{consent}");

    let tokens = code_flow(&env, &http, client, "openid roles").await;
    let id_token = verified(&env, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["realm_access"], json!({"roles": ["reader", "writer"]}), "{id_token}");
    assert_eq!(userinfo(&env, &tokens["access_token"]).await["realm_access"], json!({"roles": ["reader", "writer"]}));
    // A refresh keeps the scope, and the roles as they are now.
    env.store
        .revoke_role(RealmName::new(REALM), &RoleHolder::User(id_token["sub"].as_str().unwrap().into()), "writer")
        .await
        .unwrap();
    let r = http
        .post(env.endpoint("token"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let refreshed: Value = r.json().await.unwrap();
    let id_token = verified(&env, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["realm_access"], json!({"roles": ["reader"]}), "a revoked role is gone at the next token");

    // Without the roles scope: no realm_access anywhere.
    let tokens = code_flow(&env, &http, client, "openid").await;
    let id_token = verified(&env, tokens["id_token"].as_str().unwrap()).await;
    assert!(id_token.get("realm_access").is_none(), "{id_token}");
    assert!(userinfo(&env, &tokens["access_token"]).await.get("realm_access").is_none());
}

/// "Role scope mappings": a client with `fullScopeAllowed` off carries only
/// the roles of its role scope, in the code flow and in an implicit id_token;
/// with no mapped role the holder has, no `realm_access` at all.
#[tokio::test]
async fn client_without_full_scope_gets_only_its_role_scope() {
    let env = env_with_roles().await;
    let (limited, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.full_scope_allowed = false;
            s.role_scope = vec!["reader".into(), "auditor".into()];
            s.response_types = vec![ResponseType::Code, ResponseType::IdToken];
            s.require_consent = false;
        })
        .await;
    let http = browser();
    let tokens = code_flow(&env, &http, (&limited, secret.as_deref().unwrap()), "openid roles").await;
    let id_token = verified(&env, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["realm_access"], json!({"roles": ["reader"]}), "writer is not mapped, auditor not held");
    assert_eq!(userinfo(&env, &tokens["access_token"]).await["realm_access"], json!({"roles": ["reader"]}));

    // The authorization endpoint's id_token (implicit, OIDC Core §3.2) is limited alike.
    let url = format!(
        "{}?client_id={limited}&redirect_uri={}&response_type=id_token&state=s&nonce=n&scope=openid%20roles",
        env.endpoint("auth"),
        enc(CALLBACK)
    );
    let back = authorize(&http, &url, "alice", PASSWORD).await;
    let fragment = back.split_once('#').map(|(_, f)| f).unwrap_or_else(|| panic!("{back}"));
    let jwt = query_param(&format!("x:?{fragment}"), "id_token").unwrap();
    assert_eq!(verified(&env, &jwt).await["realm_access"], json!({"roles": ["reader"]}));

    // A client mapped to no role Alice holds: the claim is left out, as Keycloak does.
    let (unmapped, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.full_scope_allowed = false;
            s.role_scope = vec!["auditor".into()];
            s.require_consent = false;
        })
        .await;
    let tokens = code_flow(&env, &http, (&unmapped, secret.as_deref().unwrap()), "openid roles").await;
    let id_token = verified(&env, tokens["id_token"].as_str().unwrap()).await;
    assert!(id_token.get("realm_access").is_none(), "{id_token}");
    assert!(userinfo(&env, &tokens["access_token"]).await.get("realm_access").is_none());
}

/// JWT access tokens (RFC 9068) carry `realm_access.roles` under the `roles`
/// scope as Keycloak's access tokens do ("Client scopes"), within the role
/// scope ("Role scope mappings"): a user's through the code flow, a service
/// account's through `client_credentials` (Keycloak's service account roles);
/// introspection answers with them too.
#[tokio::test]
async fn jwt_access_tokens_carry_realm_access_for_users_and_service_accounts() {
    let env = env_with_roles().await;
    let (limited, secret) = env
        .client(ClientType::Confidential, JwtAlg::Rs256, |s| {
            s.full_scope_allowed = false;
            s.role_scope = vec!["writer".into()];
            s.require_consent = false;
            s.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
        })
        .await;
    let http = browser();
    let tokens = code_flow(&env, &http, (&limited, secret.as_deref().unwrap()), "openid roles").await;
    let tokens_of_user = tokens["access_token"].as_str().unwrap().to_owned();
    let at = verified(&env, &tokens_of_user).await;
    assert_eq!(at["realm_access"], json!({"roles": ["writer"]}), "{at}");
    let tokens = code_flow(&env, &http, (&limited, secret.as_deref().unwrap()), "openid").await;
    assert!(verified(&env, tokens["access_token"].as_str().unwrap()).await.get("realm_access").is_none());

    let (svc, svc_secret) = crate::tokens::service_client(&env, Some(oidc_core::model::AccessTokenFormat::Jwt)).await;
    env.store.grant_role(RealmName::new(REALM), &RoleHolder::Client(svc.clone()), "auditor").await.unwrap();
    let service_token = |scope: &'static str| {
        let (http, env, svc, svc_secret) = (browser(), &env, svc.clone(), svc_secret.clone());
        async move {
            let r = http
                .post(env.endpoint("token"))
                .basic_auth(&svc, Some(&svc_secret))
                .form(&[("grant_type", "client_credentials"), ("scope", scope)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            verified(env, body["access_token"].as_str().unwrap()).await
        }
    };
    assert_eq!(service_token("roles").await["realm_access"], json!({"roles": ["auditor"]}));
    // Introspection answers with the roles too, as Keycloak's realm roles mapper does (RFC 7662 §2.2).
    let (api, api_secret) = crate::tokens::resource_server(&env).await;
    let (status, answer) = crate::tokens::introspect(&env, tokens_of_user.as_str(), (&api, &api_secret)).await;
    assert_eq!((status, &answer["realm_access"]), (200, &json!({"roles": ["writer"]})), "{answer}");
    assert!(service_token("").await.get("realm_access").is_none(), "without the roles scope");
}
