use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn refresh_rotates_tokens() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    app.clock.advance(Duration::seconds(5));
    let next = app.refresh(refresh_token(&session)).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_ne!(refresh_token(&next.body), refresh_token(&session));
    assert_ne!(access_token(&next.body), access_token(&session));
    assert_eq!(next.body["user"]["id"], session["user"]["id"]);
    assert!(next.body.get("provider_token").is_none());
    // The new access token works.
    assert_eq!(
        app.get("/user", Some(access_token(&next.body)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn parent_of_the_active_token_gets_the_active_token_back() {
    // A client that lost the answer to its refresh retries with the old token.
    let app = spawn_app().await;
    let first = app.sign_up(&unique_email()).await;
    let second = app.refresh(refresh_token(&first)).await.body;
    app.clock.advance(Duration::minutes(30));
    let retried = app.refresh(refresh_token(&first)).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(refresh_token(&retried.body), refresh_token(&second));
}

/// Signs up and refreshes twice: t1 is then two rotations old, t3 the active token.
async fn two_rotations(app: &TestApp) -> [serde_json::Value; 3] {
    let t1 = app.sign_up(&unique_email()).await;
    let t2 = app.refresh(refresh_token(&t1)).await.body;
    let t3 = app.refresh(refresh_token(&t2)).await.body;
    [t1, t2, t3]
}

#[tokio::test]
async fn reuse_inside_the_interval_issues_a_child() {
    // Concurrent tabs race with an old token: inside the 10 s window that is tolerated.
    let app = spawn_app().await;
    let [t1, _, t3] = two_rotations(&app).await;
    app.clock.advance(Duration::seconds(9));
    let sibling = app.refresh(refresh_token(&t1)).await;
    assert_eq!(sibling.status, StatusCode::OK, "{}", sibling.body);
    assert_ne!(refresh_token(&sibling.body), refresh_token(&t3));
    assert_eq!(
        app.get("/user", Some(access_token(&t3))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reuse_after_the_interval_ends_the_session() {
    // After the window an old token is taken for a stolen one: refused, and the session ends.
    let app = spawn_app().await;
    let [t1, _, t3] = two_rotations(&app).await;
    app.clock.advance(Duration::seconds(11));
    let reused = app.refresh(refresh_token(&t1)).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.code(), "refresh_token_already_used");

    let me = app.get("/user", Some(access_token(&t3))).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::FORBIDDEN, "session_not_found")
    );
    let latest = app.refresh(refresh_token(&t3)).await;
    assert_eq!(
        (latest.status, latest.code()),
        (StatusCode::BAD_REQUEST, "refresh_token_not_found")
    );
}

#[tokio::test]
async fn configured_reuse_interval_is_honoured() {
    let app = spawn_app_with(|c| c.security.refresh_token_reuse_interval = 0).await;
    let t1 = app.sign_up(&unique_email()).await;
    let t2 = app.refresh(refresh_token(&t1)).await.body;
    app.refresh(refresh_token(&t2)).await;
    app.clock.advance(Duration::seconds(1));
    assert_eq!(
        app.refresh(refresh_token(&t1)).await.code(),
        "refresh_token_already_used"
    );
}

#[tokio::test]
async fn unknown_and_empty_refresh_tokens() {
    let app = spawn_app().await;
    let unknown = app.refresh("not-a-token-we-issued").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::BAD_REQUEST, "refresh_token_not_found")
    );
    let empty = app.refresh("").await;
    assert_eq!(
        (empty.status, empty.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_succeed_with_one_chain() {
    // SSR apps refresh from several requests at once (auth#2136): none may fail.
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let token = refresh_token(&session).to_owned();
    let replies = futures_join(&app, &token, 8).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

async fn futures_join(app: &TestApp, token: &str, n: usize) -> Vec<Reply> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let client = app.client.clone();
        let url = app.url("/token?grant_type=refresh_token");
        let body = serde_json::json!({"refresh_token": token});
        handles.push(tokio::spawn(async move {
            into_reply(client.post(url).json(&body).send().await.expect("send")).await
        }));
    }
    let mut replies = Vec::new();
    for handle in handles {
        replies.push(handle.await.expect("join"));
    }
    replies
}

#[tokio::test]
async fn stored_refresh_tokens_are_hashes() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let plaintext = refresh_token(&session).to_owned();
    let db_url = app.config.database_url.clone();
    let stored: Vec<String> = if db_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db_url).await.expect("pg");
        sqlx::query_scalar("SELECT token FROM auth.refresh_tokens")
            .fetch_all(&pool)
            .await
            .expect("select")
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db_url}"))
            .await
            .expect("sqlite");
        sqlx::query_scalar("SELECT token FROM refresh_tokens")
            .fetch_all(&pool)
            .await
            .expect("select")
    };
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], plaintext);
    assert_eq!(stored[0], saoma::domain::refresh::hash_token(&plaintext));
}
