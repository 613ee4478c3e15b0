use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn sign_in_issues_a_session_with_gotrue_claims() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email).await;
    let reply = app.sign_in(&email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let session = &reply.body;
    assert!(session.get("weak_password").is_none());
    assert_eq!(session["user"]["email"], email);
    assert!(session["user"]["last_sign_in_at"].is_string());

    let keys = saoma::jwt::JwtKeys::new(SECRET, None).expect("keys");
    let claims = keys
        .verify(access_token(session), saoma::clock::Clock::now(&*app.clock))
        .expect("valid token");
    assert_eq!(claims.sub.as_deref(), session["user"]["id"].as_str());
    assert_eq!(claims.role, "authenticated");
    assert_eq!(claims.aud, Some(json!("authenticated")));
    assert_eq!(claims.aal.as_deref(), Some("aal1"));
    assert_eq!(
        claims.amr.as_ref().map(|a| a[0].method.as_str()),
        Some("password")
    );
    assert_eq!(claims.email.as_deref(), Some(email.as_str()));
    assert_eq!(claims.is_anonymous, Some(false));
    assert!(claims.session_id.is_some());
    assert_eq!(claims.exp, Some(claims.iat + 3600));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app_with(|c| c.password.bcrypt_cost = 10).await;
    let email = unique_email();
    app.sign_up(&email).await;

    // Alternating samples, each side's fastest compared: a pause of the machine (a loaded CI
    // box) lengthens one sample, not the fastest of three.
    let (mut known, mut unknown_time) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        for (email, fastest) in [
            (email.clone(), &mut known),
            (unique_email(), &mut unknown_time),
        ] {
            let started = Instant::now();
            let reply = app.sign_in(&email, "wrong password").await;
            *fastest = (*fastest).min(started.elapsed());
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert_eq!(
                reply.body,
                json!({"code": "invalid_credentials", "message": "Invalid login credentials"})
            );
        }
    }
    // Both pay for a bcrypt comparison; an unknown address must not answer in a fraction of it.
    assert!(
        unknown_time * 3 > known,
        "unknown {unknown_time:?} vs known {known:?}"
    );
}

#[tokio::test]
async fn password_grant_input_errors() {
    let app = spawn_app().await;
    let missing = app
        .post("/token?grant_type=password", json!({"password": PASSWORD}))
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    let phone = app
        .post(
            "/token?grant_type=password",
            json!({"phone": "+8613800000000", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (phone.status, phone.code()),
        (StatusCode::BAD_REQUEST, "phone_provider_disabled")
    );
    let garbage = app
        .post(
            "/token?grant_type=password",
            json!({"email": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (garbage.status, garbage.code()),
        (StatusCode::BAD_REQUEST, "invalid_credentials")
    );
}

#[tokio::test]
async fn migrated_gotrue_bcrypt_hash_signs_in() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let store = saoma::store::connect(&app.config.database_url)
        .await
        .expect("store");
    let id = session["user"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    // What GoTrue's Go bcrypt stores for "password123" (cost 10, `$2a$`).
    let gotrue_hash = saoma::domain::UserChanges {
        encrypted_password: Some(Some(
            "$2a$10$wPNyjB5L/Tunlj1yaNZjNuQD/EyzDdRfEc9v7D.6dmWj/hgwZ8SXG".into(),
        )),
        ..Default::default()
    };
    store
        .change_user(id, &gotrue_hash, chrono::Utc::now())
        .await
        .expect("update");
    assert_eq!(
        app.sign_in(&email, "password123").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.code(),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn weak_but_correct_password_is_flagged_on_sign_in() {
    let app = spawn_app().await;
    let email = unique_email();
    app.post("/signup", json!({"email": email, "password": "123456"}))
        .await;
    let stricter = spawn_app_on(app.stop().await, |c| c.password.min_length = 10).await;
    let reply = stricter.sign_in(&email, "123456").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["weak_password"]["reasons"], json!(["length"]));
}
