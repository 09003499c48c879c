//! Configuration: a TOML file, overridden by environment variables and flags.
//!
//! ```toml
//! database_url = "sqlite://oidc.sqlite"
//! realm = "main"
//! listen = "127.0.0.1:8080"
//! base_url = "https://login.example.com"
//! templates_dir = "/etc/oidc/templates"
//! log_requests = true
//!
//! [lifetimes]          # seconds, except consent_days
//! code = 600           # OIDC_CODE_EXPIRE
//! access_token = 3600  # OIDC_TOKEN_EXPIRE
//! id_token = 600       # OIDC_IDTOKEN_EXPIRE
//! refresh_token = 2592000
//! consent_days = 90    # OIDC_SKIP_CONSENT_EXPIRE
//! session = 36000
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use oidc_core::config::Settings;
use serde::Deserialize;

/// The configuration file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Database URL.
    pub database_url: Option<String>,
    /// Realm name.
    pub realm: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
    /// Public base URL.
    pub base_url: Option<String>,
    /// Template override directory.
    pub templates_dir: Option<PathBuf>,
    /// Access log on or off.
    pub log_requests: Option<bool>,
    /// Lifetimes.
    #[serde(default)]
    pub lifetimes: Lifetimes,
}

/// Lifetimes in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    /// Authorization code, seconds.
    pub code: Option<i64>,
    /// Access token, seconds.
    pub access_token: Option<i64>,
    /// id_token, seconds.
    pub id_token: Option<i64>,
    /// Refresh token, seconds.
    pub refresh_token: Option<i64>,
    /// Consent, days.
    pub consent_days: Option<i64>,
    /// Login session, seconds.
    pub session: Option<i64>,
}

impl FileConfig {
    /// Reads `path`; a missing or invalid file is an error naming it.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// The protocol settings, checked.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let d = Settings::default();
        let l = &self.lifetimes;
        let s = Settings {
            code_lifetime: l.code.unwrap_or(d.code_lifetime),
            access_token_lifetime: l.access_token.unwrap_or(d.access_token_lifetime),
            id_token_lifetime: l.id_token.unwrap_or(d.id_token_lifetime),
            refresh_token_lifetime: l.refresh_token.unwrap_or(d.refresh_token_lifetime),
            consent_lifetime: l.consent_days.map_or(d.consent_lifetime, |days| days.saturating_mul(86_400)),
            session_lifetime: l.session.unwrap_or(d.session_lifetime),
        };
        for (name, v) in [
            ("code", s.code_lifetime),
            ("access_token", s.access_token_lifetime),
            ("id_token", s.id_token_lifetime),
            ("refresh_token", s.refresh_token_lifetime),
            ("consent_days", s.consent_lifetime),
            ("session", s.session_lifetime),
        ] {
            if v <= 0 {
                bail!("lifetimes.{name} must be positive, got {v}");
            }
        }
        Ok(s)
    }
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://oidc.sqlite";
/// The default realm.
pub const DEFAULT_REALM: &str = "main";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
