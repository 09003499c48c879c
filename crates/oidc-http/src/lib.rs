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

pub use app::{App, AppConfig, RealmState};
pub use fetch::Fetcher;
pub use guard::PeerAddr;
pub use logout::Delivery;
pub use net::Cidr;
pub use server::{ServerLimits, serve};
pub use templates::{TemplateError, Templates};
