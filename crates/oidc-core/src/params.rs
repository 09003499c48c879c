//! Request parameters as decoded name/value pairs.
//!
//! RFC 6749 §3.1 and §3.2: "Parameters sent without a value MUST be treated as
//! if they were omitted from the request" and "Request and response parameters
//! MUST NOT be included more than once."

use std::collections::HashMap;

use crate::error::OAuthError;

/// The most parameters one request may carry (every endpoint needs a few dozen at most).
pub const MAX_PARAMS: usize = 128;

/// Decoded request parameters, each name at most once, empty values dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Builds the parameters from decoded pairs. A repeated name is an
    /// `invalid_request` error (RFC 6749 §3.1); pairs with an empty value are
    /// ignored; more than [`MAX_PARAMS`] pairs are refused.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Params, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = HashMap::new();
        for (n, (k, v)) in pairs.into_iter().enumerate() {
            if n == MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!("the request has more than {MAX_PARAMS} parameters")));
            }
            let (k, v) = (k.into(), v.into());
            if v.is_empty() {
                continue;
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is repeated",
                    crate::error::shorten(&k)
                )));
            }
            map.insert(k, v);
        }
        Ok(Params(map))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Removes and returns the value of `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Sets `name` to `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// All pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameter_is_invalid_request_rfc6749_3_1() {
        let e = Params::from_pairs([("scope", "openid"), ("scope", "email")]).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidRequest);
        assert!(e.description.contains("scope"));
    }

    #[test]
    fn empty_values_are_omitted_rfc6749_3_1() {
        let p = Params::from_pairs([("state", ""), ("state", "x"), ("nonce", "")]).unwrap();
        assert_eq!(p.get("state"), Some("x"));
        assert_eq!(p.get("nonce"), None);
    }
}

/// The most values a space-delimited parameter (`scope`, `prompt`, `acr_values`,
/// `ui_locales`, ...) may carry, and the longest value. Requests beyond these are
/// refused before any further work, so that no parser does more than linear work
/// on attacker input (RFC 9700 §4.15 on resource exhaustion is silent on sizes;
/// these bounds are far above any real request).
pub const MAX_WORDS: usize = 128;
/// The longest single value of a space-delimited parameter.
pub const MAX_WORD_LEN: usize = 256;

/// Splits a space-delimited parameter value (RFC 6749 §3.3 uses `%x20` as the
/// only delimiter) into its non-empty words, in one linear pass, refusing more
/// than [`MAX_WORDS`] words or a word longer than [`MAX_WORD_LEN`] bytes.
pub fn words<'a>(name: &str, s: &'a str) -> Result<Vec<&'a str>, String> {
    let mut out = Vec::new();
    for w in s.split(' ').filter(|w| !w.is_empty()) {
        if out.len() == MAX_WORDS {
            return Err(format!("'{name}' has more than {MAX_WORDS} values"));
        }
        if w.len() > MAX_WORD_LEN {
            return Err(format!("a value of '{name}' is longer than {MAX_WORD_LEN} characters"));
        }
        out.push(w);
    }
    Ok(out)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space and `%XX`
/// an octet (used for the client credentials of RFC 6749 §2.3.1). `None` when
/// an escape is malformed or the result is not UTF-8.
pub fn form_urldecode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Encodes `s` for a query string or form body: unreserved characters
/// (RFC 3986 §2.3) stay, everything else is `%XX`.
pub fn form_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// Appends `pairs` to `base` as a query (after `?`, or `&` when it has one) or
/// as a fragment (after `#`).
pub fn append_params(base: &str, pairs: &[(&str, &str)], fragment: bool) -> String {
    let mut out = String::from(base);
    let mut sep = if fragment {
        '#'
    } else if base.contains('?') {
        '&'
    } else {
        '?'
    };
    if !fragment && base.ends_with(['?', '&']) {
        sep = '\0';
    }
    for (k, v) in pairs {
        if sep != '\0' {
            out.push(sep);
        }
        out.push_str(&form_urlencode(k));
        out.push('=');
        out.push_str(&form_urlencode(v));
        sep = '&';
    }
    out
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    #[test]
    fn urldecode_handles_plus_percent_and_errors() {
        assert_eq!(form_urldecode("a+b%3A%2Fc").as_deref(), Some("a b:/c"));
        assert_eq!(form_urldecode("%zz"), None);
        assert_eq!(form_urldecode("%4"), None);
        assert_eq!(form_urldecode("%ff"), None);
    }

    #[test]
    fn append_params_keeps_existing_query() {
        assert_eq!(
            append_params("https://a/cb", &[("code", "x y"), ("state", "s")], false),
            "https://a/cb?code=x%20y&state=s"
        );
        assert_eq!(append_params("https://a/cb?k=1", &[("code", "c")], false), "https://a/cb?k=1&code=c");
        assert_eq!(
            append_params("https://a/cb", &[("code", "c"), ("state", "&")], true),
            "https://a/cb#code=c&state=%26"
        );
    }
}
