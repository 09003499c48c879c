//! Paths to endpoints: the request line parsed into a typed [`Endpoint`].
//!
//! The layout follows Keycloak's, so relying parties configured for Keycloak
//! work unchanged: `/realms/{realm}/protocol/openid-connect/{auth,token,userinfo,certs,logout}`.

use hyper::Method;

/// An endpoint of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /realms/{realm}/.well-known/openid-configuration` (Discovery 1.0 §4).
    Discovery(String),
    /// `/realms/{realm}/protocol/openid-connect/auth` (OIDC Core §3.1.2).
    Authorize(String),
    /// `/realms/{realm}/protocol/openid-connect/token` (RFC 6749 §3.2).
    Token(String),
    /// `/realms/{realm}/protocol/openid-connect/token/introspect` (RFC 7662 §2).
    Introspect(String),
    /// `/realms/{realm}/protocol/openid-connect/revoke` (RFC 7009 §2).
    Revoke(String),
    /// `/realms/{realm}/protocol/openid-connect/userinfo` (OIDC Core §5.3).
    UserInfo(String),
    /// `/realms/{realm}/protocol/openid-connect/certs` (RFC 7517 §5).
    Jwks(String),
    /// `/realms/{realm}/protocol/openid-connect/logout` (RP-Initiated Logout 1.0 §2).
    Logout(String),
    /// `/realms/{realm}/protocol/openid-connect/login-status-iframe.html`:
    /// the check_session_iframe (Session Management 1.0 §3.3, Keycloak's path).
    CheckSessionIframe(String),
    /// `/realms/{realm}/protocol/openid-connect/3p-cookies/step{1,2}.html`: the
    /// third-party cookie check of Keycloak's JavaScript adapter.
    ThirdPartyCookies(String, u8),
    /// `.../login-status-iframe.html/init`: whether the iframe may answer an origin.
    CheckSessionInit(String),
    /// `/realms/{realm}/login-actions/authenticate`: the login form.
    Login(String),
    /// `/realms/{realm}/login-actions/consent`: the consent form.
    Consent(String),
    /// `/realms/{realm}/demo`: the built-in demo relying party.
    Demo(String),
    /// `/realms/{realm}/account`: the applications the user authorized.
    Account(String),
    /// `GET /realms/{realm}`: Keycloak's public realm document (`PublishedRealmRepresentation`).
    RealmInfo(String),
    /// `/realms/{realm}/clients-registrations/{openid-connect|default|install}[/{client_id}]`
    /// (RFC 7591, RFC 7592; `default` is Keycloak's client representation,
    /// `install` its OIDC adapter configuration).
    Registration(String, RegistrationFormat, Option<String>),
    /// `/static/{file}`.
    Static(String),
    /// `/health`.
    Health,
    /// Anything else.
    NotFound,
}

impl Endpoint {
    /// Parses a request path.
    pub(crate) fn parse(path: &str) -> Endpoint {
        // Keycloak's one endpoint one level deeper.
        if let Some(realm) = path
            .strip_prefix("/realms/")
            .and_then(|p| p.strip_suffix("/protocol/openid-connect/token/introspect"))
            .filter(|r| valid_realm(r))
        {
            return Endpoint::Introspect(realm.to_owned());
        }
        if let Some((realm, "protocol/openid-connect/login-status-iframe.html/init")) =
            path.trim_start_matches('/').strip_prefix("realms/").and_then(|r| r.split_once('/'))
            && valid_realm(realm)
        {
            return Endpoint::CheckSessionInit(realm.to_owned());
        }
        if let Some(rest) = path.strip_prefix("/realms/")
            && let Some((realm, step)) = rest.split_once("/protocol/openid-connect/3p-cookies/step")
            && valid_realm(realm)
        {
            match step {
                "1.html" => return Endpoint::ThirdPartyCookies(realm.to_owned(), 1),
                "2.html" => return Endpoint::ThirdPartyCookies(realm.to_owned(), 2),
                _ => return Endpoint::NotFound,
            }
        }
        // RFC 8414 §3.1: the authorization server metadata of issuer
        // `{base}/realms/{realm}` is at `/.well-known/oauth-authorization-server/realms/{realm}`
        // (the same document as OpenID Connect Discovery's).
        if let Some(realm) = path.strip_prefix("/.well-known/oauth-authorization-server/realms/")
            && valid_realm(realm)
        {
            return Endpoint::Discovery(realm.to_owned());
        }
        let mut parts = path.trim_start_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("realms"), Some(realm), None | Some(""), None, None, None) if valid_realm(realm) => {
                Endpoint::RealmInfo(realm.to_owned())
            }
            (Some("realms"), Some(realm), Some(a), b, c, None) if valid_realm(realm) => {
                let r = realm.to_owned();
                match (a, b, c) {
                    (".well-known", Some("openid-configuration"), None) => Endpoint::Discovery(r),
                    ("protocol", Some("openid-connect"), Some("auth")) => Endpoint::Authorize(r),
                    ("protocol", Some("openid-connect"), Some("token")) => Endpoint::Token(r),
                    ("protocol", Some("openid-connect"), Some("userinfo")) => Endpoint::UserInfo(r),
                    ("protocol", Some("openid-connect"), Some("revoke")) => Endpoint::Revoke(r),
                    ("protocol", Some("openid-connect"), Some("certs")) => Endpoint::Jwks(r),
                    ("protocol", Some("openid-connect"), Some("logout")) => Endpoint::Logout(r),
                    ("protocol", Some("openid-connect"), Some("login-status-iframe.html")) => {
                        Endpoint::CheckSessionIframe(r)
                    }
                    ("login-actions", Some("authenticate"), None) => Endpoint::Login(r),
                    ("login-actions", Some("consent"), None) => Endpoint::Consent(r),
                    ("demo", None, None) => Endpoint::Demo(r),
                    ("account", None, None) => Endpoint::Account(r),
                    ("clients-registrations", Some(provider), id) => {
                        let format = match provider {
                            "openid-connect" => RegistrationFormat::OpenIdConnect,
                            "default" => RegistrationFormat::Keycloak,
                            "install" if id.is_some() => RegistrationFormat::Install,
                            _ => return Endpoint::NotFound,
                        };
                        match id.map(oidc_core::params::form_urldecode) {
                            None => Endpoint::Registration(r, format, None),
                            Some(Some(id)) if !id.is_empty() => Endpoint::Registration(r, format, Some(id)),
                            Some(_) => Endpoint::NotFound,
                        }
                    }
                    _ => Endpoint::NotFound,
                }
            }
            (Some("static"), Some(file), None, None, None, None) => Endpoint::Static(file.to_owned()),
            (Some("health"), None, None, None, None, None) => Endpoint::Health,
            _ => Endpoint::NotFound,
        }
    }

    /// The methods the endpoint answers.
    pub(crate) fn allows(&self, m: &Method) -> bool {
        match self {
            Endpoint::Authorize(_)
            | Endpoint::UserInfo(_)
            | Endpoint::Logout(_)
            | Endpoint::Login(_)
            | Endpoint::Account(_) => m == Method::GET || m == Method::POST,
            Endpoint::Token(_) | Endpoint::Introspect(_) | Endpoint::Revoke(_) | Endpoint::Consent(_) => {
                m == Method::POST
            }
            Endpoint::Registration(_, RegistrationFormat::Install, _) => m == Method::GET || m == Method::OPTIONS,
            Endpoint::Registration(_, _, None) => m == Method::POST || m == Method::OPTIONS,
            Endpoint::Registration(_, _, Some(_)) => {
                m == Method::GET || m == Method::PUT || m == Method::DELETE || m == Method::OPTIONS
            }
            _ => m == Method::GET || m == Method::HEAD,
        }
    }
}

/// The client representation a registration endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegistrationFormat {
    /// OpenID Connect client metadata (RFC 7591).
    OpenIdConnect,
    /// Keycloak's `ClientRepresentation` (the `default` provider).
    Keycloak,
    /// Keycloak's OIDC adapter configuration (`keycloak.json`), read only.
    Install,
}

/// Realm names are short and URL-safe.
pub(crate) fn valid_realm(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_layout() {
        assert_eq!(
            Endpoint::parse("/realms/main/.well-known/openid-configuration"),
            Endpoint::Discovery("main".into())
        );
        assert_eq!(
            Endpoint::parse("/realms/main/protocol/openid-connect/3p-cookies/step1.html"),
            Endpoint::ThirdPartyCookies("main".into(), 1)
        );
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/3p-cookies/step3.html"), Endpoint::NotFound);
        assert_eq!(
            Endpoint::parse("/.well-known/oauth-authorization-server/realms/main"),
            Endpoint::Discovery("main".into()),
            "RFC 8414 section 3.1"
        );
        assert_eq!(Endpoint::parse("/.well-known/oauth-authorization-server/realms/main/x"), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/auth"), Endpoint::Authorize("main".into()));
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/token"), Endpoint::Token("main".into()));
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/certs"), Endpoint::Jwks("main".into()));
        assert_eq!(
            Endpoint::parse("/realms/main/protocol/openid-connect/token/introspect"),
            Endpoint::Introspect("main".into())
        );
        assert_eq!(Endpoint::parse("/realms/a/b/protocol/openid-connect/token/introspect"), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/revoke"), Endpoint::Revoke("main".into()));
        assert_eq!(Endpoint::parse("/realms/main/login-actions/consent"), Endpoint::Consent("main".into()));
        assert_eq!(Endpoint::parse("/realms/../protocol/openid-connect/auth"), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/realms/main/protocol/openid-connect/auth/x"), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/health"), Endpoint::Health);
        assert_eq!(
            Endpoint::parse("/realms/main/protocol/openid-connect/login-status-iframe.html"),
            Endpoint::CheckSessionIframe("main".into())
        );
        assert_eq!(
            Endpoint::parse("/realms/main/protocol/openid-connect/login-status-iframe.html/init"),
            Endpoint::CheckSessionInit("main".into())
        );
        assert_eq!(
            Endpoint::parse("/realms/../protocol/openid-connect/login-status-iframe.html/init"),
            Endpoint::NotFound
        );
        assert_eq!(
            Endpoint::parse("/realms/main/clients-registrations/openid-connect"),
            Endpoint::Registration("main".into(), RegistrationFormat::OpenIdConnect, None)
        );
        assert_eq!(
            Endpoint::parse("/realms/main/clients-registrations/openid-connect/a%20b"),
            Endpoint::Registration("main".into(), RegistrationFormat::OpenIdConnect, Some("a b".into()))
        );
        assert_eq!(
            Endpoint::parse("/realms/main/clients-registrations/default/x"),
            Endpoint::Registration("main".into(), RegistrationFormat::Keycloak, Some("x".into()))
        );
        assert_eq!(
            Endpoint::parse("/realms/main/clients-registrations/install/x"),
            Endpoint::Registration("main".into(), RegistrationFormat::Install, Some("x".into()))
        );
        assert_eq!(Endpoint::parse("/realms/main/clients-registrations/install"), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/realms/main"), Endpoint::RealmInfo("main".into()));
        assert_eq!(Endpoint::parse("/realms/main/"), Endpoint::RealmInfo("main".into()));
        assert_eq!(Endpoint::parse("/realms/.."), Endpoint::NotFound);
        assert_eq!(Endpoint::parse("/realms/main/clients-registrations/saml2"), Endpoint::NotFound);
    }
}
