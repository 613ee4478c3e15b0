use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let anonymous = app.post("/signup", serde_json::json!({})).await.body;
    let db = app.stop().await;

    let app = spawn_app_on(db, |_| {}).await;
    assert_eq!(
        app.get("/user", Some(access_token(&session))).await.status,
        StatusCode::OK
    );
    let refreshed = app.refresh(refresh_token(&session)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    let me = app.get("/user", Some(access_token(&anonymous))).await;
    assert_eq!(me.body["is_anonymous"], true);
}
