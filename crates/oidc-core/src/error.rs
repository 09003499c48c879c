//! The protocol's errors, carrying the error codes of RFC 6749 §4.1.2.1, §5.2,
//! RFC 6750 §3.1 and OpenID Connect Core 1.0 §3.1.2.6.

use std::fmt;

/// An OAuth 2.0 / OpenID Connect error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token) is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1, §5.2.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the resource owner denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    ServerError,
    /// RFC 6749 §4.1.2.1.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1: the access token is invalid, expired or revoked.
    InvalidToken,
    /// RFC 6750 §3.1.
    InsufficientScope,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    LoginRequired,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    ConsentRequired,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    InteractionRequired,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    RequestNotSupported,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    RequestUriNotSupported,
    /// OpenID Connect Core 1.0 §3.1.2.6.
    RegistrationNotSupported,
    /// OpenID Connect Core 1.0 §3.1.2.6: the request object is invalid.
    InvalidRequestObject,
    /// OpenID Connect Core 1.0 §3.1.2.6: the request_uri cannot be used.
    InvalidRequestUri,
    /// RFC 8707 §2: a `resource` is invalid or not allowed.
    InvalidTarget,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::InvalidScope,
        ErrorCode::AccessDenied,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InvalidToken,
        ErrorCode::InsufficientScope,
        ErrorCode::LoginRequired,
        ErrorCode::ConsentRequired,
        ErrorCode::InteractionRequired,
        ErrorCode::RequestNotSupported,
        ErrorCode::RequestUriNotSupported,
        ErrorCode::RegistrationNotSupported,
        ErrorCode::InvalidRequestObject,
        ErrorCode::InvalidRequestUri,
        ErrorCode::InvalidTarget,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::RegistrationNotSupported => "registration_not_supported",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::InvalidTarget => "invalid_target",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `s` as an `error_description`: RFC 6749 §4.1.2.1 and §5.2 allow only
/// `%x20-21 / %x23-5B / %x5D-7E`, so `§` becomes `Section `, quotes and
/// backslashes become `'`, and any other character outside that set is dropped.
pub fn description_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '§' => out.push_str("Section "),
            '"' | '\\' => out.push('\''),
            ' ' | '!' | '#'..='[' | ']'..='~' => out.push(c),
            _ => {}
        }
    }
    out.replace("Section  ", "Section ")
}

/// `s` cut to at most 64 characters (with `...` when cut), for echoing a
/// request value in an error description without echoing a megabyte.
pub fn shorten(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        None => std::borrow::Cow::Borrowed(s),
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}...", &s[..i])),
    }
}

/// An error answered to a client: a code and a human-readable description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// `error_description`: ASCII text for the developer, never a secret.
    pub description: String,
}

impl OAuthError {
    /// An error with `code` and `description`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError { code, description: description_text(&description.into()) }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client` with a description.
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, description)
    }

    /// `server_error` with a description.
    pub fn server_error(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::ServerError, description)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_use_only_the_characters_rfc6749_5_2_allows() {
        let e = super::OAuthError::invalid_request("bad \"thing\" (RFC 6749 §3.1) — é\\n");
        assert_eq!(e.description, "bad 'thing' (RFC 6749 Section 3.1)  'n");
        assert!(
            e.description.chars().all(|c| c == ' ' || c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
        );
    }
}
