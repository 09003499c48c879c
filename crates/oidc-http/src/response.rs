//! Building responses; the one place where protocol errors become status codes and headers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use oidc_core::{ErrorCode, OAuthError};
use serde_json::json;

/// The response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

/// The Content-Security-Policy of HTML pages: nothing but same-origin styles,
/// scripts and images; never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; \
                   connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A response with a body and content type.
pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON response that must not be cached (RFC 6749 §5.1: token responses carry `Cache-Control: no-store`).
pub(crate) fn json_no_store(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = with_body(status, "application/json", body);
    no_store(&mut r);
    r
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(r: &mut Resp) {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Adds the security headers of an HTML page.
pub(crate) fn html_headers(r: &mut Resp, csp: Option<&str>) {
    let h = r.headers_mut();
    let csp = csp.map(HeaderValue::from_str).and_then(Result::ok).unwrap_or(HeaderValue::from_static(CSP));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// An HTML page with the security headers.
pub(crate) fn html(status: StatusCode, body: String) -> Resp {
    let mut r = with_body(status, "text/html; charset=utf-8", body);
    html_headers(&mut r, None);
    r
}

/// A redirect (303 See Other after a POST, 302 Found otherwise).
pub(crate) fn redirect(location: &str, see_other: bool) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = if see_other { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    match HeaderValue::from_str(location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    no_store(&mut r);
    r.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// Adds a `Set-Cookie` header.
pub(crate) fn set_cookie(r: &mut Resp, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Sets a header whose value is known to be valid ASCII.
pub(crate) fn set_header(r: &mut Resp, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(header::HeaderName::from_static(name), v);
    }
}

/// Adds permissive CORS headers for endpoints that browsers call with no cookies.
pub(crate) fn cors(r: &mut Resp) {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
}

/// CORS for a client's browser: the request's `Origin` is allowed when it is
/// the origin of one of the client's redirect URIs; other origins get no
/// `Access-Control-Allow-Origin`, so their scripts cannot read the answer.
pub(crate) fn cors_for_client(r: &mut Resp, origin: Option<&str>, client: &oidc_core::model::Client) {
    match origin.filter(|o| client.allows_origin(o)) {
        Some(o) => allow_origin(r, o),
        None => {
            r.headers_mut().remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            r.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Allows exactly `origin` (a preflight, or a registered origin), varying by
/// it, with credentials: Keycloak's JavaScript adapter sends its token and
/// UserInfo requests with `credentials: "include"`, which browsers allow only
/// with an exact origin and `Access-Control-Allow-Credentials`. These
/// endpoints read no cookies, so the credentials give a page nothing more.
pub(crate) fn allow_origin(r: &mut Resp, origin: &str) {
    cors(r);
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// How a protocol error is answered by an endpoint.
pub(crate) trait ApiError {
    /// The response.
    fn to_response(&self) -> Resp;
}

/// An error of the token endpoint (RFC 6749 §5.2): JSON; `invalid_client`
/// is 401 with `WWW-Authenticate`.
pub(crate) struct TokenError<'a>(pub(crate) &'a OAuthError, pub(crate) &'a str);

impl ApiError for TokenError<'_> {
    fn to_response(&self) -> Resp {
        let e = self.0;
        let status = match e.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({"error": e.code.as_str(), "error_description": e.description});
        let mut r = json_no_store(status, body.to_string());
        if e.code == ErrorCode::InvalidClient
            && let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{}\"", self.1))
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        cors(&mut r);
        r
    }
}

/// An error of a protected resource (RFC 6750 §3): `WWW-Authenticate: Bearer`
/// with 401 for a missing or invalid token, 403 for insufficient scope.
pub(crate) struct BearerError<'a>(pub(crate) Option<&'a OAuthError>, pub(crate) &'a str);

impl ApiError for BearerError<'_> {
    fn to_response(&self) -> Resp {
        let realm = self.1;
        let (status, challenge, body) = match self.0 {
            // RFC 6750 §3.1: no error information when the request had no token at all.
            None => (StatusCode::UNAUTHORIZED, format!("Bearer realm=\"{realm}\""), String::new()),
            Some(e) => {
                let status = match e.code {
                    ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
                    ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
                    ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::UNAUTHORIZED,
                };
                let desc = e.description.replace(['"', '\\'], "'");
                (
                    status,
                    format!("Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{desc}\"", e.code),
                    json!({"error": e.code.as_str(), "error_description": e.description}).to_string(),
                )
            }
        };
        let mut r = json_no_store(status, body);
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        cors(&mut r);
        r
    }
}

/// A plain-text error for requests no endpoint understands.
pub(crate) fn plain(status: StatusCode, msg: &'static str) -> Resp {
    with_body(status, "text/plain; charset=utf-8", msg)
}
