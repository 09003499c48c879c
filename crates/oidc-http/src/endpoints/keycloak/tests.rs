//! Tests of Keycloak's client representation: member types, the round trip
//! of a read representation, and the flow switches (Keycloak's DescriptionConverter).

use oidc_core::manage::new_client;
use oidc_core::rand::OsRandom;
use oidc_core::time::UnixTime;
use serde_json::json;

use super::*;

fn registry() -> ScopeRegistry {
    ScopeRegistry::default()
}

fn created(body: Value) -> Client {
    let rep = parse(&body).unwrap();
    let spec = to_spec(&rep, None, &registry()).unwrap();
    new_client("r", spec, UnixTime(1), &OsRandom::new()).unwrap().0
}

#[test]
fn a_member_of_the_wrong_type_is_named_and_unknown_members_are_ignored() {
    let e = parse(&json!({"clientId": "a", "standardFlowEnabled": "yes"})).unwrap_err();
    assert!(e.description().contains("standardFlowEnabled"), "{e}");
    let e = parse(&json!({"redirectUris": "https://a.example/cb"})).unwrap_err();
    assert!(e.description().contains("redirectUris"), "{e}");
    let e =
        to_spec(&parse(&json!({"attributes": {"pkce.code.challenge.method": ["S256"]}})).unwrap(), None, &registry())
            .unwrap_err();
    assert!(e.description().contains("pkce.code.challenge.method"), "{e}");
    assert!(parse(&json!({"clientId": "a", "somethingNew": {"x": 1}})).is_ok());
    assert!(parse(&json!(["not", "an", "object"])).is_err());
}

#[test]
fn a_read_representation_applied_again_changes_nothing() {
    let c = created(json!({"clientId": "app", "redirectUris": ["https://app.example/cb"],
        "implicitFlowEnabled": true, "attributes": {"pkce.code.challenge.method": "S256", "logoUri": "https://app.example/l.png"}}));
    let rep = to_representation(&c, &registry(), Some("rat"));
    let back = to_spec(&parse(&serde_json::to_value(&rep).unwrap()).unwrap(), Some(&c), &registry()).unwrap();
    assert_eq!(format!("{:?}", back.settings), format!("{:?}", c.settings));
}

#[test]
fn flow_switches_derive_response_and_grant_types_as_keycloak_does() {
    let c = created(json!({"clientId": "app", "redirectUris": ["https://app.example/cb"]}));
    assert_eq!(c.response_types, [ResponseType::Code]);
    assert_eq!(c.grant_types, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
    let both = to_spec(&parse(&json!({"implicitFlowEnabled": true})).unwrap(), Some(&c), &registry()).unwrap();
    assert_eq!(both.response_types.len(), 6, "code, implicit and hybrid");
    let service = to_spec(
        &parse(&json!({"standardFlowEnabled": false, "serviceAccountsEnabled": true,
            "attributes": {"use.refresh.tokens": "false"}}))
        .unwrap(),
        Some(&c),
        &registry(),
    )
    .unwrap();
    assert!(service.response_types.is_empty());
    assert_eq!(service.grant_types, [GrantType::ClientCredentials]);
}

#[test]
fn attributes_for_behaviour_the_provider_lacks_are_refused_unless_off() {
    for (k, v) in [
        ("tls.client.certificate.bound.access.tokens", "true"),
        ("id.token.encrypted.response.alg", "RSA-OAEP"),
        ("client_credentials.use_refresh_token", "true"),
    ] {
        let body = json!({"clientId": "a", "attributes": {k: v}});
        assert!(to_spec(&parse(&body).unwrap(), None, &registry()).is_err(), "{k}");
    }
    let off = json!({"clientId": "a", "attributes": {"tls.client.certificate.bound.access.tokens": "false",
        "display.on.consent.screen": "true"}});
    assert!(to_spec(&parse(&off).unwrap(), None, &registry()).is_ok());
}

#[test]
fn access_token_signed_response_alg_asks_for_jwt_access_tokens_rfc9068() {
    let c = created(json!({"clientId": "api-client", "redirectUris": ["https://app.example/cb"],
        "attributes": {"access.token.signed.response.alg": "ES256"}}));
    assert_eq!(c.access_token_format, Some(oidc_core::model::AccessTokenFormat::Jwt));
    assert_eq!(c.access_token_signed_response_alg, Some(JwtAlg::Es256));
    let rep = serde_json::to_value(to_representation(&c, &registry(), None)).unwrap();
    assert_eq!(rep["attributes"]["access.token.signed.response.alg"], "ES256");
    assert_eq!(rep["attributes"]["access_token_format"], "jwt");
    let opaque = created(json!({"clientId": "b", "redirectUris": ["https://app.example/cb"],
        "attributes": {"access.token.signed.response.alg": "RS256", "access_token_format": "opaque"}}));
    assert_eq!(opaque.access_token_format, Some(oidc_core::model::AccessTokenFormat::Opaque));
    let hs = json!({"clientId": "c", "redirectUris": ["https://app.example/cb"],
        "attributes": {"access.token.signed.response.alg": "HS256"}});
    let spec = to_spec(&parse(&hs).unwrap(), None, &registry()).unwrap();
    assert!(new_client("r", spec, UnixTime(1), &OsRandom::new()).is_err(), "resource servers verify with the JWKS");
}

/// Front-Channel Logout 1.0 §2 and Back-Channel Logout 1.0 §2.2 under
/// Keycloak's names: `frontchannelLogout` and the `*.logout.*` attributes.
#[test]
fn logout_urls_are_keycloak_attributes_and_frontchannel_logout_switches_them() {
    let c = created(json!({"clientId": "app", "redirectUris": ["https://app.example/cb"], "attributes": {
        "frontchannel.logout.url": "https://app.example/fc", "frontchannel.logout.session.required": "true",
        "backchannel.logout.url": "https://app.example/bc", "backchannel.logout.session.required": "true"}}));
    assert_eq!(c.logout.frontchannel_uri.as_deref(), Some("https://app.example/fc"));
    assert_eq!(c.logout.backchannel_uri.as_deref(), Some("https://app.example/bc"));
    assert!(c.logout.frontchannel_session_required && c.logout.backchannel_session_required);
    let rep = serde_json::to_value(to_representation(&c, &registry(), None)).unwrap();
    assert_eq!(rep["frontchannelLogout"], true);
    assert_eq!(rep["attributes"]["backchannel.logout.url"], "https://app.example/bc");
    // frontchannelLogout=false turns front-channel logout off.
    let off = to_spec(&parse(&json!({"frontchannelLogout": false})).unwrap(), Some(&c), &registry()).unwrap();
    assert_eq!(off.logout.frontchannel_uri, None);
    assert_eq!(off.logout.backchannel_uri.as_deref(), Some("https://app.example/bc"));
    let bad = json!({"clientId": "a", "attributes": {"backchannel.logout.url": "http://app.example/bc"}});
    assert!(to_spec(&parse(&bad).unwrap(), None, &registry()).is_err(), "https only");
}
