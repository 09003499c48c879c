//! The ID Token (OpenID Connect Core 1.0 §2, §3.1.3.6).

use serde_json::{Map, Value, json};

use crate::error::OAuthError;
use crate::jose::{KeySet, half_hash, sign_hs256};
use crate::model::{Client, JwtAlg};
use crate::time::UnixTime;

/// The inputs of an id_token.
#[derive(Debug)]
pub struct IdTokenInput<'a> {
    /// `iss`: the realm's issuer URL.
    pub issuer: &'a str,
    /// `sub`: the user's subject identifier.
    pub subject: &'a str,
    /// The client (`aud`, `azp`, signing algorithm).
    pub client: &'a Client,
    /// `auth_time`.
    pub auth_time: UnixTime,
    /// `nonce` from the authorization request.
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// The authorization code issued with it, for `c_hash` (OIDC Core §3.3.2.11).
    pub code: Option<&'a str>,
    /// `sid`: the login session.
    pub session_id: Option<&'a str>,
    /// `acr`, when the client asked for one.
    pub acr: Option<&'a str>,
    /// `amr`: how the user authenticated (RFC 8176 values).
    pub amr: &'a [&'a str],
    /// Claims of the granted scopes, when they go in the id_token (OIDC Core §5.4);
    /// they never replace the protocol claims above.
    pub extra: Option<&'a Map<String, Value>>,
    /// Now (`iat`).
    pub now: UnixTime,
    /// Lifetime in seconds (`exp` = `iat` + lifetime).
    pub lifetime: i64,
}

/// Builds the id_token's claims.
pub fn claims(input: &IdTokenInput<'_>) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(input.issuer));
    c.insert("sub".into(), json!(input.subject));
    c.insert("aud".into(), json!(input.client.client_id));
    c.insert("exp".into(), json!(input.now.plus(input.lifetime).secs()));
    c.insert("iat".into(), json!(input.now.secs()));
    c.insert("auth_time".into(), json!(input.auth_time.secs()));
    if let Some(n) = input.nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(at) = input.access_token {
        c.insert("at_hash".into(), json!(half_hash(input.client.jwt_alg, at)));
    }
    if let Some(code) = input.code {
        c.insert("c_hash".into(), json!(half_hash(input.client.jwt_alg, code)));
    }
    if let Some(sid) = input.session_id {
        c.insert("sid".into(), json!(sid));
    }
    if let Some(acr) = input.acr {
        c.insert("acr".into(), json!(acr));
    }
    if !input.amr.is_empty() {
        c.insert("amr".into(), json!(input.amr));
    }
    // OIDC Core §2: azp is the party the token was issued to; with a single
    // audience it equals aud and is included for clients that expect it.
    c.insert("azp".into(), json!(input.client.client_id));
    if let Some(extra) = input.extra {
        for (k, v) in extra {
            c.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    c
}

/// Signs id_token claims with the client's algorithm: the realm's active key
/// of that algorithm, or HS256 keyed by the client secret (OIDC Core §10.1).
pub fn sign(claims: &Map<String, Value>, client: &Client, keys: &KeySet) -> Result<String, OAuthError> {
    match client.jwt_alg {
        JwtAlg::None => Ok(crate::jose::unsigned(claims)),
        JwtAlg::Hs256 => {
            let secret = client
                .client_secret
                .as_ref()
                .ok_or_else(|| OAuthError::server_error("HS256 needs a client secret, and this client has none"))?;
            Ok(sign_hs256(claims, secret.secret().as_bytes()))
        }
        alg => {
            let key = keys.active_for(alg).ok_or_else(|| {
                OAuthError::server_error(format!("the realm has no active {} signing key", alg.as_str()))
            })?;
            Ok(key.sign(claims))
        }
    }
}

/// What a verified `id_token_hint` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTokenHint {
    /// `sub`: the user, as the client knows them.
    pub subject: String,
    /// `sid`: the login session it was issued in, if it says.
    pub session_id: Option<String>,
}

/// The audiences of an id_token, read without verifying it: only to find
/// the client whose keys (an HS256 secret) may verify it.
pub fn unverified_audiences(jwt: &str) -> Vec<String> {
    let Some(payload) = jwt.split('.').nth(1) else { return Vec::new() };
    let Some(claims) = crate::jose::b64_decode(payload).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Vec::new();
    };
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).take(16).collect(),
        _ => Vec::new(),
    }
}

/// Verifies an `id_token_hint`: an id_token this provider (`issuer`) issued
/// to `client`, signed by a realm key or with the client's secret (HS256).
/// `aud` may be a string or an array that contains the client. An expired
/// token is accepted (OIDC Core §3.1.2.1: the OP need not be listed as an
/// audience when it is used as a hint; RP-Initiated Logout 1.0 §2: "The OP
/// need not ... reject it when ... expired"), as it still names its user.
/// Used by both the authorization endpoint and the end_session endpoint.
pub fn verify_hint(hint: &str, keys: &KeySet, client: &Client, issuer: &str) -> Result<IdTokenHint, String> {
    let mut vkeys = keys.verify_keys().to_vec();
    if let Some(secret) = &client.client_secret {
        vkeys.push(crate::jose::VerifyKey::Hmac(secret.secret().as_bytes().to_vec()));
    }
    let verified = crate::jose::verify(hint, &crate::jose::ALL_ALGS, &vkeys)
        .map_err(|_| "is not an id_token signed by this provider".to_owned())?;
    let c = &verified.claims;
    if c.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("was issued by another provider".into());
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == &client.client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client.client_id.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err("was issued to another client".into());
    }
    let subject = c.get("sub").and_then(Value::as_str).ok_or("has no sub")?.to_owned();
    Ok(IdTokenHint { subject, session_id: c.get("sid").and_then(Value::as_str).map(str::to_owned) })
}
