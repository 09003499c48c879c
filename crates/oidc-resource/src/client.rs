//! A small HTTP/1.1 client for the three documents a resource server reads
//! from its issuer: discovery, the JWK Set and introspection answers. HTTPS
//! with the web PKI roots (rustls on ring); plain http only when the issuer
//! itself is http (development). Bounded in time (5 s) and size (1 MiB).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The longest an exchange may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read.
const MAX_BYTES: usize = 1024 * 1024;

/// An outbound request.
#[derive(Debug)]
pub(crate) struct Outbound<'a> {
    /// `GET` or `POST`.
    pub(crate) method: http::Method,
    /// The absolute URL.
    pub(crate) url: &'a str,
    /// Extra headers.
    pub(crate) headers: Vec<(http::header::HeaderName, String)>,
    /// A form body.
    pub(crate) form: Option<String>,
}

/// Sends `req` and returns the status and body.
pub(crate) async fn send(tls: &tokio_rustls::TlsConnector, req: Outbound<'_>) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(TIMEOUT, exchange(tls, req))
        .await
        .map_err(|_| "the issuer did not answer in time".to_owned())?
}

async fn exchange(tls: &tokio_rustls::TlsConnector, out: Outbound<'_>) -> Result<(u16, Bytes), String> {
    let uri: http::Uri = out.url.parse().map_err(|_| format!("not a URL: {}", out.url))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("not an http(s) URL: {}", out.url)),
    };
    let host = uri.host().ok_or("the URL has no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let mut builder = Request::builder()
        .method(out.method)
        .uri(path)
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, "oidc-resource");
    for (k, v) in out.headers {
        builder = builder.header(k, v);
    }
    let body = match out.form {
        Some(f) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Full::new(Bytes::from(f))
        }
        None => Full::new(Bytes::new()),
    };
    let req = builder.body(body).map_err(|e| e.to_string())?;
    if https {
        let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| e.to_string())?;
        let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
        roundtrip(TokioIo::new(stream), req).await
    } else {
        roundtrip(TokioIo::new(tcp), req).await
    }
}

async fn roundtrip<T>(io: T, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_BYTES).collect().await.map_err(|e| e.to_string())?;
    Ok((status, body.to_bytes()))
}

/// A TLS connector trusting the web PKI roots, on ring.
pub(crate) fn tls() -> Result<tokio_rustls::TlsConnector, String> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
