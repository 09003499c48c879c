//! The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414 §2),
//! built from the core's own enums of what it accepts, so that it never
//! advertises a grant, response type, mode, authentication method or
//! algorithm the flows would refuse.

use serde_json::{Map, Value, json};

use crate::authorize::{DISPLAY_VALUES, ResponseMode};
use crate::config::Settings;
use crate::jose::{ALL_ALGS, KeySet};
use crate::model::{GrantType, JwtAlg, ResponseType, TokenAuthMethod};
use crate::pkce::PkceMethod;
use crate::scope::ScopeRegistry;
use crate::subject::SubjectType;

/// The URLs of a realm's endpoints: where they live is the adapter's business.
#[derive(Debug)]
pub struct Endpoints {
    /// The authorization endpoint (OIDC Core §3.1.2).
    pub authorization: String,
    /// The token endpoint (RFC 6749 §3.2).
    pub token: String,
    /// The UserInfo endpoint (OIDC Core §5.3).
    pub userinfo: String,
    /// The JWK Set document (RFC 7517 §5).
    pub jwks: String,
    /// RP-initiated logout.
    pub end_session: String,
    /// Dynamic client registration (RFC 7591).
    pub registration: String,
    /// Token introspection (RFC 7662).
    pub introspection: String,
    /// Token revocation (RFC 7009).
    pub revocation: String,
    /// The OP iframe of Session Management 1.0 §3.3, when session management is on.
    pub check_session_iframe: Option<String>,
}

/// What the discovery document describes.
#[derive(Debug)]
pub struct DiscoveryInput<'a> {
    /// The realm's issuer.
    pub issuer: &'a str,
    /// Where the endpoints are.
    pub endpoints: &'a Endpoints,
    /// The realm's keys: which signing algorithms are available.
    pub keys: &'a KeySet,
    /// The scopes and claims the realm knows.
    pub scopes: &'a ScopeRegistry,
    /// The realm's switches (the password grant).
    pub settings: &'a Settings,
}

fn names<T: Copy>(items: &[T], name: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    items.iter().map(|i| name(*i)).collect()
}

/// The grant types the token endpoint accepts, with `implicit` when a
/// response type issues tokens from the authorization endpoint, and
/// `password` only when the realm switched it on (RFC 9700 §2.4).
pub fn grant_types(settings: &Settings) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = GrantType::ALL
        .into_iter()
        .filter(|g| *g != GrantType::Password || settings.password_grant_enabled)
        .map(GrantType::as_str)
        .collect();
    if ResponseType::ALL.iter().any(|r| r.has_token() || (r.has_id_token() && !r.has_code())) {
        out.insert(1, "implicit");
    }
    out
}

/// The client authentication methods of introspection: every method of the
/// token endpoint but `none` ([`crate::introspect::check_caller`]).
pub fn introspection_auth_methods() -> Vec<&'static str> {
    TokenAuthMethod::ALL.into_iter().filter(|m| *m != TokenAuthMethod::None).map(TokenAuthMethod::as_str).collect()
}

/// The discovery document.
pub fn document(input: &DiscoveryInput<'_>) -> Map<String, Value> {
    let e = input.endpoints;
    let signing: Vec<&str> = input.keys.algs().iter().map(|a| a.as_str()).collect();
    let mut id_token_algs = signing.clone();
    id_token_algs.push(JwtAlg::None.as_str());
    let auth_methods = names(&TokenAuthMethod::ALL, TokenAuthMethod::as_str);
    let mut request_object_algs = vec![JwtAlg::None.as_str()];
    request_object_algs.extend(ALL_ALGS);
    let doc = json!({
        "issuer": input.issuer,
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "jwks_uri": e.jwks,
        "end_session_endpoint": e.end_session,
        "registration_endpoint": e.registration,
        "scopes_supported": input.scopes.scopes_supported(),
        "response_types_supported": names(&ResponseType::ALL, ResponseType::as_str),
        "response_modes_supported": names(&ResponseMode::ALL, ResponseMode::as_str),
        "grant_types_supported": grant_types(input.settings),
        "subject_types_supported": names(&SubjectType::ALL, SubjectType::as_str),
        "id_token_signing_alg_values_supported": id_token_algs,
        "userinfo_signing_alg_values_supported": signing,
        "token_endpoint_auth_methods_supported": auth_methods,
        // The algorithms token::authenticate_assertion verifies.
        "token_endpoint_auth_signing_alg_values_supported": ALL_ALGS,
        // RFC 8414 §2: revocation (RFC 7009) takes the token endpoint's client authentication.
        "revocation_endpoint": e.revocation,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": ALL_ALGS,
        // RFC 8414 §2: introspection (RFC 7662), without public clients; RFC 9701 signed answers.
        "introspection_endpoint": e.introspection,
        "introspection_endpoint_auth_methods_supported": introspection_auth_methods(),
        "introspection_endpoint_auth_signing_alg_values_supported": ALL_ALGS,
        "introspection_signing_alg_values_supported": input.keys.active().map(|k| k.alg().as_str()).into_iter().collect::<Vec<_>>(),
        // plain is accepted only from clients configured for it (RFC 9700 §2.1.1).
        "code_challenge_methods_supported": [PkceMethod::S256.as_str()],
        "claims_supported": input.scopes.claims_supported(),
        "acr_values_supported": ["1"],
        "display_values_supported": DISPLAY_VALUES,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": request_object_algs,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["en"],
        // Front-Channel Logout 1.0 §3 and Back-Channel Logout 1.0 §2.1: iss and sid are always sent.
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    let mut doc = match doc {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(iframe) = &e.check_session_iframe {
        doc.insert("check_session_iframe".into(), json!(iframe));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::tests::record;
    use crate::model::KeyState;
    use crate::time::UnixTime;

    fn doc(settings: &Settings) -> Map<String, Value> {
        let keys = KeySet::from_records(&[record("k1", KeyState::Active, 1)], UnixTime(0)).unwrap();
        let endpoints = Endpoints {
            authorization: "https://op/a".into(),
            token: "https://op/t".into(),
            userinfo: "https://op/u".into(),
            jwks: "https://op/k".into(),
            end_session: "https://op/l".into(),
            registration: "https://op/r".into(),
            introspection: "https://op/i".into(),
            revocation: "https://op/v".into(),
            check_session_iframe: None,
        };
        document(&DiscoveryInput {
            issuer: "https://op",
            endpoints: &endpoints,
            keys: &keys,
            scopes: &ScopeRegistry::default(),
            settings,
        })
    }

    #[test]
    fn advertises_only_what_the_core_accepts_discovery_3() {
        let d = doc(&Settings::default());
        // Every advertised value parses back into the enum the flows use.
        for v in d["response_types_supported"].as_array().unwrap() {
            assert!(v.as_str().unwrap().parse::<ResponseType>().is_ok(), "{v}");
        }
        for v in d["token_endpoint_auth_methods_supported"].as_array().unwrap() {
            assert!(v.as_str().unwrap().parse::<TokenAuthMethod>().is_ok(), "{v}");
        }
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]), "RFC 9700 §2.1.1");
        for v in d["code_challenge_methods_supported"].as_array().unwrap() {
            assert!(v.as_str().unwrap().parse::<PkceMethod>().is_ok(), "{v}");
        }
        for v in d["subject_types_supported"].as_array().unwrap() {
            assert!(v.as_str().unwrap().parse::<SubjectType>().is_ok(), "{v}");
        }
        for v in d["grant_types_supported"].as_array().unwrap() {
            let g = v.as_str().unwrap();
            assert!(g == "implicit" || g.parse::<GrantType>().is_ok(), "{g}");
        }
        assert_eq!(
            d["grant_types_supported"],
            json!(["authorization_code", "implicit", "refresh_token", "client_credentials"])
        );
        assert!(!d["introspection_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
        assert_eq!(d["response_modes_supported"], json!(["query", "fragment", "form_post"]));
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256", "HS256", "none"]));
        assert_eq!(d["introspection_endpoint"], "https://op/i");
    }

    #[test]
    fn the_password_grant_is_advertised_only_when_switched_on_rfc9700_2_4() {
        let on = Settings { password_grant_enabled: true, ..Settings::default() };
        assert!(doc(&on)["grant_types_supported"].as_array().unwrap().contains(&json!("password")));
        assert!(!doc(&Settings::default())["grant_types_supported"].as_array().unwrap().contains(&json!("password")));
    }
}
