//! Bad input gets a clear 4xx in GoTrue's format: never a 500, never a panic.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    api_2024: bool,
) -> Reply {
    let mut request = app.client.post(app.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if api_2024 {
        request = request.header("x-supabase-api-version", "2024-01-01");
    }
    into_reply(request.send().await.expect("send")).await
}

#[tokio::test]
async fn malformed_json_is_bad_json() {
    let app = spawn_app().await;
    for body in ["{", "not json", "[1,2", ""] {
        for path in [
            "/signup",
            "/token?grant_type=password",
            "/token?grant_type=refresh_token",
        ] {
            let reply = raw_post(&app, path, Some("application/json"), body.into(), true).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{path} {body:?}: {}",
                reply.body
            );
            assert_eq!(reply.body["code"], "bad_json");
            assert!(reply.body["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Could not parse request body as JSON"));
            assert_eq!(reply.headers["x-sb-error-code"], "bad_json");
        }
    }
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let app = spawn_app().await;
    let body = br#"{"email":"a@example.com","password":"secret-password"}"#.to_vec();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = raw_post(&app, "/signup", content_type, body.clone(), true).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(reply.body["code"], "bad_json");
    }
    // supabase-js sends a charset parameter.
    let reply = raw_post(
        &app,
        "/signup",
        Some("application/json;charset=UTF-8"),
        body,
        true,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let app = spawn_app().await;
    let big = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let reply = raw_post(
        &app,
        "/signup",
        Some("application/json"),
        big.into_bytes(),
        true,
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["code"], "request_entity_too_large");
}

#[tokio::test]
async fn unknown_or_missing_grant_type() {
    let app = spawn_app().await;
    for path in ["/token?grant_type=magic", "/token", "/token?grant_type="] {
        let reply = app.post(path, json!({})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            reply.body,
            json!({"code": "invalid_credentials", "message": "unsupported_grant_type"})
        );
    }
}

#[tokio::test]
async fn missing_fields_and_wrong_types() {
    let app = spawn_app().await;
    let reply = app.post("/token?grant_type=refresh_token", json!({})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    let reply = app
        .post(
            "/token?grant_type=refresh_token",
            json!({"refresh_token": 12}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "bad_json")
    );
    let reply = app
        .post(
            "/token?grant_type=password",
            json!({"email": ["a"], "password": "x"}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "bad_json")
    );
}

#[tokio::test]
async fn legacy_shape_without_the_api_version_header() {
    let app = spawn_app().await;
    let reply = raw_post(
        &app,
        "/token?grant_type=password",
        Some("application/json"),
        br#"{"email":"nobody@example.com","password":"wrong-password"}"#.to_vec(),
        false,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        json!({"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
    );
    assert_eq!(reply.headers["x-sb-error-code"], "invalid_credentials");
    assert!(reply.headers.get("x-supabase-api-version").is_none());

    let reply = raw_post(
        &app,
        "/token?grant_type=password",
        Some("application/json"),
        br#"{"email":"nobody@example.com","password":"wrong-password"}"#.to_vec(),
        true,
    )
    .await;
    assert_eq!(reply.headers["x-supabase-api-version"], "2024-01-01");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    let reply = app.get("/auth/v1/nothing-here", None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let reply = app
        .request(Method::DELETE, "/auth/v1/signup", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.code(), "method_not_allowed");
}

#[tokio::test]
async fn bad_query_strings_are_validation_errors() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let reply = app
        .request(
            Method::POST,
            "/logout?scope=%ZZ",
            Some(access_token(&session)),
            None,
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
}
