//! Management rules: creating clients and users with generated identifiers
//! and secrets, and validating what an operator entered.

use crate::model::{Client, ClientSettings, ClientType, GrantType, JwtAlg, StandardClaims, User};
use crate::rand::{Random, identifier, token};
use crate::secret::ClientSecret;
use crate::subject::{SubjectType, sector_identifier};
use crate::time::UnixTime;

/// What an operator or a registrant asks for when creating or updating a
/// client: the settings, and the identity when it is chosen rather than generated.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    /// The client_id; generated when `None`.
    pub client_id: Option<String>,
    /// The secret of a confidential client; generated when `None`.
    pub client_secret: Option<ClientSecret>,
    /// Everything else (reached directly through `Deref`).
    pub settings: ClientSettings,
}

impl ClientSpec {
    /// A spec with the defaults of [`ClientSettings::new`] and a generated
    /// client_id and secret.
    pub fn new(name: impl Into<String>, client_type: ClientType, redirect_uris: Vec<String>) -> ClientSpec {
        ClientSpec {
            client_id: None,
            client_secret: None,
            settings: ClientSettings::new(name, client_type, redirect_uris),
        }
    }

    /// The spec that recreates `client` as it is (the start of an update).
    pub fn of(client: &Client) -> ClientSpec {
        ClientSpec {
            client_id: Some(client.client_id.clone()),
            client_secret: client.client_secret.clone(),
            settings: client.settings.clone(),
        }
    }
}

impl std::ops::Deref for ClientSpec {
    type Target = ClientSettings;
    fn deref(&self) -> &ClientSettings {
        &self.settings
    }
}

impl std::ops::DerefMut for ClientSpec {
    fn deref_mut(&mut self) -> &mut ClientSettings {
        &mut self.settings
    }
}

/// Checks a redirect URI: absolute, without a fragment (RFC 6749 §3.1.2),
/// https, or http only on a loopback host, or a private-use scheme for
/// native apps (RFC 8252 §7.1, §7.3, §8.4); parsed as browsers parse it, with
/// no userinfo and no host that reads differently ([`crate::uri::parse`]).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let shown = crate::error::shorten(uri);
    if uri.contains('#') {
        return Err(format!("redirect URI '{shown}' must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    let u = crate::uri::parse(uri).map_err(|e| format!("redirect {e}"))?;
    match u.scheme() {
        "https" if u.host().is_some() => Ok(()),
        "https" => Err(format!("redirect URI '{shown}' has no host")),
        "http" if u.is_loopback(true) => Ok(()),
        "http" => {
            Err(format!("redirect URI '{shown}' uses http on a host that is not loopback; use https (RFC 9700 §2.6)"))
        }
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ws" | "wss" | "ftp" => {
            Err(format!("redirect URI scheme '{}' is not allowed", u.scheme()))
        }
        // A private-use URI scheme of a native app (RFC 8252 §7.1).
        _ => Ok(()),
    }
}

/// Checks a front- or back-channel logout URI: an absolute https URL (http
/// only on a loopback host), without a fragment (Front-Channel Logout 1.0
/// §2, Back-Channel Logout 1.0 §2.2).
pub fn check_logout_uri(uri: &str, what: &str) -> Result<(), String> {
    if !(uri.starts_with("https://") || uri.starts_with("http://")) {
        return Err(format!("{what} '{uri}' must be an https URL"));
    }
    check_redirect_uri(uri).map_err(|e| format!("{what}: {e}"))
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
        client_secret: secret.clone(),
        date_created: now,
        settings: spec.settings,
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
    // RFC 7591 §2.1: the grant types and response types agree. (A client may have
    // no redirect URI yet, as in Keycloak: it cannot use a browser flow until it has one.)
    if c.grant_types.contains(&GrantType::AuthorizationCode) && !c.response_types.iter().any(|rt| rt.has_code()) {
        return Err("the authorization_code grant type needs a response type with code (RFC 7591 §2.1)".into());
    }
    if let Some(jwks) = &c.jwks {
        check_jwks(jwks)?;
    }
    if let Some(s) = c.default_scopes.iter().find(|s| !c.allows_scope(s)) {
        return Err(format!("default scope '{s}' is not among the client's allowed scopes"));
    }
    if let Some(o) = c.web_origins.iter().find(|o| !valid_web_origin(o)) {
        return Err(format!("web origin '{o}' must be '+', '*' or an origin such as https://app.example"));
    }
    // RFC 7591 §2: jwks and jwks_uri must not both be used.
    if c.jwks.is_some() && c.jwks_uri.is_some() {
        return Err("a client has either jwks or jwks_uri, not both (RFC 7591 Section 2)".into());
    }
    // https, or http on a loopback address for development (RFC 8252-style).
    if let Some(u) = &c.jwks_uri {
        crate::uri::check_web_uri("jwks_uri", u)?;
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
    if let Some(u) = &c.logout.frontchannel_uri {
        check_logout_uri(u, "frontchannel_logout_uri")?;
        // Front-Channel Logout 1.0 §2: same scheme, host and port as a redirect URI.
        if !c
            .redirect_uris
            .iter()
            .any(|r| crate::session::origin(r).is_some_and(|o| Some(o) == crate::session::origin(u)))
        {
            return Err(format!(
                "frontchannel_logout_uri '{u}' must have the scheme, host and port of a redirect URI \
                 (Front-Channel Logout 1.0 Section 2)"
            ));
        }
    }
    if let Some(u) = &c.logout.backchannel_uri {
        check_logout_uri(u, "backchannel_logout_uri")?;
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

/// A CORS origin as Keycloak's `webOrigins` take them: `+` (the redirect
/// URIs' origins), `*`, or `scheme://host[:port]` without a path (RFC 6454 §6.2).
fn valid_web_origin(o: &str) -> bool {
    if o == "+" || o == "*" {
        return true;
    }
    let Some((scheme, host)) = o.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(['/', '?', '#', '@', ' '])
        && o.len() <= 300
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
    fn grant_types_and_response_types_must_agree_rfc7591_2_1() {
        let rng = TestRandom::default();
        let mut implicit_with_code_grant = spec(ClientType::Public);
        implicit_with_code_grant.response_types = vec![crate::model::ResponseType::IdToken];
        let e = new_client("r", implicit_with_code_grant, UnixTime(5), &rng).unwrap_err();
        assert!(e.contains("RFC 7591 §2.1"), "{e}");
        let mut code_without_grant = spec(ClientType::Confidential);
        code_without_grant.grant_types = vec![GrantType::ClientCredentials];
        assert!(new_client("r", code_without_grant, UnixTime(5), &rng).is_err());
        let mut no_redirect_yet = spec(ClientType::Confidential);
        no_redirect_yet.redirect_uris.clear();
        assert!(new_client("r", no_redirect_yet, UnixTime(5), &rng).is_ok(), "as in Keycloak");
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
