//! Writes that race each other, and writes that fail halfway: what was acknowledged holds,
//! and what failed leaves nothing behind.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{admin::admin_key, helpers::*};

fn user_id(session: &Value) -> String {
    session["user"]["id"].as_str().expect("user id").to_owned()
}

/// `PUT /user` with `body` as the holder of `token`.
async fn put_user(app: &TestApp, token: &str, body: Value) -> Reply {
    app.request(Method::PUT, "/auth/v1/user", Some(token), Some(body))
        .await
}

/// Eight `PUT /user {data: {k<i>: i}}` in flight at once, as the holder of `token`.
fn concurrent_metadata_updates(
    app: &TestApp,
    token: &str,
) -> Vec<tokio::task::JoinHandle<StatusCode>> {
    (0..8)
        .map(|i| {
            let request = app
                .client
                .put(app.url("/auth/v1/user"))
                .bearer_auth(token)
                .json(&json!({"data": {format!("k{i}"): i}}));
            tokio::spawn(async move { request.send().await.expect("send").status() })
        })
        .collect()
}

#[tokio::test]
async fn an_admin_ban_holds_against_concurrent_profile_updates() {
    let app = spawn_app().await;
    let key = admin_key("service_role");
    for round in 0..5 {
        let session = app.sign_up(&unique_email()).await;
        let (id, token) = (user_id(&session), access_token(&session).to_owned());
        // The user's own updates start first, so each reads the row before the ban...
        let updates = concurrent_metadata_updates(&app, &token);
        // ...and the ban lands among them.
        let ban = app
            .request(
                Method::PUT,
                &format!("/auth/v1/admin/users/{id}"),
                Some(&key),
                Some(json!({"ban_duration": "24h"})),
            )
            .await;
        assert_eq!(ban.status, StatusCode::OK, "{}", ban.body);
        for update in updates {
            let status = update.await.expect("join");
            // Each update either ran before the ban or was refused after it.
            assert!(
                status == StatusCode::OK || status == StatusCode::FORBIDDEN,
                "{status}"
            );
        }
        let stored = app
            .get(&format!("/auth/v1/admin/users/{id}"), Some(&key))
            .await;
        assert!(
            stored.body["banned_until"].is_string(),
            "round {round}: the acknowledged ban was undone: {}",
            stored.body
        );
        let me = app.get("/auth/v1/user", Some(&token)).await;
        assert_eq!(me.status, StatusCode::FORBIDDEN, "round {round}");
        assert_eq!(me.code(), "user_banned");
    }
}

#[tokio::test]
async fn a_new_password_holds_against_concurrent_metadata_updates() {
    let app = spawn_app().await;
    for round in 0..5 {
        let email = unique_email();
        let session = app.sign_up(&email).await;
        let token = access_token(&session).to_owned();
        let new_password = format!("a new password, round {round}");
        let updates = concurrent_metadata_updates(&app, &token);
        let changed = put_user(&app, &token, json!({"password": new_password})).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        for update in updates {
            assert_eq!(update.await.expect("join"), StatusCode::OK);
        }
        assert_eq!(
            app.sign_in(&email, &new_password).await.status,
            StatusCode::OK,
            "round {round}: the acknowledged password change was undone"
        );
        assert_eq!(
            app.sign_in(&email, PASSWORD).await.status,
            StatusCode::BAD_REQUEST,
            "round {round}: the old password still works"
        );
        // And no metadata update was lost either.
        let me = app.get("/auth/v1/user", Some(&token)).await;
        for i in 0..8 {
            assert_eq!(me.body["user_metadata"][format!("k{i}")], json!(i));
        }
    }
}

/// Makes every insert into the sessions table fail, as a database that breaks after the
/// user row was written would.
async fn break_session_inserts(app: &TestApp) {
    let url = app.db.as_ref().expect("db").url.clone();
    match Backend::from_env() {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.expect("connect");
            sqlx::raw_sql(
                "CREATE FUNCTION auth.refuse_session() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'sessions are broken'; END $$; \
                 CREATE TRIGGER refuse_session BEFORE INSERT ON auth.sessions \
                 FOR EACH ROW EXECUTE FUNCTION auth.refuse_session();",
            )
            .execute(&pool)
            .await
            .expect("trigger");
            pool.close().await;
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{url}"))
                .await
                .expect("connect");
            sqlx::raw_sql(
                "CREATE TRIGGER refuse_session BEFORE INSERT ON sessions \
                 BEGIN SELECT RAISE(ABORT, 'sessions are broken'); END;",
            )
            .execute(&pool)
            .await
            .expect("trigger");
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn a_failed_sign_up_leaves_no_user_behind() {
    let app = spawn_app_with(|config| config.rate_limit.enabled = false).await;
    break_session_inserts(&app).await;
    let email = unique_email();
    let failed = app
        .post(
            "/auth/v1/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert!(failed.status.is_server_error(), "{}", failed.body);
    let anonymous = app.post("/auth/v1/signup", json!({})).await;
    assert!(anonymous.status.is_server_error(), "{}", anonymous.body);

    let key = admin_key("service_role");
    let users = app.get("/auth/v1/admin/users", Some(&key)).await;
    assert_eq!(
        users.body["users"],
        json!([]),
        "the failed sign-ups left users behind"
    );
    let audit = app.get("/auth/v1/admin/audit", Some(&key)).await;
    assert_eq!(audit.body, json!([]), "nor audit entries of them");
}
