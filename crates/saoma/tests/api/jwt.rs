//! Bearer tokens: only ours, unexpired, naming a live user and session, get through.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const ES256_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/es256-test-key.pem"
);
const RS256_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/rs256-test-key.pem"
);

async fn user_status(app: &TestApp, authorization: Option<&str>) -> Reply {
    let mut request = app
        .client
        .get(app.url("/user"))
        .header("x-supabase-api-version", "2024-01-01");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    into_reply(request.send().await.expect("send")).await
}

#[tokio::test]
async fn missing_or_malformed_authorization() {
    let app = spawn_app().await;
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Basic abc"),
        Some("Bearer "),
    ] {
        let reply = user_status(&app, header).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "no_authorization"),
            "{header:?}"
        );
    }
    for header in [
        "Bearer garbage",
        "Bearer a.b.c",
        "bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
    ] {
        let reply = user_status(&app, Some(header)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "bad_jwt"),
            "{header}"
        );
    }
}

#[tokio::test]
async fn expired_tokens_are_bad_jwt() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    app.clock.advance(Duration::seconds(3601));
    let reply = app.get("/user", Some(access_token(&session))).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );
    assert!(reply.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("expired"));
    // The refresh token still gets a new one.
    let fresh = app.refresh(refresh_token(&session)).await;
    assert_eq!(
        app.get("/user", Some(access_token(&fresh.body)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn alg_none_and_foreign_keys_are_refused() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let token = access_token(&session);
    let payload = token.split('.').nth(1).expect("payload");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{payload}.");
    let reply = app.get("/user", Some(&unsigned)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );

    // Same claims, signed with another secret.
    let other = saoma::jwt::JwtKeys::new("another-secret-that-is-at-least-32-characters", None)
        .expect("keys");
    let claims: saoma::jwt::Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    let forged = other.sign(&claims).expect("sign");
    let reply = app.get("/user", Some(&forged)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );

    // Same claims, signed with an ES256 key this server does not have.
    let pem = std::fs::read_to_string(ES256_KEY).expect("key");
    let foreign = saoma::jwt::JwtKeys::new(SECRET, Some((&pem, Some("k1")))).expect("keys");
    let reply = app
        .get("/user", Some(&foreign.sign(&claims).expect("sign")))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );

    // Tampered payload, original signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut tampered = claims.clone();
    tampered.role = "service_role".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).expect("json"));
    let reply = app.get("/user", Some(&parts.join("."))).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );
}

#[tokio::test]
async fn anon_key_has_no_user() {
    let app = spawn_app().await;
    let keys = saoma::jwt::JwtKeys::new(SECRET, None).expect("keys");
    let anon = saoma::keys::api_key(&keys, "anon", chrono::Utc::now()).expect("key");
    let reply = app.get("/user", Some(&anon)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "bad_jwt")
    );
    assert_eq!(reply.body["message"], "invalid claim: missing sub claim");
}

#[tokio::test]
async fn asymmetric_signing_keys_are_published_and_verified() {
    for (path, alg, kty) in [(ES256_KEY, "ES256", "EC"), (RS256_KEY, "RS256", "RSA")] {
        let app = spawn_app_with(|c| {
            c.jwt.signing_key_file = Some(path.into());
            c.jwt.kid = Some("saoma-test".into());
        })
        .await;
        let jwks = app.get("/auth/v1/.well-known/jwks.json", None).await;
        let key = &jwks.body["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["alg"].as_str(),
                key["kid"].as_str()
            ),
            (Some(kty), Some(alg), Some("saoma-test"))
        );
        assert!(key.get("d").is_none(), "private parts are never published");

        let session = app.sign_up(&unique_email()).await;
        let token = access_token(&session);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().expect("header"))
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(
            header,
            json!({"alg": alg, "kid": "saoma-test", "typ": "JWT"})
        );
        assert_eq!(app.get("/user", Some(token)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn deleted_user_and_banned_user() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email()).await;
    let store = saoma::store::connect(&app.config.database_url)
        .await
        .expect("store");
    let id = session["user"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let ban = saoma::domain::UserChanges {
        banned_until: Some(Some(chrono::Utc::now() + Duration::days(1))),
        ..Default::default()
    };
    store
        .change_user(id, &ban, chrono::Utc::now())
        .await
        .expect("ban");
    let reply = app.get("/user", Some(access_token(&session))).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "user_banned")
    );
    let reply = app.refresh(refresh_token(&session)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "user_banned")
    );
    let reply = app
        .request(
            Method::PUT,
            "/user",
            Some(access_token(&session)),
            Some(json!({"data": {}})),
        )
        .await;
    assert_eq!(reply.code(), "user_banned");
}

#[tokio::test]
async fn tokens_without_exp_are_accepted_as_gotrue_does() {
    // Service keys made by hand for GoTrue often carry no `exp`; GoTrue accepts them.
    let app = spawn_app().await;
    let keys = saoma::jwt::JwtKeys::new(SECRET, None).expect("keys");
    let service_key = keys
        .sign_hs256(&saoma::jwt::Claims {
            role: "service_role".into(),
            iss: Some("supabase".into()),
            exp: None,
            ..Default::default()
        })
        .expect("sign");
    let listed = app.get("/admin/users", Some(&service_key)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);

    let session = app.sign_up(&unique_email()).await;
    let payload = access_token(&session)
        .split('.')
        .nth(1)
        .expect("payload")
        .to_owned();
    let mut claims: saoma::jwt::Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    assert!(claims.exp.is_some(), "tokens saoma mints carry exp");
    claims.exp = None;
    let forever = keys.sign(&claims).expect("sign");
    let user = app.get("/user", Some(&forever)).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
}
