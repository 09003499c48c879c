//! Outbound GETs of documents clients point the provider at: request objects
//! by reference (`request_uri`, OIDC Core §6.2) and sector identifier
//! documents (OIDC Registration §5).
//!
//! Every fetch is HTTPS with certificate verification against the web PKI,
//! bounded in time and size, and refused for addresses that are not public
//! (loopback, private, link-local, ...), so a client cannot make the provider
//! reach into its own network (RFC 9700 §4.15 on SSRF-like attacks; OIDC
//! Registration §5 asks for https). Tests may allow plain http on loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// Not an absolute https URL (or http where allowed).
    #[error("the URL must be an absolute https URL")]
    BadUrl,
    /// The host resolves only to addresses that are not public.
    #[error("the host does not resolve to a public address")]
    NotPublic,
    /// DNS, TCP, TLS or HTTP failed.
    #[error("the document could not be fetched: {0}")]
    Failed(String),
    /// The server answered with another status than 200.
    #[error("the server answered {0}")]
    Status(u16),
    /// Larger than allowed.
    #[error("the document is too large")]
    TooLarge,
    /// Slower than allowed.
    #[error("the server did not answer in time")]
    Timeout,
}

/// Fetches small documents over HTTPS.
#[derive(Clone)]
pub struct Fetcher {
    tls: tokio_rustls::TlsConnector,
    allow_http_loopback: bool,
    timeout: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("allow_http_loopback", &self.allow_http_loopback)
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher trusting the web PKI roots: 5 seconds and 64 KiB per document.
    /// `allow_http_loopback` permits `http://127.0.0.1` and `http://[::1]`, for tests only.
    pub fn new(allow_http_loopback: bool) -> Fetcher {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default versions; should that ever fail,
        // an empty config refuses every handshake rather than panicking.
        let config = config.unwrap_or_else(|_| {
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map(|b| b.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth())
                .unwrap_or_else(|_| unreachable!("TLS 1.3 with ring is always available"))
        });
        Fetcher {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            allow_http_loopback,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
        }
    }

    /// GETs `url` and returns its body.
    pub(crate) async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        tokio::time::timeout(self.timeout, self.get_inner(url, None)).await.map_err(|_| FetchError::Timeout)?
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) to `url` under the
    /// same rules; any 2xx answer is success (Back-Channel Logout 1.0 §2.8
    /// allows 200 and 204).
    pub(crate) async fn post_form(&self, url: &str, form: String) -> Result<(), FetchError> {
        let sent = self.get_inner(url, Some(form));
        tokio::time::timeout(self.timeout, sent).await.map_err(|_| FetchError::Timeout)?.map(|_| ())
    }

    /// GETs `url`, or POSTs `form` to it when given.
    async fn get_inner(&self, url: &str, form: Option<String>) -> Result<Bytes, FetchError> {
        let uri: hyper::Uri = url.parse().map_err(|_| FetchError::BadUrl)?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allow_http_loopback => false,
            _ => return Err(FetchError::BadUrl),
        };
        let host = uri.host().ok_or(FetchError::BadUrl)?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| FetchError::Failed(e.to_string()))?
            .collect();
        let addr = addrs
            .into_iter()
            .find(|a| if https { is_public(a.ip()) } else { a.ip().is_loopback() })
            .ok_or(FetchError::NotPublic)?;
        let tcp = TcpStream::connect(addr).await.map_err(|e| FetchError::Failed(e.to_string()))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
        let method = if form.is_some() { hyper::Method::POST } else { hyper::Method::GET };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::ACCEPT, "application/json, application/jwt, */*")
            .header(hyper::header::USER_AGENT, "oidc-provider");
        if form.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        if https {
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|_| FetchError::BadUrl)?;
            let tls = self.tls.connect(name, tcp).await.map_err(|e| FetchError::Failed(e.to_string()))?;
            self.exchange(TokioIo::new(tls), req).await
        } else {
            self.exchange(TokioIo::new(tcp), req).await
        }
    }

    async fn exchange<T>(&self, io: T, req: Request<Full<Bytes>>) -> Result<Bytes, FetchError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(io).await.map_err(|e| FetchError::Failed(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let post = req.method() == hyper::Method::POST;
        let resp = sender.send_request(req).await.map_err(|e| FetchError::Failed(e.to_string()))?;
        if resp.status() != hyper::StatusCode::OK && !(post && resp.status().is_success()) {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        match Limited::new(resp.into_body(), self.max_bytes).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FetchError::TooLarge),
            Err(e) => Err(FetchError::Failed(e.to_string())),
        }
    }
}

/// Whether `ip` is a public unicast address.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64
                || v4.octets()[0] == 0)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| !is_public(IpAddr::V4(v4))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched_from() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn refuses_non_https_and_private_hosts_before_connecting() {
        let f = Fetcher::new(false);
        assert!(matches!(f.get("http://example.com/x").await, Err(FetchError::BadUrl)));
        assert!(matches!(f.get("ftp://example.com/x").await, Err(FetchError::BadUrl)));
        assert!(matches!(f.get("https://127.0.0.1/x").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("not a url").await, Err(FetchError::BadUrl)));
    }
}
