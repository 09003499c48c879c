//! Discovery (OpenID Connect Discovery 1.0 §3, §4) and JWKS (RFC 7517 §5).

use crate::harness::{Env, browser};

#[tokio::test]
async fn discovery_lists_what_is_implemented_and_jwks_has_public_keys_only() {
    let env = Env::start().await;
    let http = browser();
    let r = http.get(format!("{}/.well-known/openid-configuration", env.issuer())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let d: serde_json::Value = r.json().await.unwrap();
    // Discovery 1.0 §4.3: the issuer equals the URL it was fetched from, minus the well-known suffix.
    assert_eq!(d["issuer"], env.issuer());
    assert_eq!(d["authorization_endpoint"], env.endpoint("auth"));
    assert_eq!(d["token_endpoint"], env.endpoint("token"));
    assert_eq!(d["userinfo_endpoint"], env.endpoint("userinfo"));
    assert_eq!(d["jwks_uri"], env.endpoint("certs"));
    assert_eq!(
        d["response_types_supported"],
        serde_json::json!(["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"])
    );
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!(["authorization_code", "implicit", "refresh_token", "client_credentials"]),
        "password is listed only when switched on"
    );
    for claim in ["c_hash", "at_hash", "sid", "amr", "acr"] {
        assert!(d["claims_supported"].as_array().unwrap().iter().any(|c| c == claim), "{claim}");
    }
    // RFC 9700 §2.1.1: only S256 is advertised (plain only for clients configured for it).
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(d["request_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], true);
    for claim in ["sub", "email", "address", "phone_number"] {
        assert!(d["claims_supported"].as_array().unwrap().iter().any(|c| c == claim), "{claim}");
    }
    let r = http.get(env.endpoint("certs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let jwks: serde_json::Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(keys[0].get(private).is_none(), "private member {private} published");
    }
    // Unknown realms and paths are 404s.
    let r =
        http.get(format!("{}/realms/nope/.well-known/openid-configuration", env.server.base_url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http.get(format!("{}/health", env.server.base_url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// RFC 8414 §3.1: the authorization server metadata is also at the well-known
/// location inserted before the issuer's path, with the same issuer (§3.3).
#[tokio::test]
async fn authorization_server_metadata_at_the_rfc8414_location() {
    let env = Env::start().await;
    let url = format!("{}/.well-known/oauth-authorization-server/realms/main", env.server.base_url);
    let r = browser().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let d: serde_json::Value = r.json().await.unwrap();
    assert_eq!(d["issuer"], env.issuer());
    assert_eq!(d["token_endpoint"], env.endpoint("token"));
    let r = browser()
        .get(format!("{}/.well-known/oauth-authorization-server/realms/nope", env.server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
