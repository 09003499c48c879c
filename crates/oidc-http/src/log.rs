//! The adapter's one way to write to the operator: standard error, one line per
//! event. Messages name safe identifiers only (client ids, realm names, kinds of
//! failure), never secrets, codes, tokens or queries.
//!
//! This is the only module allowed to print (`clippy::disallowed_macros`).
#![allow(clippy::disallowed_macros)]

/// Something failed that an operator should look at.
pub(crate) fn error(msg: &str) {
    eprintln!("error: {msg}");
}

/// Something unusual that did not fail the request.
pub(crate) fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// One access-log line.
pub(crate) fn access(line: &str) {
    eprintln!("{line}");
}
