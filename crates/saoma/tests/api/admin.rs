//! The admin API with service_role / supabase_admin keys, and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

pub fn admin_key(role: &str) -> String {
    let keys = saoma::jwt::JwtKeys::new(SECRET, None).expect("keys");
    saoma::keys::api_key(&keys, role, chrono::Utc::now()).expect("key")
}

#[tokio::test]
async fn only_admin_roles_get_in() {
    let app = spawn_app().await;
    let user = app.sign_up(&unique_email()).await;
    for token in [admin_key("anon"), access_token(&user).to_owned()] {
        let reply = app.get("/auth/v1/admin/users", Some(&token)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "not_admin")
        );
    }
    let reply = app.get("/admin/users", None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "no_authorization")
    );
    for role in ["service_role", "supabase_admin"] {
        assert_eq!(
            app.get("/admin/users", Some(&admin_key(role))).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn create_get_update_ban_and_delete_users() {
    let app = spawn_app().await;
    let key = admin_key("service_role");
    let email = unique_email();
    let created = app
        .request(
            Method::POST,
            "/auth/v1/admin/users",
            Some(&key),
            Some(json!({
                "email": email,
                "password": "admin-made-password",
                "email_confirm": true,
                "user_metadata": {"full_name": "王小二"},
                "app_metadata": {"plan": "pro"},
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["app_metadata"]["plan"], "pro");
    assert_eq!(created.body["app_metadata"]["provider"], "email");
    assert!(created.body["email_confirmed_at"].is_string());
    assert_eq!(
        app.sign_in(&email, "admin-made-password").await.status,
        StatusCode::OK
    );

    let duplicate = app
        .request(
            Method::POST,
            "/admin/users",
            Some(&key),
            Some(json!({"email": email})),
        )
        .await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_exists")
    );

    // A migrated user keeps their bcrypt hash.
    let migrated = unique_email();
    let reply = app
        .request(
            Method::POST,
            "/admin/users",
            Some(&key),
            Some(json!({"email": migrated, "email_confirm": true,
                "password_hash": "$2a$10$wPNyjB5L/Tunlj1yaNZjNuQD/EyzDdRfEc9v7D.6dmWj/hgwZ8SXG"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        app.sign_in(&migrated, "password123").await.status,
        StatusCode::OK
    );
    let bad_hash = app
        .request(
            Method::POST,
            "/admin/users",
            Some(&key),
            Some(json!({"email": unique_email(), "password_hash": "md5:abc"})),
        )
        .await;
    assert_eq!(
        (bad_hash.status, bad_hash.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );

    let fetched = app.get(&format!("/admin/users/{id}"), Some(&key)).await;
    assert_eq!(fetched.body["user_metadata"]["full_name"], "王小二");

    let banned = app
        .request(
            Method::PUT,
            &format!("/admin/users/{id}"),
            Some(&key),
            Some(json!({"ban_duration": "24h", "user_metadata": {"vip": true}})),
        )
        .await;
    assert_eq!(banned.status, StatusCode::OK, "{}", banned.body);
    assert!(banned.body["banned_until"].is_string());
    assert_eq!(
        banned.body["user_metadata"],
        json!({"full_name": "王小二", "vip": true})
    );
    assert_eq!(
        app.sign_in(&email, "admin-made-password").await.code(),
        "user_banned"
    );
    let bad = app
        .request(
            Method::PUT,
            &format!("/admin/users/{id}"),
            Some(&key),
            Some(json!({"ban_duration": "forever"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    app.request(
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(&key),
        Some(json!({"ban_duration": "none"})),
    )
    .await;
    assert_eq!(
        app.sign_in(&email, "admin-made-password").await.status,
        StatusCode::OK
    );

    // Soft delete frees the address and keeps the row; hard delete removes it.
    let soft = app
        .request(
            Method::DELETE,
            &format!("/admin/users/{id}"),
            Some(&key),
            Some(json!({"should_soft_delete": true})),
        )
        .await;
    assert_eq!(soft.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/admin/users/{id}"), Some(&key))
            .await
            .code(),
        "user_not_found"
    );
    assert_eq!(
        app.sign_in(&email, "admin-made-password").await.code(),
        "invalid_credentials"
    );
    let again = app
        .request(
            Method::POST,
            "/admin/users",
            Some(&key),
            Some(json!({"email": email})),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the address is free again: {}",
        again.body
    );
    let hard_id = again.body["id"].as_str().expect("id").to_owned();
    let hard = app
        .request(
            Method::DELETE,
            &format!("/admin/users/{hard_id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(hard.status, StatusCode::OK);
    let missing = app.get("/admin/users/not-a-uuid", Some(&key)).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "user_not_found")
    );
}

#[tokio::test]
async fn listing_is_paginated_like_gotrue() {
    let app = spawn_app().await;
    let key = admin_key("service_role");
    for _ in 0..5 {
        app.sign_up(&unique_email()).await;
    }
    let page = app
        .get("/auth/v1/admin/users?page=2&per_page=2", Some(&key))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["users"].as_array().map(Vec::len), Some(2));
    assert_eq!(page.body["aud"], "authenticated");
    assert_eq!(page.headers["x-total-count"], "5");
    assert_eq!(
        page.headers["link"],
        "</admin/users?page=3&per_page=2>; rel=\"next\", </admin/users?page=3&per_page=2>; rel=\"last\""
    );
    let last = app.get("/admin/users?page=3&per_page=2", Some(&key)).await;
    assert_eq!(last.body["users"].as_array().map(Vec::len), Some(1));
    let bad = app.get("/admin/users?per_page=0", Some(&key)).await;
    assert_eq!(bad.code(), "validation_failed");
}

#[tokio::test]
async fn the_audit_log_records_what_happened() {
    let app = spawn_app().await;
    let email = unique_email();
    let tick = || app.clock.advance(chrono::Duration::seconds(1));
    let session = app.sign_up(&email).await;
    tick();
    app.sign_in(&email, "wrong password").await;
    let login = app.sign_in(&email, PASSWORD).await.body;
    tick();
    app.refresh(refresh_token(&login)).await;
    tick();
    app.request(
        Method::POST,
        "/logout?scope=local",
        Some(access_token(&session)),
        None,
    )
    .await;

    let key = admin_key("service_role");
    let audit = app
        .get("/auth/v1/admin/audit?per_page=50", Some(&key))
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["payload"]["action"].as_str())
        .collect();
    // Newest first; the sign-up and its login share one instant.
    assert_eq!(actions[..3], ["logout", "token_refreshed", "login"]);
    let mut signup = actions[3..].to_vec();
    signup.sort();
    assert_eq!(signup, vec!["login", "user_signedup"]);
    let entry = &audit.body[0];
    assert_eq!(entry["payload"]["actor_id"], session["user"]["id"]);
    assert_eq!(entry["payload"]["actor_username"], email);
    assert_eq!(entry["ip_address"], "127.0.0.1");
    assert_eq!(audit.headers["x-total-count"], "5");
    let forbidden = app.get("/admin/audit", Some(access_token(&login))).await;
    assert_eq!(forbidden.code(), "not_admin");
}

#[tokio::test]
async fn empty_page_parameters_are_the_defaults() {
    // auth-js's listUsers() with no arguments sends exactly this.
    let app = spawn_app().await;
    let key = admin_key("service_role");
    app.sign_up(&unique_email()).await;
    let reply = app
        .get("/auth/v1/admin/users?page=&per_page=", Some(&key))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["users"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        reply.headers["link"],
        "</admin/users?page=1&per_page=50>; rel=\"last\""
    );
    let audit = app.get("/admin/audit?page=&per_page=", Some(&key)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
}

#[tokio::test]
async fn huge_page_numbers_are_refused_not_overflowed() {
    let app = spawn_app().await;
    let key = admin_key("service_role");
    for path in ["/admin/users", "/admin/audit"] {
        let reply = app
            .get(
                &format!("{path}?page=9223372036854775807&per_page=2"),
                Some(&key),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "validation_failed");
        // Far pages that do fit are simply empty.
        let far = app
            .get(&format!("{path}?page=1000000000000&per_page=2"), Some(&key))
            .await;
        assert_eq!(far.status, StatusCode::OK, "{path}: {}", far.body);
    }
}

#[tokio::test]
async fn ban_durations_beyond_a_century_are_refused() {
    let app = spawn_app().await;
    let key = admin_key("service_role");
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let id = session["user"]["id"].as_str().expect("id").to_owned();
    let path = format!("/admin/users/{id}");
    // The first overflowed and dropped the connection; the second was stored as a year
    // SQLite cannot read back, after which listing users answered 500.
    for ban in ["9999999999999999999h", "999999999h", "876625h"] {
        let reply = app
            .request(
                Method::PUT,
                &path,
                Some(&key),
                Some(json!({ "ban_duration": ban })),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{ban}: {}",
            reply.body
        );
    }
    let listed = app.get("/admin/users", Some(&key)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(
        app.get(&path, Some(&key)).await.body["banned_until"],
        json!(null)
    );
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
    // A century is still a ban, and reads back.
    let banned = app
        .request(
            Method::PUT,
            &path,
            Some(&key),
            Some(json!({ "ban_duration": "876000h" })),
        )
        .await;
    assert_eq!(banned.status, StatusCode::OK, "{}", banned.body);
    assert!(banned.body["banned_until"].is_string());
    assert_eq!(
        app.get("/admin/users", Some(&key)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.sign_in(&email, PASSWORD).await.code(), "user_banned");
}
