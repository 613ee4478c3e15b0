use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn get_and_update_user() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let token = access_token(&session);

    let me = app.get("/auth/v1/user", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], email);
    assert_eq!(me.body["phone"], "");

    let updated = app
        .request(
            Method::PUT,
            "/auth/v1/user",
            Some(token),
            Some(json!({"data": {"nickname": "阿强", "email_verified": null}})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["user_metadata"], json!({"nickname": "阿强"}));
    let again = app.get("/user", Some(token)).await;
    assert_eq!(again.body["user_metadata"]["nickname"], "阿强");
}

#[tokio::test]
async fn password_change_signs_out_other_devices() {
    let app = spawn_app().await;
    let email = unique_email();
    let phone = app.sign_up(&email).await;
    let laptop = app.sign_in(&email, PASSWORD).await.body;

    let changed = app
        .request(
            Method::PUT,
            "/user",
            Some(access_token(&laptop)),
            Some(json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        app.get("/user", Some(access_token(&laptop))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/user", Some(access_token(&phone))).await.code(),
        "session_not_found"
    );
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.code(),
        "invalid_credentials"
    );
    assert_eq!(
        app.sign_in(&email, "a brand new password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn update_user_refusals() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let token = access_token(&session);
    let cases = [
        (
            json!({"password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_password",
        ),
        (
            json!({"password": "123"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
        ),
        (
            json!({"app_metadata": {"role": "admin"}}),
            StatusCode::FORBIDDEN,
            "not_admin",
        ),
        (
            json!({"data": "not an object"}),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app
            .request(Method::PUT, "/user", Some(token), Some(body.clone()))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body} → {}",
            reply.body
        );
    }
    let anonymous = app.post("/signup", json!({})).await.body;
    let reply = app
        .request(
            Method::PUT,
            "/user",
            Some(access_token(&anonymous)),
            Some(json!({"password": "some password"})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
}

#[tokio::test]
async fn anonymous_user_becomes_permanent_by_adding_an_email() {
    let app = spawn_app().await;
    let anonymous = app.post("/signup", json!({})).await.body;
    let email = unique_email();
    let reply = app
        .request(
            Method::PUT,
            "/user",
            Some(access_token(&anonymous)),
            Some(json!({"email": email})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["is_anonymous"], false);
    assert_eq!(reply.body["email"], email);
    assert_eq!(reply.body["id"], anonymous["user"]["id"]);
}
