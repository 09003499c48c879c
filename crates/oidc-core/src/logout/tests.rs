//! Tests of RP-Initiated, Front-Channel and Back-Channel Logout 1.0.

use super::*;
use crate::authorize::tests::{client, session};
use crate::model::{ClientType, KeyState};

const ISS: &str = "https://op.example/realms/r";

fn keys() -> KeySet {
    KeySet::from_records(&[crate::jose::tests::record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap()
}

fn rp() -> Client {
    let mut c = client(ClientType::Confidential);
    c.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
    c
}

fn id_token(aud: Value, sid: Option<&str>) -> String {
    let mut claims = Map::new();
    claims.insert("iss".into(), ISS.into());
    claims.insert("sub".into(), "u1".into());
    claims.insert("aud".into(), aud);
    claims.insert("exp".into(), 1.into());
    if let Some(s) = sid {
        claims.insert("sid".into(), s.into());
    }
    keys().active().unwrap().sign(&claims)
}

fn request(pairs: &[(&str, &str)]) -> LogoutRequest {
    parse(&Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))).unwrap())
}

#[test]
fn registered_post_logout_redirect_uri_gets_state_rp_initiated_logout_3() {
    let r = request(&[("client_id", "rp"), ("post_logout_redirect_uri", "https://rp.example/bye"), ("state", "s 1")]);
    let checked = r.check(Some(&rp()), &keys(), ISS).unwrap();
    assert_eq!(checked.redirect.as_deref(), Some("https://rp.example/bye?state=s%201"));
    assert_eq!(checked.client_id.as_deref(), Some("rp"));
}

#[test]
fn unregistered_post_logout_redirect_uri_is_never_used_rp_initiated_logout_3() {
    for pairs in [
        vec![("client_id", "rp"), ("post_logout_redirect_uri", "https://evil.example/bye")],
        vec![("client_id", "rp"), ("post_logout_redirect_uri", "https://rp.example/bye/x")],
        // Without a client, no URI can be checked.
        vec![("post_logout_redirect_uri", "https://rp.example/bye")],
    ] {
        let client = pairs.iter().any(|(k, _)| *k == "client_id").then(rp);
        let checked = request(&pairs).check(client.as_ref(), &keys(), ISS).unwrap();
        assert_eq!(checked.redirect, None, "{pairs:?}");
    }
}

#[test]
fn id_token_hint_names_the_client_and_array_aud_and_expiry_are_accepted_rp_initiated_logout_2() {
    let hint = id_token(json!(["other", "rp"]), Some("sid1"));
    let r = request(&[("id_token_hint", &hint), ("post_logout_redirect_uri", "https://rp.example/bye")]);
    assert_eq!(r.client_to_load().as_deref(), Some("other"), "the first audience is loaded");
    // The adapter loaded "other", which is not the client the hint is for in this test's realm:
    assert!(r.clone().check(None, &keys(), ISS).is_err(), "an unknown client is an error");
    let r = request(&[("id_token_hint", &hint), ("client_id", "rp")]);
    let checked = r.check(Some(&rp()), &keys(), ISS).unwrap();
    let h = checked.hint.unwrap();
    assert_eq!((h.subject.as_str(), h.session_id.as_deref()), ("u1", Some("sid1")), "expired (exp=1) but accepted");
}

#[test]
fn id_token_hint_of_another_client_or_issuer_is_refused_rp_initiated_logout_2() {
    let for_other = id_token(json!("other"), None);
    let e = request(&[("id_token_hint", &for_other), ("client_id", "rp")]).check(Some(&rp()), &keys(), ISS);
    assert!(e.unwrap_err().description.contains("another client"));
    let e = request(&[("id_token_hint", "not.a.jwt"), ("client_id", "rp")]).check(Some(&rp()), &keys(), ISS);
    assert!(e.is_err());
    let hint = id_token(json!("rp"), None);
    let e = request(&[("id_token_hint", &hint), ("client_id", "rp")]).check(Some(&rp()), &keys(), "https://x.example");
    assert!(e.unwrap_err().description.contains("another provider"));
}

#[test]
fn logout_is_confirmed_unless_attributed_to_a_client_of_the_session_rp_initiated_logout_2() {
    let s = session(100);
    let with_hint = |sid: Option<&str>| {
        let hint = id_token(json!("rp"), sid);
        request(&[("id_token_hint", &hint)]).check(Some(&rp()), &keys(), ISS).unwrap()
    };
    let clients = vec!["rp".to_owned()];
    assert_eq!(with_hint(Some("sid1")).decide(Some(&s), &clients, true), LogoutDecision::Logout);
    assert_eq!(with_hint(None).decide(Some(&s), &clients, true), LogoutDecision::Logout, "no sid: by sub and client");
    assert_eq!(with_hint(Some("old-sid")).decide(Some(&s), &clients, true), LogoutDecision::Confirm, "older session");
    assert_eq!(with_hint(Some("sid1")).decide(Some(&s), &clients, false), LogoutDecision::Confirm, "another user");
    assert_eq!(with_hint(Some("sid1")).decide(Some(&s), &[], true), LogoutDecision::Confirm, "not a client of it");
    let bare = request(&[("client_id", "rp")]).check(Some(&rp()), &keys(), ISS).unwrap();
    assert_eq!(bare.decide(Some(&s), &clients, true), LogoutDecision::Confirm, "client_id alone proves nothing");
    let nothing = request(&[]).check(None, &keys(), ISS).unwrap();
    assert_eq!(nothing.decide(Some(&s), &clients, false), LogoutDecision::Confirm, "a bare GET never logs out");
    assert_eq!(nothing.decide(None, &[], false), LogoutDecision::NoSession);
}

#[test]
fn frontchannel_url_carries_iss_and_sid_frontchannel_logout_3() {
    let mut c = rp();
    assert_eq!(frontchannel_url(&c, ISS, "sid1"), None);
    c.logout.frontchannel_uri = Some("https://rp.example/fc?x=1".into());
    assert_eq!(
        frontchannel_url(&c, ISS, "sid1").as_deref(),
        Some("https://rp.example/fc?x=1&iss=https%3A%2F%2Fop.example%2Frealms%2Fr&sid=sid1")
    );
}

#[test]
fn logout_tokens_have_events_sid_sub_typ_and_no_nonce_backchannel_logout_2_4() {
    let claims = logout_token_claims(ISS, "rp", "u1", Some("sid1"), "j1", UnixTime(1000));
    assert_eq!(claims["events"], json!({ BACKCHANNEL_EVENT: {} }));
    assert_eq!((claims["sub"].as_str(), claims["sid"].as_str()), (Some("u1"), Some("sid1")));
    assert_eq!((claims["iat"].as_i64(), claims["exp"].as_i64()), (Some(1000), Some(1000 + LOGOUT_TOKEN_LIFETIME)));
    assert!(claims.get("nonce").is_none());
    let mut c = rp();
    for alg in [JwtAlg::Rs256, JwtAlg::None, JwtAlg::Hs256] {
        c.jwt_alg = alg;
        let jwt = logout_token(&claims, &c, &keys()).unwrap();
        let mut vkeys = keys().verify_keys().to_vec();
        vkeys.push(crate::jose::VerifyKey::Hmac(b"s3cret".to_vec()));
        let v = crate::jose::verify(&jwt, &crate::jose::ALL_ALGS, &vkeys).unwrap();
        assert_eq!(v.header["typ"], LOGOUT_TOKEN_TYP, "{alg:?}");
        assert_ne!(v.header["alg"], "none", "never unsigned");
        assert_eq!(v.claims["aud"], "rp");
    }
}
