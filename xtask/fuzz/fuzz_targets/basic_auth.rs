//! Client authentication headers and form credentials (RFC 6749 §2.3.1).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    let _ = oidc_core::token::parse(oidc_core::params::Params::default(), Some(s));
    let _ = oidc_core::params::form_urldecode(s);
    let _ = oidc_core::userinfo::bearer_token(Some(s), None, None);
});
