//! The HTTP server loop: axum's router on hyper's HTTP/1.1 connection builder, so that a slow
//! client cannot hold a connection (a header read timeout), connections are capped, and
//! shutdown drains in-flight requests within a deadline. `axum::serve` offers none of these.
//! TLS and HTTP/2 belong to the proxy in front.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// Bounds of the server loop (settings in `config`).
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// A client must send a request's whole head within this time, else it is disconnected.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// After the shutdown signal: how long in-flight requests may take to finish before the
    /// remaining connections are cut.
    pub drain_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish (idle keep-alive connections close at once) and returns when all
/// connections are done or `limits.drain_timeout` has passed, cutting those left. Each request
/// carries `ConnectInfo<SocketAddr>` of its peer.
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Reap finished connection tasks so the set stays as small as the open connections.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // E.g. out of file descriptors: wait a little instead of spinning.
                    tracing::warn!(error.cause = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            // Errors here are the client's (reset, header timeout); nothing to answer.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    drain(connections, graceful, limits.drain_timeout).await;
    Ok(())
}

/// After the accept loop: lets in-flight requests finish within `drain_timeout`, then cuts
/// the connections left and waits for their tasks.
async fn drain(mut connections: JoinSet<()>, graceful: GracefulShutdown, drain_timeout: Duration) {
    while connections.try_join_next().is_some() {}
    let open = connections.len();
    tracing::info!(connections.open = open, "draining connections");
    if tokio::time::timeout(drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections.left = connections.len(),
            "drain deadline passed; cutting the connections left"
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
