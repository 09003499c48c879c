//! An example API protected by `oidc-resource`, in two styles:
//! - `GET /notes`: plain hyper, calling [`Verifier::check`] with the scope `notes`;
//! - `GET /tower/notes`: the same handler as a tower service behind the
//!   [`RequireScopes`] layer, which puts the [`Principal`] in the request's extensions.
//!
//! Either answers RFC 6750 errors: 401 without a valid token, 403 without the scope.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use oidc_resource::{Principal, RequireScopes, Verifier};
use tokio::net::TcpListener;
use tower_layer::Layer as _;
use tower_service::Service as _;

/// The scope both routes require.
pub const SCOPE: &str = "notes";

fn notes(p: &Principal, style: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"notes": ["buy milk"], "for": p.subject, "client": p.client_id, "style": style});
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

/// The tower-style handler: reads the principal the layer put in the request.
#[derive(Clone, Debug)]
pub struct NotesService;

impl<B> tower_service::Service<Request<B>> for NotesService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let r = match req.extensions().get::<Principal>() {
            Some(p) => notes(p, "tower"),
            None => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        };
        Box::pin(async move { Ok(r) })
    }
}

/// Answers one request.
pub async fn handle(verifier: Arc<Verifier>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/notes" => match verifier.check(req.headers(), &[SCOPE]).await {
            Ok(p) => notes(&p, "hyper"),
            Err(e) => e.response(&verifier.config().realm),
        },
        "/tower/notes" => {
            let mut svc = RequireScopes::new(verifier, &[SCOPE]).layer(NotesService);
            let ready =
                std::future::poll_fn(|cx| tower_service::Service::<Request<Incoming>>::poll_ready(&mut svc, cx));
            if ready.await.is_err() {
                return Response::new(Full::new(Bytes::new()));
            }
            match svc.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
        _ => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, verifier: Arc<Verifier>) {
    while let Ok((stream, _)) = listener.accept().await {
        let verifier = verifier.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let verifier = verifier.clone();
                async move { Ok::<_, Infallible>(handle(verifier, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
