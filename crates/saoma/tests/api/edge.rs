//! The connection edge: slow clients (sending or reading) are cut off, connections are
//! bounded, shutdown does not wait on them forever, oversized heads
//! and bodies get GoTrue's error format (and `Connection: close` where the body is left
//! unread), and metrics stay off the API port.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::helpers::*;

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// A client that pipelines requests for a large response (the OpenAPI document, ~100 KB)
/// and never reads them, with a small receive buffer: the server's writes soon make no
/// progress, as with a slow-read attack.
async fn connect_without_reading(app: &TestApp) -> TcpStream {
    let address: SocketAddr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut stream = socket.connect(address).await.expect("connect");
    let requests = "GET /openapi.json HTTP/1.1\r\nHost: saoma\r\n\r\n".repeat(300);
    stream.write_all(requests.as_bytes()).await.expect("write");
    stream
}

/// Everything the server sends until it closes the connection; an `Err` with what came if it
/// is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Result<String, String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received).into_owned();
    read.map(|()| text.clone()).map_err(|_| text)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(|c| c.server.header_read_timeout = 1).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: saoma\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    let closed = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed.is_ok(), "still open after 10 s: {closed:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_gets_408_and_is_disconnected() {
    let app = spawn_app_with(|c| c.server.body_read_timeout = 1).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /signup HTTP/1.1\r\nHost: saoma\r\nContent-Type: application/json\r\n\
              X-Supabase-Api-Version: 2024-01-01\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .unwrap_or_else(|sent| panic!("still open after 10 s, having sent {sent:?}"));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let app = spawn_app_with(|c| c.server.max_connections = 1).await;
    // One idle connection holds the only slot (its header timeout is the default 10 s).
    let holder = connect(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let waiting = tokio::spawn({
        let url = app.url("/health");
        async move { client.get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "served beyond max_connections");
    drop(holder);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the slot was free")
        .expect("join")
        .expect("request");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_does_not_read_its_responses_is_disconnected() {
    let app = spawn_app_with(|c| {
        c.server.write_timeout = 1;
        c.server.max_connections = 1;
    })
    .await;
    let mut stalled = connect_without_reading(&app).await;
    let started = Instant::now();
    // The only slot is the stalled client's until the write timeout closes its connection.
    let reply = tokio::time::timeout(Duration::from_secs(8), app.get("/health", None))
        .await
        .expect("a new client is served once the stalled one is disconnected");
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(800));
    let closed = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(closed.is_ok(), "the stalled connection is still open");
}

#[tokio::test]
async fn shutdown_stops_waiting_for_a_client_that_does_not_read() {
    // The write timeout (30 s by default) is not what ends this connection.
    let app = spawn_app_with(|c| c.server.shutdown_grace = 1).await;
    let mut stalled = connect_without_reading(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), app.stop())
        .await
        .expect("run_until returns within the shutdown grace");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The connection given up on is closed, not left running.
    let closed = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(closed.is_ok(), "the stalled connection is still open");
}

#[tokio::test]
async fn a_body_over_the_limit_closes_the_connection_and_says_so() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    // The declared length alone is refused: nothing of the body is sent, so nothing unread
    // is left to turn the server's close into a reset.
    stream
        .write_all(
            b"POST /signup HTTP/1.1\r\nHost: saoma\r\nContent-Type: application/json\r\n\
              Content-Length: 2000000\r\n\r\n",
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .unwrap_or_else(|sent| panic!("still open after 10 s, having sent {sent:?}"));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("request_entity_too_large"), "{answer}");

    // A keep-alive client's next request works (on a new connection).
    let big = json!({"email": "a@example.com", "password": "x".repeat(2 * 1024 * 1024)});
    for _ in 0..3 {
        let reply = app.post("/signup", big.clone()).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.headers["connection"], "close");
        assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn oversized_heads_get_gotrue_errors() {
    let app = spawn_app().await;
    let long_uri = app.url(&format!("/health?pad={}", "a".repeat(20 * 1024)));
    let reply = into_reply(
        app.client
            .get(long_uri)
            .header("x-supabase-api-version", "2024-01-01")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::URI_TOO_LONG, "request_uri_too_long"),
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["connection"], "close");

    // Cookies of @supabase/ssr can grow large: 70 KiB is over the default 64 KiB.
    let reply = into_reply(
        app.client
            .get(app.url("/health"))
            .header("x-supabase-api-version", "2024-01-01")
            .header("cookie", format!("sb-auth-token={}", "c".repeat(70 * 1024)))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large"
        ),
        "{}",
        reply.body
    );

    // More header fields than saoma takes (hyper's own limit, above it, answers without a
    // body); legacy shape without the version header.
    let mut request = app.client.get(app.url("/health"));
    for i in 0..150 {
        request = request.header(format!("x-pad-{i}"), "1");
    }
    let reply = into_reply(request.send().await.expect("send")).await;
    assert_eq!(
        reply.body,
        json!({
            "code": 431,
            "error_code": "request_header_fields_too_large",
            "msg": "Request header fields too large (max 100 fields, 65536 bytes)"
        })
    );

    // Within the limits, the same requests are served.
    let reply = app
        .client
        .get(app.url(&format!("/health?pad={}", "a".repeat(8 * 1024))))
        .header("cookie", format!("sb-auth-token={}", "c".repeat(32 * 1024)))
        .send()
        .await
        .expect("send");
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = spawn_app().await;
    for path in ["/metrics", "/auth/v1/metrics"] {
        let reply = app.get(path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let metrics = app.metrics_address.as_deref().expect("metrics listener");
    assert!(metrics.starts_with("http://127.0.0.1:"), "{metrics}");
    let scraped = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped
        .text()
        .await
        .expect("text")
        .contains("saoma_http_requests_total"));
    // The API is not on the metrics port.
    let api_there = app
        .client
        .get(format!("{metrics}/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(api_there.status(), StatusCode::NOT_FOUND);

    let without = spawn_app_with(|c| c.metrics.enabled = false).await;
    assert_eq!(without.metrics_address, None);
}
