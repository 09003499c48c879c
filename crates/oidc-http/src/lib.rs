//! The HTTP adapter of the OpenID Connect provider, on raw hyper 1.x.
//!
//! It parses requests into an [`router::Endpoint`], fetches what the flows of
//! `oidc-core` ask for from the repositories, stores what they return, and
//! renders their outcomes as HTTP: JSON, redirects and minijinja HTML pages.
//! It owns cookies, CSRF tokens, security headers, the per-realm cache of
//! parsed keys and precomputed discovery/JWKS documents, and the server loop
//! with graceful shutdown.
//!
//! It does not decide protocol questions (that is `oidc-core`) and does not
//! know SQL (that is `oidc-store`, behind `oidc_core::repo::Repositories`).

mod app;
mod cookies;
mod endpoints;
mod fetch;
mod guard;
mod hashing;
mod log;
mod logout;
mod net;
mod request;
mod response;
mod router;
mod server;
mod templates;

/// Entry points for the fuzz targets (`xtask/fuzz`) into parsers that are
/// otherwise private to this crate.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// The value of cookie `name` in a `Cookie` header.
    pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
        crate::cookies::get(Some(header), name)
    }

    /// Keycloak's ClientRepresentation as the `default` registration endpoint
    /// reads it: parsed, then applied to a new client and checked by the core.
    pub fn keycloak_client(body: &serde_json::Value) {
        let registry = oidc_core::scope::ScopeRegistry::default();
        if let Ok(rep) = crate::endpoints::keycloak_parse(body)
            && let Ok(spec) = crate::endpoints::keycloak_to_spec(&rep, &registry)
        {
            let _ = oidc_core::manage::new_client(
                "main",
                spec,
                oidc_core::time::UnixTime(1_000),
                &oidc_core::rand::TestRandom::default(),
            );
        }
    }

    /// The client address for a request from a trusted proxy (10.0.0.1) whose
    /// `Forwarded` and `X-Forwarded-For` headers are both `value`.
    pub fn client_addr_from(value: &str) -> Option<std::net::IpAddr> {
        let mut headers = hyper::HeaderMap::new();
        let v = hyper::header::HeaderValue::from_str(value).ok()?;
        headers.insert("forwarded", v.clone());
        headers.insert("x-forwarded-for", v);
        let trusted = [crate::net::Cidr::parse("10.0.0.0/8").ok()?];
        Some(crate::net::client_addr(std::net::IpAddr::from([10, 0, 0, 1]), &headers, &trusted))
    }
}

pub use app::{App, AppConfig, DEFAULT_CACHE_REFRESH, RealmState};
pub use fetch::Fetcher;
pub use guard::PeerAddr;
pub use logout::Delivery;
pub use net::Cidr;
pub use server::{ConnectionCaps, Seat, ServerLimits, serve, serve_balanced, serve_with};
pub use templates::{TemplateError, Templates};
