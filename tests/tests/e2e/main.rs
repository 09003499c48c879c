//! End-to-end tests: one binary of modules; each test starts the real server
//! on a free port (SQLite in memory) and acts as a relying party over HTTP.

#![allow(clippy::unwrap_used, clippy::disallowed_macros, clippy::disallowed_methods)]

mod harness;

mod account;
mod browser;
mod claims;
mod code_flow;
mod cors;
mod discovery;
mod errors;
mod flows;
mod hardening;
mod keycloak;
mod keys;
mod logout;
mod per_core;
mod registration;
mod resource;
mod roles;
mod rp_libraries;
mod scale_out;
mod statements;
mod tokens;
