//! Sealed values coming back from browsers (the pending authorization request).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(s) = oidc_fuzz::text(data) else { return };
    let key = oidc_core::sealed::SealKey::derive(b"fuzz realm secret", "pending-authorization-request");
    // Nothing the fuzzer makes up opens.
    assert!(key.open(s, "cookie", oidc_core::time::UnixTime(1)).is_none());
});
