//! The token flow, one transition at a time (RFC 6749 §2.3, §4.1.3, §4.3, §4.4, §6; RFC 7523 §3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::*;
use crate::authorize::tests::{client, user};
use crate::jose::tests::record;
use crate::model::{ClientType, CodeRecord, GrantType, KeyState};
use crate::rand::TestRandom;

struct Fixture {
    keys: KeySet,
    registry: ScopeRegistry,
    hooks: Hooks,
    settings: Settings,
    rng: TestRandom,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            keys: KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap(),
            registry: ScopeRegistry::default(),
            hooks: Hooks::default(),
            settings: Settings { password_grant_enabled: true, ..Settings::default() },
            rng: TestRandom::default(),
        }
    }

    fn flow(&self, form: &[(&str, &str)], basic: bool) -> TokenFlow<'_> {
        let ctx = FlowContext {
            realm: "r",
            issuer: "https://op/realms/r",
            realm_secret: b"salt",
            keys: &self.keys,
            registry: &self.registry,
            hooks: &self.hooks,
            settings: &self.settings,
            now: UnixTime(1000),
        };
        let auth = format!("Basic {}", STANDARD.encode("rp:s3cret"));
        let form = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        TokenFlow::new(form, basic.then_some(auth.as_str()), ctx, &self.rng)
    }
}

fn rp() -> Client {
    let mut c = client(ClientType::Confidential);
    c.grant_types.extend([GrantType::Password, GrantType::ClientCredentials]);
    c
}

fn code() -> CodeRecord {
    crate::token::tests::code_record(false)
}

/// Authenticates `rp` by HTTP Basic: the first transition of every flow.
fn authenticated(flow: &mut TokenFlow<'_>) {
    match flow.step() {
        Step::Need(Need::Auth(AuthNeed::Client { client_id })) => assert_eq!(client_id, "rp"),
        other => panic!("expected the client lookup, got {other:?}"),
    }
    flow.answer(Answer::Auth(AuthAnswer::Client(Some(rp()))));
}

/// Stores what is asked and returns the response; `code`: the code the
/// tokens must redeem (spent with them), if any.
fn stored(flow: &mut TokenFlow<'_>, with_refresh: bool, code: Option<&str>) -> TokenResponse {
    match flow.step() {
        Step::Need(Need::Store { access, refresh, code: spent }) => {
            assert_eq!(access.client_id, "rp");
            assert_eq!(refresh.is_some(), with_refresh);
            assert_eq!(spent, code.map(Digest::of), "the code is spent with the tokens, and only then");
        }
        other => panic!("expected the tokens to store, got {other:?}"),
    }
    flow.answer(Answer::Done);
    match flow.step() {
        Step::Done(r) => r,
        other => panic!("expected the response, got {other:?}"),
    }
}

/// The code's login session `sid`, used recently: no touch is due, so after
/// the code the next need is the store.
fn recent_session() -> crate::model::LoginSession {
    let mut session = crate::authorize::tests::session(100);
    session.id = "sid".into();
    session.last_used = UnixTime(999);
    session
}

fn error(step: Step) -> (String, Option<i64>) {
    match step {
        Step::Failed(e, retry) => (e.code.to_string(), retry),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn an_unknown_client_fails_before_the_grant_is_parsed_rfc6749_5_2() {
    let f = Fixture::new();
    let mut flow = f.flow(&[("grant_type", "client_credentials"), ("scope", "bad\"scope")], true);
    assert!(matches!(flow.step(), Step::Need(Need::Auth(AuthNeed::Client { .. }))));
    flow.answer(Answer::Auth(AuthAnswer::Client(None)));
    assert_eq!(error(flow.step()).0, "invalid_client", "not invalid_scope: the scope was never parsed");
    // Once the client is known, the bad scope is found.
    let mut flow = f.flow(&[("grant_type", "client_credentials"), ("scope", "bad\"scope")], true);
    authenticated(&mut flow);
    assert_eq!(error(flow.step()).0, "invalid_scope");
}

#[test]
fn code_grant_redeems_for_the_client_then_reads_the_user_and_stores_rfc6749_4_1_3() {
    let f = Fixture::new();
    let form = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://rp.example/cb")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    match flow.step() {
        Step::Need(Need::Code { digest, client_id, now }) => {
            assert_eq!((digest, client_id.as_str()), (Digest::of("c"), "rp"), "read for its client");
            assert_eq!(now, UnixTime(1000));
        }
        other => panic!("expected the code's read, got {other:?}"),
    }
    flow.answer(Answer::Redeemed(Redeemed::First(code())));
    // The code came from a login session: tokens only while it lasts, and this use is recorded.
    assert!(matches!(flow.step(), Step::Need(Need::Session { session_id, .. }) if session_id == "sid"));
    let mut session = crate::authorize::tests::session(100);
    session.id = "sid".into();
    flow.answer(Answer::Session(Some(session)));
    match flow.step() {
        Step::Need(Need::TouchSession { session_id, now, expires_at }) => {
            assert_eq!((session_id.as_str(), now), ("sid", UnixTime(1000)));
            assert!(expires_at > now);
        }
        other => panic!("expected the session's use to be recorded, got {other:?}"),
    }
    flow.answer(Answer::Done);
    assert!(matches!(flow.step(), Step::Need(Need::User { user_id }) if user_id == "u1"));
    flow.answer(Answer::User(Some(user())));
    let r = stored(&mut flow, true, Some("c"));
    assert!(r.id_token.is_some() && r.refresh_token.is_some());
    assert_eq!(r.session_state.as_deref(), Some("sid"));
    assert!(matches!(flow.step(), Step::Failed(..)), "a finished flow asks for nothing more");
}

#[test]
fn a_code_redeemed_with_its_session_and_user_goes_straight_to_the_tokens_rfc6749_4_1_3() {
    let f = Fixture::new();
    let form = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://rp.example/cb")];
    let session = recent_session();
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    let found = CodeContext { session: Some(session.clone()), user: Some(user()) };
    flow.answer(Answer::RedeemedWith(Redeemed::First(code()), found));
    let r = stored(&mut flow, true, Some("c"));
    assert!(r.id_token.is_some());
    assert_eq!(r.session_state.as_deref(), Some("sid"));

    // A touch due is still recorded, and the user found with the code is used after it.
    let mut stale = session.clone();
    stale.last_used = UnixTime(100);
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::RedeemedWith(
        Redeemed::First(code()),
        CodeContext { session: Some(stale), user: Some(user()) },
    ));
    assert!(matches!(flow.step(), Step::Need(Need::TouchSession { .. })));
    flow.answer(Answer::Done);
    stored(&mut flow, true, Some("c"));

    // The session ended (OIDC Core §11) or the user is gone: refused without another read.
    for found in [CodeContext { session: None, user: Some(user()) }, CodeContext { session: Some(session), user: None }]
    {
        let mut flow = f.flow(&form, true);
        authenticated(&mut flow);
        flow.step();
        flow.answer(Answer::RedeemedWith(Redeemed::First(code()), found));
        assert_eq!(error(flow.step()).0, "invalid_grant");
    }

    // A replay found with the same call still revokes its grant (RFC 6749 §4.1.2).
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::RedeemedWith(Redeemed::Replayed(code()), CodeContext::default()));
    assert!(matches!(flow.step(), Step::Need(Need::RevokeGrant { .. })));
}

#[test]
fn a_replayed_code_asks_to_revoke_its_grant_then_fails_rfc6749_4_1_2() {
    let f = Fixture::new();
    let form = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://rp.example/cb")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Redeemed(Redeemed::Replayed(code())));
    assert!(matches!(flow.step(), Step::Need(Need::RevokeGrant { grant_id }) if grant_id == "g1"));
    flow.answer(Answer::Done);
    assert_eq!(error(flow.step()).0, "invalid_grant");
    // Another client's code: refused, nothing revoked.
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Redeemed(Redeemed::OtherClient));
    assert_eq!(error(flow.step()).0, "invalid_grant");
}

/// The code is read, the tokens are made, and the code is spent with them:
/// when another request spent it in between, this one is its replay, and the
/// grant's tokens are revoked (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
#[test]
fn a_code_spent_between_its_read_and_the_tokens_revokes_the_grant_rfc6749_4_1_2() {
    let f = Fixture::new();
    let form = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://rp.example/cb")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    let found = CodeContext { session: Some(recent_session()), user: Some(user()) };
    flow.answer(Answer::RedeemedWith(Redeemed::First(code()), found));
    assert!(matches!(flow.step(), Step::Need(Need::Store { code: Some(_), .. })));
    flow.answer(Answer::CodeTaken);
    assert!(matches!(flow.step(), Step::Need(Need::RevokeGrant { grant_id }) if grant_id == "g1"));
    flow.answer(Answer::Done);
    assert_eq!(error(flow.step()).0, "invalid_grant");

    // `CodeTaken` is no answer to a grant that redeems no code.
    let mut flow = f.flow(&[("grant_type", "client_credentials")], true);
    authenticated(&mut flow);
    assert!(matches!(flow.step(), Step::Need(Need::Store { code: None, .. })));
    flow.answer(Answer::CodeTaken);
    assert_eq!(error(flow.step()).0, "server_error");
}

/// An unused code presented by its client with a wrong `redirect_uri` or
/// `code_verifier`, or after it expired, is refused and spent all the same,
/// so that a code is presented once (RFC 6749 §4.1.2, §4.1.3, RFC 7636
/// §4.6); another client's code, a replay or an unknown code are refused
/// without a spend.
#[test]
fn a_refused_presentation_of_an_unused_code_spends_it_rfc6749_4_1_3() {
    let f = Fixture::new();
    let refused = |form: &[(&str, &str)], redeemed: Redeemed| {
        let mut flow = f.flow(form, true);
        authenticated(&mut flow);
        flow.step();
        flow.answer(Answer::Redeemed(redeemed));
        match flow.step() {
            Step::Need(Need::SpendCode { digest, client_id }) => {
                assert_eq!((digest, client_id.as_str()), (Digest::of("c"), "rp"));
                flow.answer(Answer::Done);
                (true, error(flow.step()).0)
            }
            other => (false, error(other).0),
        }
    };
    let cb = ("redirect_uri", "https://rp.example/cb");
    let base = [("grant_type", "authorization_code"), ("code", "c")];
    let wrong_uri = [base[0], base[1], ("redirect_uri", "https://rp.example/other")];
    assert_eq!(refused(&wrong_uri, Redeemed::First(code())), (true, "invalid_grant".into()));
    let mut pkce = code();
    pkce.code_challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into());
    pkce.code_challenge_method = Some(crate::pkce::PkceMethod::S256);
    let wrong_verifier = [base[0], base[1], cb, ("code_verifier", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")];
    assert_eq!(refused(&wrong_verifier, Redeemed::First(pkce)), (true, "invalid_grant".into()));
    let mut expired = code();
    expired.expires_at = UnixTime(1000);
    assert_eq!(refused(&[base[0], base[1], cb], Redeemed::First(expired)), (true, "invalid_grant".into()));
    // Not spent: another client's code, a replay (its grant is revoked instead), an unknown code.
    assert_eq!(refused(&[base[0], base[1], cb], Redeemed::OtherClient), (false, "invalid_grant".into()));
    assert_eq!(refused(&[base[0], base[1], cb], Redeemed::Unknown), (false, "invalid_grant".into()));
    let mut flow = f.flow(&[base[0], base[1], cb], true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Redeemed(Redeemed::Replayed(code())));
    assert!(matches!(flow.step(), Step::Need(Need::RevokeGrant { .. })));
}

#[test]
fn a_grant_whose_login_session_ended_is_refused_unless_offline_oidc_core_11() {
    let f = Fixture::new();
    let form = [("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "https://rp.example/cb")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Redeemed(Redeemed::First(code())));
    assert!(matches!(flow.step(), Step::Need(Need::Session { .. })));
    flow.answer(Answer::Session(None));
    assert_eq!(error(flow.step()).0, "invalid_grant");
    // An offline grant needs no session.
    let mut offline = code();
    offline.scope = Scope::parse("openid offline_access").unwrap();
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Redeemed(Redeemed::First(offline)));
    assert!(matches!(flow.step(), Step::Need(Need::User { .. })));
}

#[test]
fn a_refresh_that_narrows_reads_the_token_before_spending_it_rfc6749_6() {
    let f = Fixture::new();
    let mut flow =
        f.flow(&[("grant_type", "refresh_token"), ("refresh_token", "rt"), ("scope", "openid profile")], true);
    authenticated(&mut flow);
    assert!(matches!(flow.step(), Step::Need(Need::RefreshRecord { digest }) if digest == Digest::of("rt")));
    flow.answer(Answer::RefreshRecord(Some(crate::token::tests::refresh_record())));
    assert_eq!(error(flow.step()).0, "invalid_scope", "refused before any rotation was asked for");
}

#[test]
fn a_refresh_rotates_with_the_reuse_interval_then_issues_rfc6749_6() {
    let mut f = Fixture::new();
    f.settings.refresh_reuse_interval = 30;
    let mut flow = f.flow(&[("grant_type", "refresh_token"), ("refresh_token", "rt")], true);
    authenticated(&mut flow);
    match flow.step() {
        Step::Need(Need::RotateRefresh { client_id, now, reuse_interval, .. }) => {
            assert_eq!((client_id.as_str(), now, reuse_interval), ("rp", UnixTime(1000), 30));
        }
        other => panic!("expected the rotation, got {other:?}"),
    }
    flow.answer(Answer::Rotated(Rotated::First(crate::token::tests::refresh_record())));
    assert!(matches!(flow.step(), Step::Need(Need::User { .. })));
    flow.answer(Answer::User(Some(user())));
    assert_eq!(stored(&mut flow, true, None).scope.to_string(), "openid email");
    // A user who is gone: invalid_grant.
    let mut flow = f.flow(&[("grant_type", "refresh_token"), ("refresh_token", "rt")], true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Rotated(Rotated::Reused(crate::token::tests::refresh_record())));
    flow.step();
    flow.answer(Answer::User(None));
    assert_eq!(error(flow.step()).0, "invalid_grant");
}

#[test]
fn the_password_grant_asks_for_a_password_check_rfc6749_4_3_2() {
    let f = Fixture::new();
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "pw")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    match flow.step() {
        Step::Need(Need::CheckPassword { username, password }) => {
            assert_eq!((username.as_str(), password.secret()), ("alice", "pw"));
        }
        other => panic!("expected the password check, got {other:?}"),
    }
    flow.answer(Answer::Password(PasswordOutcome::Locked(30)));
    assert_eq!(error(flow.step()), ("invalid_grant".into(), Some(30)), "RFC 6749 §10.7 with Retry-After");
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Password(PasswordOutcome::Verified(user())));
    let r = stored(&mut flow, true, None);
    assert_eq!(r.scope.to_string(), "openid", "the default scope of the password grant");
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Password(PasswordOutcome::Wrong));
    assert_eq!(error(flow.step()).0, "invalid_grant");
}

#[test]
fn client_credentials_need_no_user_and_get_no_refresh_token_rfc6749_4_4_3() {
    let f = Fixture::new();
    let mut flow = f.flow(&[("grant_type", "client_credentials"), ("resource", "https://api.example/")], true);
    authenticated(&mut flow);
    let r = stored(&mut flow, false, None);
    assert!(r.id_token.is_none() && r.refresh_token.is_none());
}

#[test]
fn an_assertion_asks_for_the_clients_keys_then_records_its_jti_rfc7523_3() {
    let f = Fixture::new();
    let claims = json!({"iss": "rp", "sub": "rp", "aud": "https://op/realms/r/protocol/openid-connect/token",
                        "jti": "j1", "exp": 1100});
    let assertion = crate::jose::sign_hs256(claims.as_object().unwrap(), b"s3cret");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", crate::token::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    for first_use in [false, true] {
        let mut flow = f.flow(&form, false);
        assert!(matches!(flow.step(), Step::Need(Need::Auth(AuthNeed::Client { client_id })) if client_id == "rp"));
        flow.answer(Answer::Auth(AuthAnswer::Client(Some(rp()))));
        assert!(matches!(flow.step(), Step::Need(Need::Auth(AuthNeed::ClientKeys { refresh: false }))));
        flow.answer(Answer::Auth(AuthAnswer::ClientKeys(rp(), false)));
        match flow.step() {
            Step::Need(Need::Auth(AuthNeed::AssertionJti { jti, expires_at, .. })) => {
                assert_eq!((jti.as_str(), expires_at), ("j1", UnixTime(1100)));
            }
            other => panic!("expected the jti, got {other:?}"),
        }
        flow.answer(Answer::Auth(AuthAnswer::FirstUse(first_use)));
        if first_use {
            stored(&mut flow, false, None);
        } else {
            assert_eq!(error(flow.step()).0, "invalid_client", "a replayed assertion");
        }
    }
}

#[test]
fn an_answer_that_was_not_asked_for_fails_safely() {
    let f = Fixture::new();
    let mut flow = f.flow(&[("grant_type", "client_credentials")], true);
    flow.step();
    flow.answer(Answer::User(Some(user())));
    assert_eq!(error(flow.step()).0, "server_error");
    let mut flow = f.flow(&[("grant_type", "client_credentials")], false);
    assert_eq!(error(flow.step()).0, "invalid_client", "no credentials at all");
}

/// Keycloak's `roles` client scope ("Client scopes"): the flow asks for the
/// holder's roles only when the scope grants `roles`: the user's for a user
/// grant, the service account's for `client_credentials`.
#[test]
fn roles_are_asked_for_only_under_the_roles_scope_keycloak_client_scopes() {
    let f = Fixture::new();
    let mut flow = f.flow(&[("grant_type", "password"), ("username", "alice"), ("password", "pw")], true);
    authenticated(&mut flow);
    assert!(matches!(flow.step(), Step::Need(Need::CheckPassword { .. })));
    flow.answer(Answer::Password(PasswordOutcome::Verified(user())));
    stored(&mut flow, true, None);
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "pw"), ("scope", "openid roles")];
    let mut flow = f.flow(&form, true);
    authenticated(&mut flow);
    flow.step();
    flow.answer(Answer::Password(PasswordOutcome::Verified(user())));
    assert!(matches!(flow.step(), Step::Need(Need::Roles { holder: RoleHolder::User(id) }) if id == "u1"));
    flow.answer(Answer::Roles(vec!["reader".into()]));
    let r = stored(&mut flow, true, None);
    let id_token = crate::jose::verify(r.id_token.as_deref().unwrap(), &["RS256"], f.keys.verify_keys()).unwrap();
    assert_eq!(id_token.claims["realm_access"], json!({"roles": ["reader"]}));
    // client_credentials: the client's service account.
    let mut flow = f.flow(&[("grant_type", "client_credentials"), ("scope", "roles")], true);
    authenticated(&mut flow);
    assert!(matches!(flow.step(), Step::Need(Need::Roles { holder: RoleHolder::Client(id) }) if id == "rp"));
    flow.answer(Answer::Roles(vec![]));
    assert_eq!(stored(&mut flow, false, None).scope.to_string(), "roles");
    // An answer that was not asked for derails nothing silently.
    let mut flow = f.flow(&[("grant_type", "client_credentials")], true);
    authenticated(&mut flow);
    assert!(matches!(flow.step(), Step::Need(Need::Store { .. })));
    flow.answer(Answer::Roles(vec![]));
    assert_eq!(error(flow.step()).0, "server_error");
}
