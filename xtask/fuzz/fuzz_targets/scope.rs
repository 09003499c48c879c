//! `scope` (RFC 6749 §3.3) and the other space-separated parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    if let Ok(scope) = oidc_core::scope::Scope::parse(s) {
        // A parsed scope prints back to something that parses to the same scope.
        assert_eq!(oidc_core::scope::Scope::parse(&scope.to_string()), Ok(scope));
    }
    let _ = oidc_core::params::words("prompt", s);
    let _ = s.parse::<oidc_core::model::ResponseType>();
});
