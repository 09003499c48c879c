//! The server loop: accept connections, serve HTTP/1.1, shut down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::app::App;
use crate::endpoints;

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// connections finish (at most 10 seconds).
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: wait briefly instead of spinning.
                        eprintln!("warning: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let peer = crate::guard::PeerAddr(peer.ip());
                let service = service_fn(move |mut req: Request<Incoming>| {
                    let app = app.clone();
                    req.extensions_mut().insert(peer);
                    async move { Ok::<_, Infallible>(handle_logged(&app, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Client disconnects are normal; nothing to report.
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
            eprintln!("warning: some connections were still open after 10 s and were closed");
        }
    }
    Ok(())
}

async fn handle_logged(app: &App, req: Request<Incoming>) -> Response<http_body_util::Full<bytes::Bytes>> {
    if !app.config.log_requests {
        return endpoints::handle(app, req).await;
    }
    let start = Instant::now();
    let method = req.method().clone();
    // Only the path: queries carry codes and tokens.
    let path = req.uri().path().to_owned();
    let resp = endpoints::handle(app, req).await;
    eprintln!("{method} {path} {} {}us", resp.status().as_u16(), start.elapsed().as_micros());
    resp
}
