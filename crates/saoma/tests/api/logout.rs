use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn three_sessions(app: &TestApp) -> [serde_json::Value; 3] {
    let email = unique_email();
    let a = app.sign_up(&email).await;
    let b = app.sign_in(&email, PASSWORD).await.body;
    let c = app.sign_in(&email, PASSWORD).await.body;
    [a, b, c]
}

async fn logout(app: &TestApp, session: &serde_json::Value, scope: &str) -> Reply {
    app.request(
        Method::POST,
        &format!("/auth/v1/logout?scope={scope}"),
        Some(access_token(session)),
        None,
    )
    .await
}

async fn alive(app: &TestApp, session: &serde_json::Value) -> bool {
    app.get("/user", Some(access_token(session))).await.status == StatusCode::OK
}

#[tokio::test]
async fn local_ends_only_this_session() {
    let app = spawn_app().await;
    let [a, b, c] = three_sessions(&app).await;
    let reply = logout(&app, &a, "local").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, serde_json::Value::Null);
    assert!(!alive(&app, &a).await);
    assert!(alive(&app, &b).await && alive(&app, &c).await);
    assert_eq!(
        app.refresh(refresh_token(&a)).await.code(),
        "refresh_token_not_found"
    );
}

#[tokio::test]
async fn others_keeps_only_this_session() {
    let app = spawn_app().await;
    let [a, b, c] = three_sessions(&app).await;
    assert_eq!(
        logout(&app, &a, "others").await.status,
        StatusCode::NO_CONTENT
    );
    assert!(alive(&app, &a).await);
    assert!(!alive(&app, &b).await && !alive(&app, &c).await);
}

#[tokio::test]
async fn global_is_the_default_and_ends_everything() {
    let app = spawn_app().await;
    let [a, b, c] = three_sessions(&app).await;
    let reply = app
        .request(Method::POST, "/logout", Some(access_token(&b)), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    for session in [&a, &b, &c] {
        assert!(!alive(&app, session).await);
    }
}

#[tokio::test]
async fn bad_scope_and_missing_token() {
    let app = spawn_app().await;
    let [a, ..] = three_sessions(&app).await;
    let reply = logout(&app, &a, "everywhere").await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    assert!(alive(&app, &a).await, "a refused logout ends nothing");
    let reply = app.request(Method::POST, "/logout", None, None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "no_authorization")
    );
}
