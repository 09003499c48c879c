//! Query strings and form bodies: decoding, parameter rules (RFC 6749 §3.1) and
//! the authorization request's parsing and validation against a client.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let _ = oidc_core::params::Params::from_pairs(pairs.clone());
    if let Ok(received) = oidc_core::authorize::parse(pairs) {
        let client = oidc_fuzz::client();
        let registry = oidc_core::scope::ScopeRegistry::default();
        let _ = received.with_client(Some(&client), oidc_fuzz::ISSUER, &registry, oidc_core::time::UnixTime(1_000));
    }
});
