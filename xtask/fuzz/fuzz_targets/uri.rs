//! URIs: strict parsing, redirect URI rules, sectors; an accepted URI reads the same to browsers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    if oidc_core::manage::check_redirect_uri(s).is_ok() {
        let parsed = url::Url::parse(s).expect("an accepted redirect URI parses");
        assert!(parsed.username().is_empty() && parsed.password().is_none(), "userinfo in {s}");
        assert!(!s.contains('\\') && !s.contains('#'), "{s}");
    }
    if let Ok(u) = oidc_core::uri::parse(s) {
        let _ = (u.host(), u.is_loopback(true), u.origin());
    }
    let _ = oidc_core::subject::sector_identifier(&[s.to_owned()], None);
    let _ = oidc_core::uri::check_web_uri("logo_uri", s);
});
