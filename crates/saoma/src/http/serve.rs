//! The accept loop: HTTP/1.1 connections served by hyper, with the bounds `axum::serve` cannot
//! set. A client gets `header_read_timeout` to send its headers (hyper then closes the
//! connection) and `body_read_timeout` to send its body (the extractors answer 408); at most
//! `max_connections` connections are served at once, and beyond that new ones wait unaccepted
//! in the kernel's backlog until one closes. A response that makes no progress for
//! `write_timeout` (a client that does not read) ends its connection, and shutdown waits at
//! most `shutdown_grace` for the open ones.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
    time::Duration,
};

use axum::{extract::ConnectInfo, http::Request, Router};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, Semaphore},
    time::{Instant, Sleep},
};
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
    /// How long a response write may make no progress before the connection is closed.
    pub write_timeout: Duration,
    /// How long shutdown waits for in-flight connections before dropping them.
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// hyper's read buffer: a request head larger than this gets hyper's own (empty) 431.
    pub max_buf_size: usize,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(server.header_read_timeout),
            body_read_timeout: Duration::from_secs(server.body_read_timeout),
            write_timeout: Duration::from_secs(server.write_timeout),
            shutdown_grace: Duration::from_secs(server.shutdown_grace),
            max_connections: server.max_connections,
            // Room for saoma's limits several times over, so that the envelope (not hyper)
            // is what answers a request head that exceeds them; hyper's minimum is 8 KiB.
            max_buf_size: (4 * (server.max_header_bytes + server.max_uri_bytes)).max(8192),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for the open connections: in-flight requests finish, idle connections close. Whatever is
/// still open after `shutdown_grace` is dropped.
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
    // Dropped when `serve` returns: every connection task still running then drops its
    // connection, rather than outliving the server.
    let (_drop_connections, server_returned) = watch::channel(());
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
        let io = TokioIo::new(WriteTimeout::new(stream, limits.write_timeout));
        let connection = graceful.watch(http.serve_connection(io, service));
        let mut server_returned = server_returned.clone();
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    // Timeouts and clients that went away: worth a debug line, not more.
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                // Only ever `Err`: the sender is never used, only dropped.
                _ = server_returned.changed() => {}
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?limits.shutdown_grace,
            "connections still open after the shutdown grace period are dropped"
        );
    }
}

/// A TCP stream whose writes fail with `TimedOut` once one has made no progress for
/// `timeout`: a client that stops reading fills its receive window and the kernel's send
/// buffer, after which hyper would wait on the write (and hold the connection slot) forever.
/// The error makes hyper close the connection.
struct WriteTimeout {
    stream: TcpStream,
    timeout: Duration,
    /// Armed when a write first finds the socket full; disarmed by any progress.
    stall: Pin<Box<Sleep>>,
    stalled: bool,
}

impl WriteTimeout {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            stall: Box::pin(tokio::time::sleep(timeout)),
            stalled: false,
        }
    }

    /// A write's outcome: one that went through disarms the timer.
    fn wrote(
        &mut self,
        polled: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if polled.is_ready() {
            self.stalled = false;
            return polled;
        }
        self.wait(cx)
    }

    /// The socket is full: arms the timer (unless it already runs) and fails once it is out.
    fn wait<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if !self.stalled {
            self.stalled = true;
            self.stall.as_mut().reset(Instant::now() + self.timeout);
        }
        ready!(self.stall.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client has not read the response",
        )))
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(polled, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A flush moves no bytes of its own (a TCP stream's never waits): it can only fail.
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Pending => self.wait(cx),
            done => done,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
