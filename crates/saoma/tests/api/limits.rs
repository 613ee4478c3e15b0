//! Rate limits as GoTrue applies them (only behind a proxy that names the client), the client
//! address taken from what the proxy appended, and passwords bcrypt would cut.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::wechat_helpers::spawn_wechat;

const HEADER: &str = "X-Forwarded-For";

fn admin_key() -> String {
    let keys = saoma::jwt::JwtKeys::new(SECRET, None).expect("keys");
    saoma::keys::api_key(&keys, "service_role", chrono::Utc::now()).expect("key")
}

/// `POST {path}` as a client behind one proxy: `forwarded` is the whole `X-Forwarded-For`.
async fn post_via_proxy(app: &TestApp, path: &str, forwarded: &str, body: Value) -> Reply {
    let request = app
        .client
        .post(app.url(path))
        .header("x-supabase-api-version", "2024-01-01")
        .header(HEADER, forwarded)
        .json(&body);
    into_reply(request.send().await.expect("send")).await
}

#[tokio::test]
async fn forged_forwarded_for_values_do_not_escape_the_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit.header = Some(HEADER.into());
        c.rate_limit.burst = 5.0;
    })
    .await;
    let guess = json!({"email": "victim@example.com", "password": "guess"});
    let mut codes = Vec::new();
    for i in 0..100 {
        // The attacker makes up a new first value each time; the proxy appends the real one.
        let forwarded = format!("10.0.{}.{}, 203.0.113.7", i / 250, i % 250);
        let reply = post_via_proxy(
            &app,
            "/auth/v1/token?grant_type=password",
            &forwarded,
            guess.clone(),
        )
        .await;
        codes.push(reply.code().to_owned());
    }
    let count = |code: &str| codes.iter().filter(|c| *c == code).count();
    assert_eq!(count("invalid_credentials"), 5, "{codes:?}");
    assert_eq!(count("over_request_rate_limit"), 95, "{codes:?}");
    // Another client, behind the same proxy, has its own bucket.
    let other = post_via_proxy(
        &app,
        "/auth/v1/token?grant_type=password",
        "203.0.113.7, 198.51.100.9",
        guess,
    )
    .await;
    assert_eq!(other.code(), "invalid_credentials");
}

#[tokio::test]
async fn sessions_and_the_audit_log_record_the_address_the_proxy_appended() {
    let app = spawn_app_with(|c| c.rate_limit.header = Some(HEADER.into())).await;
    let email = unique_email();
    let signed_up = post_via_proxy(
        &app,
        "/auth/v1/signup",
        "6.6.6.6, 203.0.113.9",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.body);
    let audit = app
        .get("/auth/v1/admin/audit?per_page=10", Some(&admin_key()))
        .await;
    let addresses: Vec<&str> = audit
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["ip_address"].as_str())
        .collect();
    assert!(!addresses.is_empty(), "{}", audit.body);
    assert!(
        addresses.iter().all(|a| *a == "203.0.113.9"),
        "{addresses:?}"
    );
}

#[tokio::test]
async fn without_a_header_there_are_no_limits() {
    // GoTrue's behaviour: clients' test suites sign up many users from one address.
    let app = spawn_app_with(|c| {
        c.rate_limit.otp = 2.0;
        c.rate_limit.anonymous_users = 2.0;
        c.rate_limit.token_refresh = 2.0;
    })
    .await;
    for _ in 0..6 {
        let email = unique_email();
        let reply = app
            .post("/signup", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    }
    for _ in 0..4 {
        assert_eq!(app.post("/signup", json!({})).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn authorize_is_limited() {
    let world = spawn_wechat("wx_sim_website", None, |c| {
        c.rate_limit.header = Some(HEADER.into());
        c.rate_limit.burst = 3.0;
    })
    .await;
    let app = &world.app;
    let authorize = |forwarded: &'static str| {
        let request = app
            .client
            .get(app.url(&format!(
                "/auth/v1/authorize?{}",
                world.pkce_query("http://localhost:3000/cb")
            )))
            .header(HEADER, forwarded);
        async move { into_reply(request.send().await.expect("send")).await }
    };
    for _ in 0..3 {
        assert_eq!(authorize("203.0.113.7").await.status, StatusCode::FOUND);
    }
    let limited = authorize("203.0.113.7").await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    assert_eq!(authorize("198.51.100.9").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn disabled_sign_ups_are_answered_before_the_rate_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit.header = Some(HEADER.into());
        c.rate_limit.otp = 1.0;
        c.rate_limit.anonymous_users = 1.0;
        c.disable_signup = true;
        c.external.anonymous_users.enabled = false;
    })
    .await;
    // No X-Forwarded-For: the peer address is the client, limited all the same.
    for _ in 0..3 {
        let anonymous = app.post("/signup", json!({})).await;
        assert_eq!(
            (anonymous.status, anonymous.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "anonymous_provider_disabled"
            )
        );
        let email = app
            .post(
                "/signup",
                json!({"email": unique_email(), "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (email.status, email.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "signup_disabled")
        );
    }
}

/// 73 bytes: one more than bcrypt reads.
fn too_long() -> String {
    "p".repeat(73)
}

fn assert_refused_as_too_long(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["weak_password"]["reasons"], json!(["length"]));
    let message = reply.body["msg"]
        .as_str()
        .or_else(|| reply.body["message"].as_str())
        .unwrap_or_default();
    assert!(message.contains("72 bytes"), "{}", reply.body);
}

#[tokio::test]
async fn passwords_longer_than_bcrypt_reads_are_refused_when_set() {
    let app = spawn_app().await;
    let signup = app
        .post(
            "/signup",
            json!({"email": unique_email(), "password": too_long()}),
        )
        .await;
    assert_refused_as_too_long(&signup);

    let session = app.sign_up(&unique_email()).await;
    let update = app
        .request(
            Method::PUT,
            "/user",
            Some(access_token(&session)),
            Some(json!({"password": too_long()})),
        )
        .await;
    assert_refused_as_too_long(&update);

    let created = app
        .request(
            Method::POST,
            "/admin/users",
            Some(&admin_key()),
            Some(json!({"email": unique_email(), "password": too_long()})),
        )
        .await;
    assert_refused_as_too_long(&created);
}

#[tokio::test]
async fn a_long_password_never_signs_in_as_its_72_byte_prefix() {
    let app = spawn_app().await;
    let email = unique_email();
    let prefix = "x".repeat(72);
    let signed_up = app
        .post("/signup", json!({"email": email, "password": prefix}))
        .await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.body);
    let longer = format!("{prefix}-and-then-some");
    let refused = app.sign_in(&email, &longer).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "invalid_credentials")
    );
    assert_eq!(app.sign_in(&email, &prefix).await.status, StatusCode::OK);
}
