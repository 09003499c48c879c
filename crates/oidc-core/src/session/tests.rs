//! Tests of Session Management 1.0: origins, browser state and session_state.

use super::*;

#[test]
fn origins_are_serialized_as_browsers_do_rfc6454_6_2() {
    assert_eq!(origin("https://RP.example/cb?x=1").as_deref(), Some("https://rp.example"));
    assert_eq!(origin("https://rp.example:443/cb").as_deref(), Some("https://rp.example"), "default port dropped");
    assert_eq!(origin("http://127.0.0.1:8080/cb").as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(origin("http://[::1]:3000").as_deref(), Some("http://[::1]:3000"));
    assert_eq!(origin("http://localhost:80/").as_deref(), Some("http://localhost"));
    for bad in ["com.example.app:/cb", "https://", "https://u@evil.example/", "https://a:b:c/", "ftp://x/", "x"] {
        assert_eq!(origin(bad), None, "{bad}");
    }
}

#[test]
fn session_state_is_the_hash_of_client_origin_browser_state_and_salt_session_management_3() {
    // Independently computed: sha256("rp https://rp.example bs salt").
    let ss = session_state("rp", "https://rp.example", "bs", "salt");
    let (hash, salt) = ss.split_once('.').unwrap();
    assert_eq!(salt, "salt");
    assert_eq!(hash.len(), 64);
    let expected = ring::digest::digest(&SHA256, b"rp https://rp.example bs salt");
    let hex: String = expected.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hash, hex);
    assert_ne!(ss, session_state("rp", "https://other.example", "bs", "salt"), "the origin matters");
    assert_ne!(ss, session_state("rp", "https://rp.example", "bs2", "salt"), "the browser state matters");
}

#[test]
fn browser_state_differs_per_session_and_from_the_unauthenticated_state() {
    let key = b"realm-secret";
    let a = browser_state(key, "sid-a");
    assert_eq!(a, browser_state(key, "sid-a"), "stable for a session");
    assert_ne!(a, browser_state(key, "sid-b"), "a new login changes it");
    assert_eq!(a, "sid-a", "the session's public id, which Keycloak's adapters post to the iframe");
    let anon = unauthenticated_browser_state(b"fixed key");
    assert_eq!(anon, unauthenticated_browser_state(b"fixed key"), "instances with the same key agree");
    assert_ne!(anon, unauthenticated_browser_state(b"another key"));
    assert_ne!(anon, a, "logging out changes it");
    assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "cookie-safe");
}
