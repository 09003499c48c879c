//! The protocol logic of an OpenID Connect provider, without I/O.
//!
//! `oidc-core` validates authorization and token requests, runs the flows as
//! explicit state machines, builds and signs tokens, and selects claims by
//! scope. It owns the domain types ([`model`]) and the async repository traits
//! ([`repo`]) that storage implements.
//!
//! What this crate does **not** do:
//! - no network, no files, no database, no async runtime: storage is reached
//!   through the traits in [`repo`], which the caller drives;
//! - no reading of the clock or of the system's randomness on its own: the
//!   current time is an argument ([`time::UnixTime`]) and randomness comes in
//!   through the [`rand::Random`] trait, so tests are deterministic;
//! - no HTML, no HTTP status codes, no serialization of responses: adapters
//!   (such as `oidc-http`) render the data this crate returns.
//!
//! The flows:
//! - [`authorize`]: the authorization endpoint (OpenID Connect Core 1.0 §3.1.2),
//!   a state machine from a raw request to a redirect with a code.
//! - [`token`]: the token endpoint (RFC 6749 §4.1.3, §6), client authentication
//!   (RFC 6749 §2.3.1) and PKCE (RFC 7636).
//! - [`userinfo`]: claims by scope (OpenID Connect Core 1.0 §5.3, §5.4), with
//!   custom scopes ([`scope::ScopeRegistry`]) and the `claims` parameter ([`claims`]).
//!
//! Extension points for embedders, as traits with defaults ([`hooks`]):
//! subject identifiers ([`subject::SubjectGenerator`], public or pairwise),
//! UserInfo population, id_token processing, after-login and consent events.

pub mod access_token;
pub mod authorize;
pub mod claims;
pub mod config;
pub mod discovery;
pub mod error;
pub mod hooks;
pub mod ids;
pub mod idtoken;
pub mod introspect;
pub mod jose;
pub mod logout;
pub mod manage;
pub mod model;
pub mod params;
pub mod password;
pub mod pkce;
pub mod rand;
pub mod registration;
pub mod repo;
pub mod revoke;
pub mod roles;
pub mod scope;
pub mod sealed;
pub mod secret;
pub mod session;
pub mod subject;
pub mod throttle;
pub mod time;
pub mod token;
pub mod uri;
pub mod userinfo;

#[cfg(test)]
mod parser_bounds;

pub use error::{ErrorCode, OAuthError};
