//! URIs as browsers read them.
//!
//! Every URI a client registers or sends is parsed with a WHATWG URL parser
//! (the `url` crate, the algorithm browsers use), and refused when the parsed
//! host differs from what a naive reading of the text would take for the host:
//! a backslash (`https://evil.example\.trusted.example/` goes to `evil.example`
//! in a browser), userinfo, percent-encoded or Unicode host names, IPv4 written
//! in hex or octal, and the like. A URI that passes reads the same to the
//! provider, to people and to browsers, so host checks (trusted hosts,
//! loopback, pairwise sectors) compare parsed hosts, never prefixes.

use url::{Host, Url};

/// A URI that parsed strictly: its text and its parsed form agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrictUri(Url);

/// Parses `s` strictly (see the module documentation).
pub fn parse(s: &str) -> Result<StrictUri, String> {
    let shown = crate::error::shorten(s);
    if s.len() > 2000 {
        return Err(format!("URI '{shown}' is longer than 2000 characters"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
        return Err(format!("URI '{shown}' contains spaces, control characters or backslashes"));
    }
    let url = Url::parse(s).map_err(|e| format!("URI '{shown}' is not a valid absolute URI: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("URI '{shown}' must not contain user information"));
    }
    let naive = naive_host(s);
    let parsed = url.host_str().map(str::to_owned);
    match (&naive, &parsed) {
        (None, None) => {}
        (Some(n), Some(p)) if n.eq_ignore_ascii_case(p) => {}
        _ => {
            return Err(format!(
                "URI '{shown}' has a host that browsers read differently ({}); write it plainly",
                parsed.as_deref().unwrap_or("none")
            ));
        }
    }
    Ok(StrictUri(url))
}

/// The host as the text shows it: between `scheme://` (or `//`) and the next
/// `/`, `?` or `#`, without a port; `None` when there is no `//` authority.
fn naive_host(s: &str) -> Option<String> {
    let (_, rest) = s.split_once(':')?;
    let authority = rest.strip_prefix("//")?;
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    let authority = &authority[..end];
    let host = if authority.starts_with('[') {
        authority.find(']').map_or(authority, |i| &authority[..=i])
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_owned())
}

impl StrictUri {
    /// The text of the URI as parsed (normalized by the parser).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The scheme, lowercase.
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// The host in lowercase (IPv6 in brackets), if the URI has one.
    pub fn host(&self) -> Option<String> {
        self.0.host_str().map(str::to_ascii_lowercase)
    }

    /// Whether the host is a loopback IP literal (`127.0.0.0/8`, `[::1]`), or
    /// `localhost` when `allow_name` (a name could resolve elsewhere).
    pub fn is_loopback(&self, allow_name: bool) -> bool {
        match self.0.host() {
            Some(Host::Ipv4(a)) => a.is_loopback(),
            Some(Host::Ipv6(a)) => a.is_loopback(),
            Some(Host::Domain(d)) => allow_name && d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }

    /// `scheme://host[:port]`, for a CSP source or an origin check.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }
}

/// Whether `host` (a parsed, lowercase host) is `pattern` or, for a pattern
/// `*.domain`, a subdomain of `domain` or `domain` itself; compared as whole
/// labels, never as prefixes or suffixes of text.
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.')),
        None => host == pattern,
    }
}

/// An https URL, or http on a loopback IP for development, for a client's web
/// pages and documents (logo_uri, policy_uri, tos_uri, client_uri, jwks_uri, ...).
pub fn check_web_uri(name: &str, uri: &str) -> Result<StrictUri, String> {
    let u = parse(uri).map_err(|e| format!("{name}: {e}"))?;
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if u.is_loopback(false) => Ok(u),
        _ => Err(format!("{name} must be an https URL")),
    }
}

#[cfg(test)]
mod tests;
