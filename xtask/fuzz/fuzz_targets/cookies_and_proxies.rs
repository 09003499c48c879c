//! The `Cookie` header (RFC 6265 §5.4) and forwarding headers from trusted proxies (RFC 7239).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    let _ = oidc_http::fuzzing::cookie(s, "OIDC_SESSION");
    // The client address is the peer or an address the header names; never a panic.
    let _ = oidc_http::fuzzing::client_addr_from(s);
});
