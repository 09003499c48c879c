//! Outbound GETs of documents clients point the provider at: request objects
//! by reference (`request_uri`, OIDC Core §6.2) and sector identifier
//! documents (OIDC Registration §5).
//!
//! Every fetch is HTTPS with certificate verification against the web PKI,
//! bounded in time and size, and refused for addresses that are not public
//! (every block of the IANA special-purpose registries, [`crate::net::is_public`]),
//! so a client cannot make the provider reach into its own network (RFC 9700
//! §4.15 on SSRF-like attacks; OIDC Registration §5 asks for https). The host
//! is resolved once, the addresses checked, and the connection made to a
//! checked address (no second lookup that DNS rebinding could answer
//! differently). Operators may allow named private networks, and plain http
//! to loopback for development.
//!
//! Each requester (a client) may cause a few fetches per minute, and a URL
//! that failed is not fetched again for a while, so the provider cannot be
//! turned into a scanner. Errors shown to requesters never carry connection or
//! TLS details (which would make a port-scan oracle); those go to the log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::net::{self, Cidr};

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
    /// DNS, TCP, TLS or HTTP failed; the detail is for the log only.
    #[error("the document could not be fetched")]
    Failed(String),
    /// The URL failed moments ago; it is not tried again yet.
    #[error("the document could not be fetched recently; try again later")]
    RecentlyFailed,
    /// The requester caused too many fetches lately.
    #[error("too many documents were fetched for this client recently; try again later")]
    RateLimited,
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

impl FetchError {
    /// What the log may say about the failure (never shown to requesters).
    pub(crate) fn detail(&self) -> String {
        match self {
            FetchError::Failed(d) => format!("the document could not be fetched: {d}"),
            other => other.to_string(),
        }
    }
}

/// Which destinations outbound fetches may reach besides public https hosts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Private networks the operator allows (e.g. relying parties inside its own network).
    pub allow_networks: Vec<Cidr>,
    /// Plain http to loopback addresses, for development only.
    pub allow_http_loopback: bool,
}

/// How long a failed URL is not tried again.
const FAILURE_MEMORY: Duration = Duration::from_secs(30);
/// Fetches one requester may cause in a burst, and the pause that earns one more.
const BURST: f64 = 10.0;
const REFILL: Duration = Duration::from_secs(6);
/// Entries kept in each table before it starts over.
const TABLE_MAX: usize = 10_000;

/// Fetches small documents over HTTPS.
#[derive(Clone)]
pub struct Fetcher {
    tls: tokio_rustls::TlsConnector,
    policy: OutboundPolicy,
    timeout: Duration,
    max_bytes: usize,
    memory: Arc<Mutex<Memory>>,
}

/// Recent failures by URL, and fetch allowances by requester.
#[derive(Default)]
struct Memory {
    failures: HashMap<String, Instant>,
    allowance: HashMap<String, (f64, Instant)>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher trusting the web PKI roots: 5 seconds and 64 KiB per document.
    pub fn new(policy: OutboundPolicy) -> Fetcher {
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
            policy,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            memory: Arc::new(Mutex::new(Memory::default())),
        }
    }

    /// GETs `url` for `requester` (a client, named by realm and client_id, or a
    /// registrant's address) and returns its body.
    pub(crate) async fn get(&self, url: &str, requester: &str) -> Result<Bytes, FetchError> {
        self.admit(url, requester, Instant::now())?;
        let result = tokio::time::timeout(self.timeout, self.get_inner(url, None))
            .await
            .map_err(|_| FetchError::Timeout)
            .flatten();
        if let Err(e) = &result {
            crate::log::warn(&format!("outbound fetch for {requester}: {}", e.detail()));
            let mut m = self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.failures.len() >= TABLE_MAX {
                m.failures.clear();
            }
            m.failures.insert(url.to_owned(), Instant::now());
        }
        result
    }

    /// Refuses a URL that failed recently and a requester over its allowance;
    /// otherwise takes one fetch from the allowance.
    fn admit(&self, url: &str, requester: &str, now: Instant) -> Result<(), FetchError> {
        let mut m = self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.failures.get(url).is_some_and(|at| now.duration_since(*at) < FAILURE_MEMORY) {
            return Err(FetchError::RecentlyFailed);
        }
        if m.allowance.len() >= TABLE_MAX {
            m.allowance.clear();
        }
        let (tokens, at) = m.allowance.entry(requester.to_owned()).or_insert((BURST, now));
        let earned = now.duration_since(*at).as_secs_f64() / REFILL.as_secs_f64();
        *tokens = (*tokens + earned).min(BURST);
        *at = now;
        if *tokens < 1.0 {
            return Err(FetchError::RateLimited);
        }
        *tokens -= 1.0;
        Ok(())
    }

    /// Whether a connection to `ip` is allowed: a public address, an address in
    /// a network the operator allowed, or loopback over plain http where allowed.
    fn allowed(&self, ip: std::net::IpAddr, https: bool) -> bool {
        if !https {
            return self.policy.allow_http_loopback && net::canonical(ip).is_loopback();
        }
        net::is_public(ip) || self.policy.allow_networks.iter().any(|c| c.contains(ip))
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
            Some("http") if self.policy.allow_http_loopback => false,
            _ => return Err(FetchError::BadUrl),
        };
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(FetchError::BadUrl);
        }
        let host = uri.host().ok_or(FetchError::BadUrl)?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| FetchError::Failed(e.to_string()))?
            .collect();
        // Every address the name resolves to must be allowed: a name that also
        // points inside the network is refused as a whole.
        if addrs.is_empty() || !addrs.iter().all(|a| self.allowed(a.ip(), https)) {
            return Err(FetchError::NotPublic);
        }
        let addr = addrs[0];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_non_https_and_private_hosts_before_connecting() {
        let f = Fetcher::new(OutboundPolicy::default());
        assert!(matches!(f.get("http://example.com/x", "t").await, Err(FetchError::BadUrl)));
        assert!(matches!(f.get("ftp://example.com/x", "t").await, Err(FetchError::BadUrl)));
        assert!(matches!(f.get("https://127.0.0.1/x", "t").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("https://[::ffff:7f00:1]/x", "t").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("https://[64:ff9b::a00:1]/x", "t").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("https://198.18.0.1/x", "t").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("https://user@example.com/x", "t").await, Err(FetchError::BadUrl)));
        assert!(matches!(f.get("not a url", "t").await, Err(FetchError::BadUrl)));
    }

    #[tokio::test]
    async fn failed_urls_are_remembered_and_requesters_limited() {
        let f = Fetcher::new(OutboundPolicy::default());
        // The failure is remembered: the next try does not reach the network.
        assert!(matches!(f.get("https://10.0.0.1/x", "a").await, Err(FetchError::NotPublic)));
        assert!(matches!(f.get("https://10.0.0.1/x", "b").await, Err(FetchError::RecentlyFailed)));
        // A requester gets a burst of fetches, then must wait.
        let now = Instant::now();
        for i in 0..10 {
            assert!(f.admit(&format!("https://rp.example/{i}"), "c", now).is_ok());
        }
        assert!(matches!(f.admit("https://rp.example/x", "c", now), Err(FetchError::RateLimited)));
        assert!(f.admit("https://rp.example/x", "d", now).is_ok(), "other requesters are not affected");
        assert!(f.admit("https://rp.example/x", "c", now + REFILL).is_ok(), "the allowance refills");
    }

    #[test]
    fn errors_shown_to_requesters_carry_no_connection_detail() {
        let e = FetchError::Failed("Connection refused (os error 111) to 203.0.113.5:22".into());
        assert_eq!(e.to_string(), "the document could not be fetched");
        assert!(e.detail().contains("111"));
    }

    #[test]
    fn operators_may_allow_private_networks_and_http_loopback() {
        let f = Fetcher::new(OutboundPolicy {
            allow_networks: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            allow_http_loopback: true,
        });
        assert!(f.allowed("10.1.2.3".parse().unwrap(), true));
        assert!(!f.allowed("192.168.1.1".parse().unwrap(), true));
        assert!(f.allowed("127.0.0.1".parse().unwrap(), false));
        assert!(!f.allowed("10.1.2.3".parse().unwrap(), false), "plain http only to loopback");
    }
}
