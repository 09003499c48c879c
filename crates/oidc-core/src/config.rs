//! Lifetimes and switches of the protocol, with the defaults of django-oidc-provider's settings.

/// Protocol settings for a realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Authorization code lifetime in seconds (OIDC_CODE_EXPIRE, default 600).
    pub code_lifetime: i64,
    /// Access token lifetime in seconds (OIDC_TOKEN_EXPIRE, default 3600).
    pub access_token_lifetime: i64,
    /// id_token lifetime in seconds (OIDC_IDTOKEN_EXPIRE, default 600).
    pub id_token_lifetime: i64,
    /// Refresh token lifetime in seconds (default 30 days).
    pub refresh_token_lifetime: i64,
    /// Consent lifetime in seconds (OIDC_SKIP_CONSENT_EXPIRE, default 90 days).
    pub consent_lifetime: i64,
    /// Login session lifetime in seconds (default 10 hours).
    pub session_lifetime: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            code_lifetime: 600,
            access_token_lifetime: 3600,
            id_token_lifetime: 600,
            refresh_token_lifetime: 30 * 24 * 3600,
            consent_lifetime: 90 * 24 * 3600,
            session_lifetime: 10 * 3600,
        }
    }
}
