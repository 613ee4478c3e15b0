//! Rate limits and metrics, in-process.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn token_requests_are_limited_per_client_ip() {
    let app = spawn_app_with(|c| {
        c.rate_limit.burst = 3.0;
        c.rate_limit.header = Some("X-Forwarded-For".into());
    })
    .await;
    let attempt = |ip: &'static str| {
        let request = app
            .client
            .post(app.url("/auth/v1/token?grant_type=password"))
            .header("x-supabase-api-version", "2024-01-01")
            // The client's own first value is ignored; the proxy appended the last one.
            .header("x-forwarded-for", format!("10.0.0.1, {ip}"))
            .json(&json!({"email": "nobody@example.com", "password": "whatever"}));
        async move { into_reply(request.send().await.expect("send")).await }
    };
    for _ in 0..3 {
        assert_eq!(attempt("203.0.113.7").await.code(), "invalid_credentials");
    }
    let limited = attempt("203.0.113.7").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body,
        json!({"code": "over_request_rate_limit", "message": "Request rate limit reached"})
    );
    // Another client is not affected.
    assert_eq!(attempt("198.51.100.9").await.code(), "invalid_credentials");
    // The bucket refills: 150 per 5 minutes is one every 2 seconds.
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(attempt("203.0.113.7").await.code(), "invalid_credentials");
    assert_eq!(
        attempt("203.0.113.7").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn anonymous_sign_ins_have_their_own_hourly_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit.anonymous_users = 2.0;
        c.rate_limit.header = Some("X-Forwarded-For".into());
    })
    .await;
    for _ in 0..2 {
        assert_eq!(app.post("/signup", json!({})).await.status, StatusCode::OK);
    }
    let limited = app.post("/signup", json!({})).await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    // Email sign-ups are another bucket.
    assert_eq!(
        app.post(
            "/signup",
            json!({"email": unique_email(), "password": PASSWORD})
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_are_scraped_in_prometheus_format() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email).await;
    app.sign_in(&email, "wrong password").await;
    let metrics = app.metrics_address.as_deref().expect("metrics listener");
    let response = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/plain"));
    let text = response.text().await.expect("text");
    for line in [
        "saoma_http_requests_total{route=\"/auth/v1/signup\",method=\"POST\",status=\"200\"} 1",
        "saoma_http_requests_total{route=\"/auth/v1/token\",method=\"POST\",status=\"400\"} 1",
        "saoma_logins_total{provider=\"email\"} 1",
        "saoma_refresh_token_reuse_detected_total 0",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains(
        "saoma_http_request_duration_seconds_bucket{route=\"/auth/v1/signup\",le=\"+Inf\"} 1"
    ));
    assert!(text.contains("# TYPE saoma_db_pool_connections gauge"));
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
}

#[tokio::test]
async fn requests_carry_a_request_id() {
    let app = spawn_app().await;
    let reply = app.get("/health", None).await;
    let id = reply.headers["x-request-id"].to_str().expect("id");
    let next = app.get("/health", None).await;
    let next_id = next.headers["x-request-id"].to_str().expect("id");
    assert!(id.len() > 12, "{id}");
    assert_ne!(id, next_id, "one id per request");
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("send");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
}
