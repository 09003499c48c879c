//! Introspection answers (RFC 7662 §2.2, §4; RFC 9701 §5).

use std::sync::Arc;

use super::*;
use crate::authorize::tests::{client, user};
use crate::hooks::IntrospectionHook;
use crate::scope::Scope;
use crate::secret::Digest;

fn access(expires_at: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        digest: Digest::of("at"),
        realm: "r".into(),
        client_id: "rp".into(),
        user_id: Some("u1".into()),
        scope: Scope::parse("openid email").unwrap(),
        expires_at: UnixTime(expires_at),
        grant_id: "g1".into(),
        claims: None,
        issued_at: UnixTime(900),
        session_id: Some("sid1".into()),
        audience: Vec::new(),
        jti: "j1".into(),
    }
}

fn refresh() -> RefreshTokenRecord {
    crate::token::tests::refresh_record()
}

fn run(found: &Found, caller: &Client, token_client: Option<&Client>, policy: &IntrospectionPolicy) -> Value {
    run_with(found, caller, token_client, policy, &Hooks::default())
}

fn run_with(
    found: &Found,
    caller: &Client,
    token_client: Option<&Client>,
    policy: &IntrospectionPolicy,
    hooks: &Hooks,
) -> Value {
    Value::Object(introspect(&IntrospectionInput {
        issuer: "https://op/realms/r",
        caller,
        found,
        token_client,
        subject: Some("pairwise-sub"),
        policy,
        hooks,
        roles: &[],
        now: UnixTime(1000),
    }))
}

fn rs() -> Client {
    let mut c = client(ClientType::Confidential);
    c.client_id = "api".into();
    c
}

#[test]
fn active_access_token_has_every_member_rfc7662_2_2() {
    let rp = client(ClientType::Confidential);
    let got = run(&Found::Access(access(2000), Some(user())), &rs(), Some(&rp), &IntrospectionPolicy::default());
    assert_eq!(
        got,
        json!({"active": true, "scope": "openid email", "client_id": "rp", "username": "alice",
               "token_type": "Bearer", "exp": 2000, "iat": 900, "nbf": 900, "sub": "pairwise-sub",
               "aud": "rp", "iss": "https://op/realms/r", "jti": "j1", "sid": "sid1"})
    );
    let found = Found::Refresh { record: refresh(), spent: false, user: Some(user()) };
    let got = run(&found, &rs(), Some(&rp), &IntrospectionPolicy::default());
    assert_eq!(got["token_type"], "refresh_token");
    assert_eq!(got["jti"], "r1");
    assert!(got.get("sid").is_none(), "sid only when there is one");
}

#[test]
fn inactive_is_exactly_active_false_rfc7662_2_2() {
    let rp = client(ClientType::Confidential);
    let p = IntrospectionPolicy::default();
    let mut inactive_user = user();
    inactive_user.active = false;
    let mut disabled = rp.clone();
    disabled.enabled = false;
    let cases: Vec<(&str, Found, Option<&Client>)> = vec![
        ("unknown", Found::Nothing, None),
        ("expired", Found::Access(access(1000), Some(user())), Some(&rp)),
        ("user gone", Found::Access(access(2000), None), Some(&rp)),
        ("user inactive", Found::Access(access(2000), Some(inactive_user)), Some(&rp)),
        ("client gone", Found::Access(access(2000), Some(user())), None),
        ("client disabled", Found::Access(access(2000), Some(user())), Some(&disabled)),
        ("spent refresh", Found::Refresh { record: refresh(), spent: true, user: Some(user()) }, Some(&rp)),
    ];
    for (why, found, tc) in cases {
        assert_eq!(run(&found, &rs(), tc, &p), json!({"active": false}), "{why}");
    }
}

#[test]
fn client_credentials_token_has_client_as_sub_rfc9068_2_2() {
    let rp = client(ClientType::Confidential);
    let mut at = access(2000);
    at.user_id = None;
    at.session_id = None;
    let got = run(&Found::Access(at, None), &rs(), Some(&rp), &IntrospectionPolicy::default());
    assert_eq!(got["active"], true);
    assert_eq!(got["sub"], "rp");
    assert!(got.get("username").is_none());
}

#[test]
fn require_audience_and_include_scope_settings() {
    let rp = client(ClientType::Confidential);
    let strict = IntrospectionPolicy { require_audience: true, include_scope: false };
    // Not in the audience: inactive for this caller.
    assert_eq!(run(&Found::Access(access(2000), Some(user())), &rs(), Some(&rp), &strict), json!({"active": false}));
    // The token's own client is its default audience.
    let own = run(&Found::Access(access(2000), Some(user())), &rp, Some(&rp), &strict);
    assert_eq!(own["active"], true);
    assert!(own.get("scope").is_none(), "include_scope = false");
    // RFC 8707 resource indicators name the resource server.
    let mut at = access(2000);
    at.audience = vec!["api".into(), "other".into()];
    let got = run(&Found::Access(at, Some(user())), &rs(), Some(&rp), &strict);
    assert_eq!(got["aud"], json!(["api", "other"]));
}

#[test]
fn public_clients_may_not_introspect_rfc7662_2_1() {
    assert_eq!(check_caller(&client(ClientType::Public)).unwrap_err().code, crate::ErrorCode::InvalidClient);
    assert!(check_caller(&client(ClientType::Confidential)).is_ok());
}

#[test]
fn query_needs_token_and_hint_is_only_a_hint_rfc7662_2_1() {
    let p = |pairs: &[(&str, &str)]| Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))).unwrap();
    assert_eq!(parse_query(&p(&[])).unwrap_err().code, crate::ErrorCode::InvalidRequest);
    assert!(parse_query(&p(&[("token", "t"), ("token_type_hint", "refresh_token")])).unwrap().refresh_first());
    let q = parse_query(&p(&[("token", "t"), ("token_type_hint", "device_code")])).unwrap();
    assert_eq!(q.hint, None, "unknown hints are ignored");
}

struct Extra;
impl IntrospectionHook for Extra {
    fn process(&self, r: &mut Map<String, Value>, caller: &Client, _tc: &Client, _u: Option<&User>, _s: &Scope) {
        r.insert("asked_by".into(), json!(caller.client_id));
        r.insert("active".into(), json!(false));
        r.remove("sub");
    }
}

#[test]
fn introspection_hook_adds_members_but_keeps_rfc7662_ones() {
    let rp = client(ClientType::Confidential);
    let hooks = Hooks { introspection: vec![Arc::new(Extra)], ..Hooks::default() };
    let got =
        run_with(&Found::Access(access(2000), Some(user())), &rs(), Some(&rp), &IntrospectionPolicy::default(), &hooks);
    assert_eq!(
        (got["asked_by"].as_str(), got["active"].as_bool(), got["sub"].as_str()),
        (Some("api"), Some(true), Some("pairwise-sub"))
    );
}

#[test]
fn signed_response_claims_and_accept_rfc9701_4_5() {
    let c = jwt_response_claims(inactive(), "https://op/realms/r", &rs(), UnixTime(7));
    assert_eq!(
        Value::Object(c),
        json!({"iss": "https://op/realms/r", "aud": "api", "iat": 7, "token_introspection": {"active": false}})
    );
    assert!(wants_jwt(Some("application/token-introspection+jwt")));
    assert!(wants_jwt(Some("application/json;q=0.5, application/token-introspection+jwt")));
    assert!(!wants_jwt(Some("application/json")));
    assert!(!wants_jwt(None));
}

/// Keycloak's realm roles mapper answers introspection too ("Client scopes",
/// "Role scope mappings"): `realm_access` under the `roles` scope, within the role scope.
#[test]
fn active_tokens_under_the_roles_scope_carry_realm_access_keycloak_client_scopes() {
    let mut rp = client(ClientType::Confidential);
    rp.full_scope_allowed = false;
    rp.role_scope = vec!["reader".into()];
    let roles = vec!["reader".to_owned(), "writer".to_owned()];
    let answer = |found: &Found| {
        Value::Object(introspect(&IntrospectionInput {
            issuer: "https://op/realms/r",
            caller: &rs(),
            found,
            token_client: Some(&rp),
            subject: Some("pairwise-sub"),
            policy: &IntrospectionPolicy::default(),
            hooks: &Hooks::default(),
            roles: &roles,
            now: UnixTime(1000),
        }))
    };
    let mut with_roles = access(2000);
    with_roles.scope = Scope::parse("openid roles").unwrap();
    let found = Found::Access(with_roles.clone(), Some(user()));
    assert_eq!(found.role_holder().map(|(h, _)| h), Some(crate::repo::RoleHolder::User("u1".into())));
    assert_eq!(answer(&found)["realm_access"], json!({"roles": ["reader"]}));
    assert!(answer(&Found::Access(access(2000), Some(user()))).get("realm_access").is_none(), "no roles scope");
    // A service account's token: the client holds the roles.
    with_roles.user_id = None;
    let found = Found::Access(with_roles, None);
    assert_eq!(found.role_holder().map(|(h, _)| h), Some(crate::repo::RoleHolder::Client("rp".into())));
    assert_eq!(answer(&found)["realm_access"], json!({"roles": ["reader"]}));
    // Nothing active, nothing said.
    let mut expired = access(500);
    expired.scope = Scope::parse("openid roles").unwrap();
    assert_eq!(answer(&Found::Access(expired, Some(user()))), json!({"active": false}));
}
