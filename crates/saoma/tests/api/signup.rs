use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn autoconfirmed_signup_returns_a_session_with_metadata() {
    let app = spawn_app().await;
    let email = unique_email();
    let reply = app
        .post("/auth/v1/signup", json!({"email": email.to_uppercase(), "password": PASSWORD, "data": {"nickname": "小明"}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let session = &reply.body;
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    let user = &session["user"];
    assert_eq!(user["email"], email, "addresses are stored lowercased");
    assert_eq!(user["user_metadata"]["nickname"], "小明");
    assert_eq!(
        user["app_metadata"],
        json!({"provider": "email", "providers": ["email"]})
    );
    assert_eq!(user["identities"][0]["provider"], "email");
    assert_eq!(user["identities"][0]["id"], user["id"]);
    assert_eq!(user["is_anonymous"], false);
    assert!(user["email_confirmed_at"].is_string());
}

#[tokio::test]
async fn signup_without_autoconfirm_returns_the_user_and_blocks_sign_in() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    let reply = app
        .post("/signup", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.get("access_token").is_none(),
        "no session before confirmation"
    );
    assert_eq!(reply.body["email"], email);
    assert!(reply.body.get("email_confirmed_at").is_none());

    assert!(reply.body["confirmation_sent_at"].is_string());
    assert_eq!(
        mailer.last_to(&email).action,
        saoma::mail::EmailAction::Signup
    );

    let sign_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(sign_in.status, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in.code(), "email_not_confirmed");
}

#[tokio::test]
async fn repeated_signup_does_not_reveal_or_touch_the_account() {
    // With autoconfirm on GoTrue says so plainly (a session would be at stake).
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.sign_up(&email).await;
    let again = app
        .post(
            "/signup",
            json!({"email": email, "password": "another password"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.code(), "user_already_exists");
    // The original password still works: nothing was overwritten.
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        app.sign_in(&email, "another password").await.code(),
        "invalid_credentials"
    );
    drop(first);
}

#[tokio::test]
async fn repeated_signup_of_a_confirmed_user_gets_a_decoy_without_autoconfirm() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    let original = app
        .post("/signup", json!({"email": email, "password": PASSWORD}))
        .await;
    let link = mailer.last_to(&email);
    let confirmed = app
        .post(
            "/verify",
            json!({"type": "signup", "token_hash": link.token_hash}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);

    let again = app
        .post("/signup", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "looks like a normal sign-up");
    assert_ne!(
        again.body["id"], original.body["id"],
        "but is not the real account"
    );
    assert_eq!(again.body["identities"], json!([]));
}

#[tokio::test]
async fn anonymous_sign_in_and_its_switch() {
    let app = spawn_app().await;
    let reply = app
        .post("/auth/v1/signup", json!({"data": {"theme": "dark"}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["user"]["is_anonymous"], true);
    assert_eq!(reply.body["user"]["email"], "");
    assert_eq!(reply.body["user"]["user_metadata"]["theme"], "dark");
    let me = app.get("/user", Some(access_token(&reply.body))).await;
    assert_eq!(me.body["id"], reply.body["user"]["id"]);

    let off = spawn_app_with(|c| c.external.anonymous_users.enabled = false).await;
    let refused = off.post("/signup", json!({})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "anonymous_provider_disabled");
}

#[tokio::test]
async fn signup_validation_errors() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"email": unique_email(), "password": ""}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"email": unique_email(), "password": "12345"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
        ),
        (
            json!({"email": unique_email(), "phone": "+8613800000000", "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            // bcrypt would cut it: refused, with the reason (limits.rs has the details).
            json!({"email": unique_email(), "password": "x".repeat(73)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
        ),
        (
            json!({"email": 42, "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.post("/signup", body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body} → {}",
            reply.body
        );
    }
    let weak = app
        .post(
            "/signup",
            json!({"email": unique_email(), "password": "123"}),
        )
        .await;
    assert_eq!(weak.body["weak_password"]["reasons"], json!(["length"]));

    let closed = spawn_app_with(|c| c.disable_signup = true).await;
    let reply = closed
        .post(
            "/signup",
            json!({"email": unique_email(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "signup_disabled")
    );
}

#[tokio::test]
async fn email_sign_ups_disabled_is_gotrues_422() {
    let app = spawn_app_with(|config| config.external.email.enabled = false).await;
    let reply = app
        .post(
            "/auth/v1/signup",
            serde_json::json!({"email": unique_email(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "email_provider_disabled");
}
