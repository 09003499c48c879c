//! Compact JWS (RFC 7515 §7.1): splitting, base64url, header and signature checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    let keys = [oidc_core::jose::VerifyKey::Hmac(b"fuzz-secret".to_vec())];
    // Nothing but a token HMAC'd with the key verifies; a fuzzer cannot forge one.
    assert!(oidc_core::jose::verify(s, &oidc_core::jose::ALL_ALGS, &keys).is_err() || s.split('.').count() == 3);
    let _ = oidc_core::jose::b64_decode(s);
});
