//! Client registration bodies: RFC 7591 §2 / OIDC Registration §2 metadata and
//! Keycloak's ClientRepresentation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = oidc_core::registration::parse_metadata(&body, &[oidc_core::model::JwtAlg::Rs256]);
    oidc_http::fuzzing::keycloak_client(&body);
});
