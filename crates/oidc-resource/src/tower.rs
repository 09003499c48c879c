//! The verifier as a tower [`Layer`](tower_layer::Layer): requests without a
//! valid token with the required scopes are answered with the RFC 6750 error;
//! the others reach the inner service with the [`Principal`] in their
//! extensions. Works with any service whose response body converts from
//! bytes (hyper's `Full<Bytes>`, axum's `Body`, tonic's, ...).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};

use crate::{Principal, Verifier};

/// A layer requiring a valid bearer token with `scopes`.
#[derive(Clone, Debug)]
pub struct RequireScopes {
    verifier: Arc<Verifier>,
    scopes: Arc<Vec<String>>,
}

impl RequireScopes {
    /// Requires tokens checked by `verifier` that carry every scope of `scopes`.
    pub fn new(verifier: Arc<Verifier>, scopes: &[&str]) -> RequireScopes {
        RequireScopes { verifier, scopes: Arc::new(scopes.iter().map(|s| (*s).to_owned()).collect()) }
    }
}

impl<S> tower_layer::Layer<S> for RequireScopes {
    type Service = Protected<S>;

    fn layer(&self, inner: S) -> Protected<S> {
        Protected { inner, verifier: self.verifier.clone(), scopes: self.scopes.clone() }
    }
}

/// A service behind [`RequireScopes`].
#[derive(Clone, Debug)]
pub struct Protected<S> {
    inner: S,
    verifier: Arc<Verifier>,
    scopes: Arc<Vec<String>>,
}

impl<S, B, RB> tower_service::Service<Request<B>> for Protected<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: From<Bytes>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The ready service goes with this call; its clone waits for the next (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (verifier, scopes) = (self.verifier.clone(), self.scopes.clone());
        Box::pin(async move {
            let required: Vec<&str> = scopes.iter().map(String::as_str).collect();
            match verifier.check(req.headers(), &required).await {
                Ok(principal) => {
                    req.extensions_mut().insert::<Principal>(principal);
                    inner.call(req).await
                }
                Err(e) => Ok(e.response(&verifier.config().realm)),
            }
        })
    }
}
