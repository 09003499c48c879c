//! The server binary's library: command-line parsing, configuration, start-up
//! (migrations, first realm and key), and the management commands.
//!
//! The end-to-end tests use [`server::spawn`] to start the same server the
//! binary starts, on a free port.

// The command line prints: that is its interface.
#![allow(clippy::disallowed_macros)]

pub mod cleanup;
mod cli;
mod commands;
pub mod config;
pub mod keys;
pub mod server;

pub use cli::Cli;
pub use commands::run;
