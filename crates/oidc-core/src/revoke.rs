//! Token revocation (RFC 7009): what revoking a presented token does.
//!
//! The adapter authenticates the client as at the token endpoint, looks the
//! token up by digest like introspection ([`crate::introspect::Found`]), asks
//! [`decide`], carries out the [`Revocation`] and records an audit event. The
//! answer is 200 whatever happened (RFC 7009 §2.2), so that a client learns
//! nothing about tokens that are not its own.

use crate::introspect::Found;
use crate::model::Client;
use crate::secret::Digest;

/// What to do with a presented token.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Delete this access token: it stops working at UserInfo and
    /// introspection at once (RFC 7009 §2.1).
    AccessToken {
        /// The token's digest.
        digest: Digest,
        /// The grant it belongs to (for the audit log).
        grant_id: String,
        /// Its user, if any (for the audit log).
        user_id: Option<String>,
    },
    /// A refresh token: revoke the whole grant, its access tokens and every
    /// later refresh token (RFC 7009 §2.1: the server SHOULD also invalidate
    /// the access tokens of the same grant).
    Grant {
        /// The grant.
        grant_id: String,
        /// Its user (for the audit log).
        user_id: String,
    },
    /// The token was issued to another client: nothing changes (RFC 7009
    /// §2.1 has the server verify the token belongs to the caller), and the
    /// answer is the same 200 as for an unknown token.
    NotOwner {
        /// The client the token belongs to (for the audit log).
        owner: String,
    },
    /// Unknown, malformed or already revoked: nothing to do (RFC 7009 §2.2).
    Nothing,
}

/// Decides what revoking `found` for `caller` does (RFC 7009 §2.1).
pub fn decide(caller: &Client, found: Found) -> Revocation {
    match found {
        Found::Nothing => Revocation::Nothing,
        Found::Access(r, _) if r.client_id != caller.client_id => Revocation::NotOwner { owner: r.client_id },
        Found::Refresh { record: r, .. } if r.client_id != caller.client_id => {
            Revocation::NotOwner { owner: r.client_id }
        }
        Found::Access(r, _) => Revocation::AccessToken { digest: r.digest, grant_id: r.grant_id, user_id: r.user_id },
        // Spent or not, a refresh token names its grant, which is revoked.
        Found::Refresh { record: r, .. } => Revocation::Grant { grant_id: r.grant_id, user_id: r.user_id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::tests::{client, user};
    use crate::model::{AccessTokenRecord, ClientType, RefreshTokenRecord};
    use crate::scope::Scope;
    use crate::time::UnixTime;

    fn at(client_id: &str) -> AccessTokenRecord {
        AccessTokenRecord {
            digest: Digest::of("at"),
            realm: "r".into(),
            client_id: client_id.into(),
            user_id: Some("u1".into()),
            scope: Scope::default(),
            expires_at: UnixTime(10),
            grant_id: "g1".into(),
            claims: None,
            issued_at: UnixTime(0),
            session_id: None,
            audience: Vec::new(),
            jti: "j".into(),
        }
    }

    fn rt(client_id: &str) -> RefreshTokenRecord {
        let mut r = crate::token::tests::refresh_record();
        r.client_id = client_id.into();
        r.grant_id = "g2".into();
        r
    }

    #[test]
    fn only_the_owner_revokes_and_a_refresh_token_takes_its_grant_rfc7009_2_1() {
        let rp = client(ClientType::Public);
        assert_eq!(
            decide(&rp, Found::Access(at("rp"), Some(user()))),
            Revocation::AccessToken { digest: Digest::of("at"), grant_id: "g1".into(), user_id: Some("u1".into()) }
        );
        assert_eq!(
            decide(&rp, Found::Refresh { record: rt("rp"), spent: true, user: None }),
            Revocation::Grant { grant_id: "g2".into(), user_id: "u1".into() }
        );
        assert_eq!(decide(&rp, Found::Access(at("other"), None)), Revocation::NotOwner { owner: "other".into() });
        assert_eq!(
            decide(&rp, Found::Refresh { record: rt("other"), spent: false, user: None }),
            Revocation::NotOwner { owner: "other".into() }
        );
        assert_eq!(decide(&rp, Found::Nothing), Revocation::Nothing, "RFC 7009 §2.2: unknown tokens are fine");
    }
}
