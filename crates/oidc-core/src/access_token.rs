//! Minting access tokens: the one place every grant and the authorization
//! endpoint get an access token and the record to store under its digest.

use crate::model::{AccessTokenRecord, Client};
use crate::rand::{Random, token};
use crate::scope::Scope;
use crate::secret::AccessToken;
use crate::time::UnixTime;

/// What an access token is issued for.
#[derive(Debug)]
pub struct AccessTokenInput<'a> {
    /// The realm.
    pub realm: &'a str,
    /// The client it is issued to.
    pub client: &'a Client,
    /// The user, or `None` for a client acting on its own behalf (RFC 6749 §4.4).
    pub user_id: Option<&'a str>,
    /// The granted scope.
    pub scope: &'a Scope,
    /// The grant family it belongs to.
    pub grant_id: &'a str,
    /// The login session, when there is one.
    pub session_id: Option<&'a str>,
    /// The `claims` request parameter (OIDC Core §5.5), for UserInfo.
    pub claims: Option<&'a str>,
    /// RFC 8707 resource indicators; empty means the client.
    pub audience: &'a [String],
    /// Lifetime in seconds.
    pub lifetime: i64,
    /// Now.
    pub now: UnixTime,
}

/// Mints an opaque access token (256 random bits) and its record.
pub fn mint(input: &AccessTokenInput<'_>, rng: &dyn Random) -> (AccessToken, AccessTokenRecord) {
    let value = AccessToken::new(token(rng, 32));
    let record = AccessTokenRecord {
        digest: value.digest(),
        realm: input.realm.to_owned(),
        client_id: input.client.client_id.clone(),
        user_id: input.user_id.map(str::to_owned),
        scope: input.scope.clone(),
        expires_at: input.now.plus(input.lifetime),
        grant_id: input.grant_id.to_owned(),
        claims: input.claims.map(str::to_owned),
        issued_at: input.now,
        session_id: input.session_id.map(str::to_owned),
        audience: input.audience.to_vec(),
        jti: token(rng, 16),
    };
    (value, record)
}
