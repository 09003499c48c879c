//! Request objects by value (OIDC Core §6.1), unsigned or signed, merged into a request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(jwt) = oidc_fuzz::text(data) else { return };
    let client = oidc_fuzz::client();
    let pairs = [
        ("client_id", client.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", "https://rp.example/cb"),
        ("scope", "openid"),
        ("request", jwt),
    ];
    if let Ok(received) = oidc_core::authorize::parse(pairs) {
        let registry = oidc_core::scope::ScopeRegistry::default();
        let _ = received.with_client(Some(&client), oidc_fuzz::ISSUER, &registry, oidc_core::time::UnixTime(1_000));
    }
    // Also as the unsigned payload of an alg=none object.
    let unsigned = format!(
        "{}.{}.",
        oidc_core::jose::b64(br#"{"alg":"none"}"#),
        oidc_core::jose::b64(jwt.as_bytes())
    );
    let pairs = [("client_id", client.client_id.as_str()), ("response_type", "code"), ("request", unsigned.as_str())];
    if let Ok(received) = oidc_core::authorize::parse(pairs) {
        let registry = oidc_core::scope::ScopeRegistry::default();
        let _ = received.with_client(Some(&client), oidc_fuzz::ISSUER, &registry, oidc_core::time::UnixTime(1_000));
    }
});
