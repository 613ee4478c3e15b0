//! The accept loop: HTTP/1.1 connections served by hyper, with the bounds `axum::serve` cannot
//! set. A client gets `header_read_timeout` to send its headers (hyper then closes the
//! connection) and `body_read_timeout` to send its body (the extractors answer 408); at most
//! `max_connections` connections are served at once, and beyond that new ones wait unaccepted
//! in the kernel's backlog until one closes.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, http::Request, Router};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

use super::extract::BodyReadTimeout;
use crate::config::ServerConfig;

/// Header fields hyper parses per request: above saoma's own limit
/// (`envelope::MAX_HEADER_COUNT`), so that requests between the two get saoma's JSON 431
/// rather than hyper's empty one.
const HYPER_MAX_HEADERS: usize = 200;

/// How one listener treats its connections.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    /// hyper's read buffer: a request head larger than this gets hyper's own (empty) 431.
    pub max_buf_size: usize,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(server.header_read_timeout),
            body_read_timeout: Duration::from_secs(server.body_read_timeout),
            max_connections: server.max_connections,
            // Room for saoma's limits several times over, so that the envelope (not hyper)
            // is what answers a request head that exceeds them; hyper's minimum is 8 KiB.
            max_buf_size: (4 * (server.max_header_bytes + server.max_uri_bytes)).max(8192),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for the open connections: in-flight requests finish, idle connections close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_buf_size)
        .max_headers(HYPER_MAX_HEADERS);
    let body_timeout = BodyReadTimeout(limits.body_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine, so wait a little and go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // What the handlers need to know about the connection goes into every request's
        // extensions: the peer address (`ConnectInfo`) and the body read timeout.
        let router = router.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(body_timeout);
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts and clients that went away: worth a debug line, not more.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
