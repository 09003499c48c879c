//! The `claims` request parameter (OIDC Core §5.5).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    if let Ok(c) = oidc_core::claims::ClaimsRequest::parse(s) {
        // What is stored with a code parses back to the same request.
        assert_eq!(oidc_core::claims::ClaimsRequest::parse(&c.to_json()).ok(), Some(c));
    }
});
