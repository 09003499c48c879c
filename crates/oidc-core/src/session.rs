//! OpenID Connect Session Management 1.0: the OP browser state and the
//! `session_state` of authorization responses (§3), and the origins they are
//! computed for.
//!
//! The browser state is a value the OP keeps in a cookie that the
//! check_session_iframe's script can read; it changes whenever the user logs
//! in or out at the OP. `session_state` is
//! `hex(SHA-256(client_id " " origin " " browser_state " " salt)) "." salt`,
//! which the iframe recomputes from the cookie to answer `changed` or `unchanged` (§4.2).

use ring::digest::{SHA256, digest};

use crate::jose::b64;

/// The origin (`scheme://host[:port]`, RFC 6454 §4) of an absolute http(s)
/// URL as browsers serialize `event.origin` and the `Origin` header (the URL
/// parsed strictly by [`crate::uri::parse`], default ports left out); `None`
/// for anything else.
pub fn origin(url: &str) -> Option<String> {
    let u = crate::uri::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin())
}

/// The browser state of a browser logged in with session `session_id`: the
/// session's public id (the `sid` of its id_tokens, the `session_state` of
/// Keycloak's token responses). It changes at every login and logout as §3
/// asks, and it lets the iframe answer Keycloak's adapters too, which post
/// `client_id sid` rather than the salted hash (keycloak-js compares the `sid`
/// of its token with Keycloak's session cookie the same way). The `sid` is no
/// credential; the session cookie itself stays HttpOnly and is stored digested.
pub fn browser_state(_realm_secret: &[u8], session_id: &str) -> String {
    session_id.to_owned()
}

/// The browser state of a browser with no session: derived from the fixed
/// key (the seed's OIDC_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY), so that
/// every server instance configured with the same key agrees.
pub fn unauthenticated_browser_state(key: &[u8]) -> String {
    let mut input = b"unauthenticated-browser-state:".to_vec();
    input.extend_from_slice(key);
    b64(digest(&SHA256, &input).as_ref())
}

/// `session_state` (Session Management 1.0 §3): the hex SHA-256 of
/// `client_id origin browser_state salt` joined by spaces, then `.` and the salt.
pub fn session_state(client_id: &str, origin: &str, browser_state: &str, salt: &str) -> String {
    let d = digest(&SHA256, format!("{client_id} {origin} {browser_state} {salt}").as_bytes());
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{salt}")
}

#[cfg(test)]
mod tests;
