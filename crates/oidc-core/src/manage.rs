//! Management rules: creating clients and users with generated identifiers
//! and secrets, and validating what an operator entered.

use crate::model::{Client, ClientType, GrantType, JwtAlg, ResponseType, StandardClaims, User};
use crate::rand::{Random, identifier, token};
use crate::secret::ClientSecret;
use crate::subject::{SubjectType, sector_identifier};
use crate::time::UnixTime;

/// What an operator asks for when creating or updating a client.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// The client_id; generated when `None`.
    pub client_id: Option<String>,
    /// The secret of a confidential client; generated when `None`.
    pub client_secret: Option<ClientSecret>,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Allowed response types.
    pub response_types: Vec<ResponseType>,
    /// Allowed grant types at the token endpoint.
    pub grant_types: Vec<GrantType>,
    /// id_token algorithm.
    pub jwt_alg: JwtAlg,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Ask for consent.
    pub require_consent: bool,
    /// Remember consent.
    pub reuse_consent: bool,
    /// Website.
    pub website_url: Option<String>,
    /// Terms.
    pub terms_url: Option<String>,
    /// Contact.
    pub contact_email: Option<String>,
    /// Logo URL.
    pub logo: Option<String>,
    /// Allowed scopes (empty: all).
    pub allowed_scopes: Vec<String>,
    /// Enabled.
    pub enabled: bool,
    /// Public or pairwise subject identifiers.
    pub subject_type: SubjectType,
    /// The sector identifier URI of a pairwise client.
    pub sector_identifier_uri: Option<String>,
    /// The client's public keys (a JWKS document).
    pub jwks: Option<String>,
    /// The max_age of requests that send none.
    pub default_max_age: Option<i64>,
    /// Sign UserInfo responses with this algorithm.
    pub userinfo_signed_response_alg: Option<JwtAlg>,
    /// Where the client publishes its keys.
    pub jwks_uri: Option<String>,
    /// The one token endpoint authentication method it may use.
    pub token_endpoint_auth_method: Option<crate::model::TokenAuthMethod>,
    /// Its access token format (`None`: the realm's default).
    pub access_token_format: Option<crate::model::AccessTokenFormat>,
    /// The algorithm of its JWT access tokens (`None`: RS256).
    pub access_token_signed_response_alg: Option<JwtAlg>,
}

impl ClientSpec {
    /// A spec with the defaults of a new registration: code flow, RS256,
    /// consent required and reused, enabled, every scope allowed, generated
    /// client_id and secret.
    pub fn new(name: impl Into<String>, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSpec {
        ClientSpec {
            client_id: None,
            client_secret: None,
            name: name.into(),
            client_type,
            response_types: vec![ResponseType::Code],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            jwt_alg: JwtAlg::Rs256,
            redirect_uris,
            post_logout_redirect_uris: vec![],
            require_consent: true,
            reuse_consent: true,
            website_url: None,
            terms_url: None,
            contact_email: None,
            logo: None,
            allowed_scopes: vec![],
            enabled: true,
            subject_type: SubjectType::Public,
            sector_identifier_uri: None,
            jwks: None,
            default_max_age: None,
            userinfo_signed_response_alg: None,
            jwks_uri: None,
            token_endpoint_auth_method: None,
            access_token_format: None,
            access_token_signed_response_alg: None,
        }
    }
}

/// Checks a redirect URI: absolute, without a fragment (RFC 6749 §3.1.2),
/// https, or http only on a loopback host, or a private-use scheme for
/// native apps (RFC 8252 §7.1, §7.3, §8.4).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(format!("redirect URI '{uri}' is not absolute"));
    };
    if uri.contains('#') {
        return Err(format!("redirect URI '{uri}' must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("redirect URI '{uri}' contains spaces or control characters"));
    }
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return Err(format!("redirect URI '{uri}' has an invalid scheme"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "http" => {
            let Some(authority) = rest.strip_prefix("//") else {
                return Err(format!("redirect URI '{uri}' has no host"));
            };
            let host_port = authority.split(['/', '?']).next().unwrap_or("");
            let host = if host_port.starts_with('[') {
                host_port.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
            } else {
                host_port.rsplit_once(':').map_or(host_port, |(h, _)| h).to_owned()
            };
            if host.is_empty() || host_port.contains('@') {
                return Err(format!("redirect URI '{uri}' has no valid host"));
            }
            if scheme.eq_ignore_ascii_case("http") && !matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost") {
                return Err(format!(
                    "redirect URI '{uri}' uses http on a host that is not loopback; use https (RFC 9700 §2.6)"
                ));
            }
            Ok(())
        }
        "javascript" | "data" | "file" | "vbscript" => Err(format!("redirect URI scheme '{scheme}' is not allowed")),
        _ => Ok(()),
    }
}

/// Builds a new client from `spec`, generating what was not given: a
/// client_id of 128 bits and, for a confidential client, a secret of 256 bits,
/// both URL-safe. Returns the client and the secret to show once.
pub fn new_client(
    realm: &str,
    spec: ClientSpec,
    now: UnixTime,
    rng: &dyn Random,
) -> Result<(Client, Option<ClientSecret>), String> {
    let client_id = spec.client_id.clone().unwrap_or_else(|| identifier(rng, 16));
    let secret = match spec.client_type {
        ClientType::Confidential => {
            Some(spec.client_secret.clone().unwrap_or_else(|| ClientSecret::new(token(rng, 32))))
        }
        ClientType::Public => None,
    };
    let client = Client {
        realm: realm.to_owned(),
        client_id,
        name: spec.name,
        client_type: spec.client_type,
        client_secret: secret.clone(),
        response_types: spec.response_types,
        grant_types: spec.grant_types,
        jwt_alg: spec.jwt_alg,
        date_created: now,
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        require_consent: spec.require_consent,
        reuse_consent: spec.reuse_consent,
        website_url: spec.website_url,
        terms_url: spec.terms_url,
        contact_email: spec.contact_email,
        logo: spec.logo,
        allowed_scopes: spec.allowed_scopes,
        enabled: spec.enabled,
        subject_type: spec.subject_type,
        sector_identifier_uri: spec.sector_identifier_uri,
        jwks: spec.jwks,
        default_max_age: spec.default_max_age,
        userinfo_signed_response_alg: spec.userinfo_signed_response_alg,
        jwks_uri: spec.jwks_uri,
        token_endpoint_auth_method: spec.token_endpoint_auth_method,
        access_token_format: spec.access_token_format,
        access_token_signed_response_alg: spec.access_token_signed_response_alg,
    };
    check_client(&client)?;
    Ok((client, secret))
}

/// Checks a client's consistency.
pub fn check_client(c: &Client) -> Result<(), String> {
    if c.client_id.is_empty() || c.client_id.len() > 255 || c.client_id.chars().any(|ch| ch.is_control() || ch == ' ') {
        return Err("client_id must be 1 to 255 printable characters without spaces".into());
    }
    if c.name.trim().is_empty() {
        return Err("the client needs a name".into());
    }
    if c.response_types.iter().any(|rt| rt.has_code()) && !c.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err("a response type with code needs the authorization_code grant type (OIDC Registration §2)".into());
    }
    if c.response_types.is_empty() && c.grant_types.is_empty() {
        return Err("the client needs at least one response type or grant type".into());
    }
    if !c.response_types.is_empty() && c.redirect_uris.is_empty() {
        return Err("the client needs at least one redirect URI".into());
    }
    if let Some(jwks) = &c.jwks {
        check_jwks(jwks)?;
    }
    // RFC 7591 §2: jwks and jwks_uri must not both be used.
    if c.jwks.is_some() && c.jwks_uri.is_some() {
        return Err("a client has either jwks or jwks_uri, not both (RFC 7591 Section 2)".into());
    }
    // https, or http on a loopback address for development (RFC 8252-style).
    if c.jwks_uri.as_ref().is_some_and(|u| {
        !(u.starts_with("https://") || u.starts_with("http://127.0.0.1:") || u.starts_with("http://[::1]:"))
    }) {
        return Err("jwks_uri must be an https URL".into());
    }
    // OIDC Core §3.1.3.7 / Discovery §3: unsigned id_tokens only from the token endpoint.
    if c.jwt_alg == JwtAlg::None && c.response_types.iter().any(|r| r.has_id_token()) {
        return Err("id_tokens signed with 'none' are only for the code flow (no id_token response type)".into());
    }
    if c.default_max_age.is_some_and(|m| m < 0) {
        return Err("default_max_age must not be negative".into());
    }
    // RFC 9068 §2.1: asymmetric signatures, so that resource servers verify with the realm's JWKS.
    if c.access_token_signed_response_alg.is_some_and(|a| !a.uses_realm_key()) {
        return Err("access tokens are signed with a realm key: RS256, PS256, ES256 or EdDSA".into());
    }
    if c.userinfo_signed_response_alg == Some(JwtAlg::None) {
        return Err("userinfo_signed_response_alg cannot be none".into());
    }
    if c.userinfo_signed_response_alg == Some(JwtAlg::Hs256) && c.client_secret.is_none() {
        return Err("HS256 userinfo needs a client secret".into());
    }
    if c.subject_type == SubjectType::Pairwise {
        sector_identifier(&c.redirect_uris, c.sector_identifier_uri.as_deref())?;
    } else if c.sector_identifier_uri.is_some() {
        return Err("a sector_identifier_uri is only for pairwise subjects".into());
    }
    if c.grant_types.contains(&GrantType::ClientCredentials) && c.client_type != ClientType::Confidential {
        return Err("only confidential clients may use client_credentials (RFC 6749 §4.4)".into());
    }
    for u in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
        check_redirect_uri(u)?;
    }
    if c.client_type == ClientType::Public && c.jwt_alg == JwtAlg::Hs256 {
        return Err("a public client has no secret to key HS256; use RS256".into());
    }
    if c.client_type == ClientType::Confidential && c.client_secret.as_ref().is_none_or(|s| s.secret().len() < 16) {
        return Err("a confidential client needs a secret of at least 16 characters".into());
    }
    if c.client_type == ClientType::Public && c.client_secret.is_some() {
        return Err("a public client has no secret".into());
    }
    Ok(())
}

/// Checks a client's JWKS: a JSON object with a non-empty `keys` array of
/// public signature keys this provider can use (RFC 7517 §5).
pub fn check_jwks(jwks: &str) -> Result<(), String> {
    let doc: serde_json::Value = serde_json::from_str(jwks).map_err(|e| format!("jwks is not JSON: {e}"))?;
    let keys = doc.get("keys").and_then(serde_json::Value::as_array).ok_or("jwks must have a keys array")?;
    if keys.is_empty() || keys.len() > 20 {
        return Err("jwks must have 1 to 20 keys".into());
    }
    for k in keys {
        crate::jose::VerifyKey::from_jwk(k).map_err(|e| format!("jwks: {e}"))?;
    }
    Ok(())
}

/// Builds a new active user with a random, stable subject identifier.
pub fn new_user(
    realm: &str,
    username: &str,
    claims: StandardClaims,
    now: UnixTime,
    rng: &dyn Random,
) -> Result<User, String> {
    let username = username.trim();
    if username.is_empty() || username.len() > 255 || username.chars().any(char::is_control) {
        return Err("the username must be 1 to 255 printable characters".into());
    }
    Ok(User {
        id: identifier(rng, 16),
        realm: realm.to_owned(),
        username: username.to_owned(),
        password_hash: None,
        active: true,
        claims,
        created_at: now,
        updated_at: now,
        attributes: std::collections::BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::TestRandom;

    fn spec(kind: ClientType) -> ClientSpec {
        ClientSpec::new("App", kind, vec!["https://app.example/cb".into()])
    }

    #[test]
    fn generates_id_and_secret_and_public_has_none() {
        let rng = TestRandom::default();
        let (c, s) = new_client("r", spec(ClientType::Confidential), UnixTime(5), &rng).unwrap();
        assert_eq!(c.client_id.len(), 22);
        assert_eq!(s.unwrap().secret().len(), 43);
        let (p, s) = new_client("r", spec(ClientType::Public), UnixTime(5), &rng).unwrap();
        assert!(s.is_none() && p.client_secret.is_none());
        let mut hs = spec(ClientType::Public);
        hs.jwt_alg = JwtAlg::Hs256;
        assert!(new_client("r", hs, UnixTime(5), &rng).is_err());
    }

    #[test]
    fn redirect_uri_rules_rfc6749_3_1_2_rfc8252_7() {
        for ok in [
            "https://a.example/cb",
            "http://127.0.0.1:4000/cb",
            "http://[::1]/cb",
            "http://localhost:1/x",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "https://a.example/cb#frag",
            "http://a.example/cb",
            "javascript:alert(1)",
            "https://",
            "https://u@evil/cb",
            "https://a b/",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
