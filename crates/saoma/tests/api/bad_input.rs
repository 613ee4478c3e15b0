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

/// 400 `validation_failed` for text no database stores, and nothing stored.
fn assert_unstorable(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{what}: {}",
        reply.body
    );
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NUL characters or unpaired UTF-16 surrogates"),
        "{what}: {}",
        reply.body
    );
}

#[tokio::test]
async fn nul_and_lone_surrogates_in_json_bodies_are_refused() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let token = access_token(&session);
    let nul_email = format!(r#""{}""#, email.replace('@', "\\u0000@"));
    let cases: [(Method, &str, String); 9] = [
        (
            Method::POST,
            "/signup",
            format!(r#"{{"email":{nul_email},"password":"{PASSWORD}"}}"#),
        ),
        (
            Method::POST,
            "/signup",
            format!(r#"{{"email":"x\ud800@example.com","password":"{PASSWORD}"}}"#),
        ),
        (
            Method::POST,
            "/signup",
            format!(
                r#"{{"email":"{}","password":"{PASSWORD}","data":{{"name":"a\u0000b"}}}}"#,
                unique_email()
            ),
        ),
        (
            Method::POST,
            "/signup",
            format!(
                r#"{{"email":"{}","password":"{PASSWORD}","data":{{"k\udc00":1}}}}"#,
                unique_email()
            ),
        ),
        (
            Method::POST,
            "/token?grant_type=password",
            format!(r#"{{"email":{nul_email},"password":"{PASSWORD}"}}"#),
        ),
        (
            Method::POST,
            "/token?grant_type=password",
            format!(r#"{{"email":"{email}","password":"a\u0000"}}"#),
        ),
        (
            Method::POST,
            "/token?grant_type=pkce",
            r#"{"auth_code":"\u0000","code_verifier":"v"}"#.to_owned(),
        ),
        (
            Method::PUT,
            "/user",
            r#"{"data":{"bio":"\u0000"}}"#.to_owned(),
        ),
        (
            Method::PUT,
            "/user",
            r#"{"email":"x\ud83d@example.com"}"#.to_owned(),
        ),
    ];
    for (method, path, body) in cases {
        let reply = into_reply(
            app.client
                .request(method, app.url(path))
                .header("x-supabase-api-version", "2024-01-01")
                .header("content-type", "application/json")
                .bearer_auth(token)
                .body(body.clone())
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_unstorable(&reply, &format!("{path} {body}"));
    }
    // Nothing was stored, and the user is as before.
    let user = app.get("/user", Some(token)).await;
    assert_eq!(user.body["email"], email.as_str());
    assert_eq!(user.body["user_metadata"]["bio"], json!(null));
    // An escaped backslash before "u0000" is ordinary text.
    let reply = app
        .request(
            Method::PUT,
            "/user",
            Some(token),
            Some(json!({"data": {"bio": "\\u0000"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["user_metadata"]["bio"], "\\u0000");
}

#[tokio::test]
async fn nul_in_queries_and_forms_is_refused() {
    let app = spawn_app().await;
    let reply = app
        .get(
            "/authorize?provider=wechat_qr&redirect_to=http%3A%2F%2Flocalhost%3A3000%2F%00",
            None,
        )
        .await;
    assert_unstorable(&reply, "/authorize redirect_to");
    let reply = into_reply(
        app.client
            .post(app.url("/callback"))
            .header("x-supabase-api-version", "2024-01-01")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("code=abc&state=%00")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_unstorable(&reply, "/callback form");
}

#[tokio::test]
async fn json_bodies_must_be_objects() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let token = access_token(&session);
    // serde fills a struct from a sequence: `[null,null]` was a successful no-op update.
    for body in ["[null,null]", "[]", "null", "\"x\"", "1", " [ ] "] {
        for (method, path) in [(Method::PUT, "/user"), (Method::POST, "/signup")] {
            let reply = into_reply(
                app.client
                    .request(method, app.url(path))
                    .header("x-supabase-api-version", "2024-01-01")
                    .header("content-type", "application/json")
                    .bearer_auth(token)
                    .body(body)
                    .send()
                    .await
                    .expect("send"),
            )
            .await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::BAD_REQUEST, "validation_failed"),
                "{path} {body}: {}",
                reply.body
            );
            assert_eq!(reply.body["message"], "Request body must be a JSON object");
        }
    }
}

#[tokio::test]
async fn form_callbacks_with_another_content_type_get_gotrue_errors() {
    let app = spawn_app().await;
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let mut request = app
            .client
            .post(app.url("/callback"))
            .header("x-supabase-api-version", "2024-01-01")
            .body(r#"{"code":"abc","state":"x"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = into_reply(request.send().await.expect("send")).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "validation_failed"),
            "{content_type:?}: {}",
            reply.body
        );
        assert_eq!(reply.headers["x-sb-error-code"], "validation_failed");
    }
}

#[tokio::test]
async fn emails_are_validated_as_gotrue_does() {
    let app = spawn_app().await;
    let key = crate::admin::admin_key("service_role");
    let session = app.sign_up(&unique_email()).await;
    let token = access_token(&session);
    let id = session["user"]["id"].as_str().expect("id").to_owned();
    let admin_path = format!("/admin/users/{id}");
    for bad in ["xx:;x@x.x", "a(b)@x.x", "a,b@x.x", "a\"b@x.x"] {
        let attempts = [
            (
                "signup",
                app.post("/signup", json!({"email": bad, "password": PASSWORD}))
                    .await,
            ),
            (
                "admin create",
                app.request(
                    Method::POST,
                    "/admin/users",
                    Some(&key),
                    Some(json!({"email": bad, "password": PASSWORD})),
                )
                .await,
            ),
            (
                "admin update",
                app.request(
                    Method::PUT,
                    &admin_path,
                    Some(&key),
                    Some(json!({"email": bad})),
                )
                .await,
            ),
            (
                "PUT /user",
                app.request(
                    Method::PUT,
                    "/user",
                    Some(token),
                    Some(json!({"email": bad})),
                )
                .await,
            ),
        ];
        for (what, reply) in attempts {
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::BAD_REQUEST, "validation_failed"),
                "{what} {bad}: {}",
                reply.body
            );
            assert_eq!(
                reply.body["message"], "Unable to validate email address: invalid format",
                "{what} {bad}"
            );
        }
    }
}
