//! Reading requests: bounded bodies, query strings and forms.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap};

/// The largest request body accepted (forms and JSON are small).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Larger than [`MAX_BODY`].
    #[error("the request body is too large")]
    TooLarge,
    /// The connection failed while reading.
    #[error("the request body could not be read")]
    Io,
    /// The body did not arrive within the request deadline.
    #[error("the request body did not arrive in time")]
    Timeout,
    /// Not `application/x-www-form-urlencoded`.
    #[error("the request body must be application/x-www-form-urlencoded")]
    NotForm,
}

/// Reads the whole body, at most [`MAX_BODY`] bytes, before the request's
/// deadline (set by the server loop from the request's first byte).
pub(crate) async fn read_body(body: Incoming) -> Result<Bytes, BodyError> {
    let deadline = crate::server::REQUEST_DEADLINE
        .try_with(|d| *d)
        .unwrap_or_else(|_| std::time::Instant::now() + std::time::Duration::from_secs(10));
    match tokio::time::timeout_at(deadline.into(), Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Io),
    }
}

/// Decodes a query string or form body into pairs.
pub(crate) fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Whether the request says its body is a form.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Reads a form body, refusing other content types.
pub(crate) async fn read_form(headers: &HeaderMap, body: Incoming) -> Result<Vec<(String, String)>, BodyError> {
    if !is_form(headers) {
        return Err(BodyError::NotForm);
    }
    Ok(pairs(&read_body(body).await?))
}

/// A header's value as text.
pub(crate) fn header(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The parameters of a request that may come as a GET query or a POST form
/// (the authorization and logout endpoints, OIDC Core §3.1.2.1).
pub(crate) async fn query_or_form(
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Result<Vec<(String, String)>, BodyError> {
    if parts.method == hyper::Method::POST {
        read_form(&parts.headers, body).await
    } else {
        Ok(pairs(parts.uri.query().unwrap_or("").as_bytes()))
    }
}
