//! Cookies: reading the `Cookie` header and building `Set-Cookie` values.

/// The login session cookie.
pub(crate) const SESSION: &str = "OIDC_SESSION";
/// The CSRF binding cookie of the login and consent forms.
pub(crate) const CSRF: &str = "OIDC_CSRF";
/// The OP browser state of Session Management 1.0 §3, read by the
/// check_session_iframe's script: not HttpOnly.
pub(crate) const BROWSER_STATE: &str = "OIDC_BROWSER_STATE";

/// The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4).
pub(crate) fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').map(str::trim).find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, scoped to `path`, Secure on https.
pub(crate) fn set(name: &str, value: &str, path: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// A `Set-Cookie` value for the browser-state cookie: readable by script
/// (the check_session_iframe computes session_state from it, Session
/// Management 1.0 §4.2). On https it is `SameSite=None; Secure`, so that the
/// iframe can read it when framed by a relying party on another site; on
/// plain http (development) browsers refuse `SameSite=None`, so it is `Lax`.
pub(crate) fn set_browser_state(value: &str, path: &str, secure: bool) -> String {
    if secure {
        format!("{BROWSER_STATE}={value}; Path={path}; SameSite=None; Secure")
    } else {
        format!("{BROWSER_STATE}={value}; Path={path}; SameSite=Lax")
    }
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub(crate) fn clear(name: &str, path: &str, secure: bool) -> String {
    set(name, "", path, secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_build() {
        assert_eq!(get(Some("a=1; OIDC_SESSION=xyz; b=2"), SESSION), Some("xyz"));
        assert_eq!(get(Some("OIDC_SESSIONX=1"), SESSION), None);
        assert_eq!(get(None, SESSION), None);
        assert_eq!(set("n", "v", "/realms/r/", true, None), "n=v; Path=/realms/r/; HttpOnly; SameSite=Lax; Secure");
        let bs = set_browser_state("x", "/realms/r/", true);
        assert!(!bs.contains("HttpOnly"), "the check_session_iframe reads it (Session Management 1.0 §4.2)");
        assert!(bs.contains("SameSite=None; Secure"), "{bs}");
    }
}
