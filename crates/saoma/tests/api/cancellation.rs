//! Clients that hang up mid-request (a tab closed during a refresh, a proxy passing an abort
//! on) must not wedge the store, and every write that was acknowledged must survive a restart.
//! The aborts are real: TCP connections reset at random points while their request runs.

use std::time::Duration;

use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::helpers::*;

/// Sends `body` to `path` on a fresh connection, then resets the connection after `after`
/// without reading the answer.
async fn aborted_post(address: &str, path: &str, body: &str, after: Duration) {
    let host = address.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(host).await else {
        return;
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(request.as_bytes()).await;
    tokio::time::sleep(after).await;
    // A reset, not a polite close: the server learns of it while the request runs. (A zero
    // linger never blocks, which is what the deprecation warns about.)
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Every kind of request that writes, aborted at random points, many at once.
async fn storm_of_aborts(app: &TestApp, victims: &[String]) {
    let mut rng = StdRng::seed_from_u64(13);
    let mut tasks = Vec::new();
    for i in 0..240 {
        let (path, body) = match i % 4 {
            0 => (
                "/auth/v1/token?grant_type=refresh_token",
                json!({"refresh_token": "bogus"}).to_string(),
            ),
            1 => (
                "/auth/v1/token?grant_type=refresh_token",
                json!({"refresh_token": victims[i % victims.len()]}).to_string(),
            ),
            2 => (
                "/auth/v1/signup",
                json!({"email": unique_email(), "password": PASSWORD}).to_string(),
            ),
            _ => ("/auth/v1/signup", json!({}).to_string()),
        };
        let after = Duration::from_micros(rng.gen_range(0..4000));
        let address = app.address.clone();
        tasks.push(tokio::spawn(async move {
            aborted_post(&address, path, &body, after).await;
        }));
    }
    for task in tasks {
        task.await.expect("abort task");
    }
    // Let the server notice the last resets.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn aborted_requests_neither_wedge_the_store_nor_lose_acknowledged_writes() {
    let app = spawn_app_with(|config| config.rate_limit.enabled = false).await;
    // Sessions whose refresh tokens the storm presents (and may rotate).
    let mut victims = Vec::new();
    for _ in 0..4 {
        victims.push(refresh_token(&app.sign_up(&unique_email()).await).to_owned());
    }
    storm_of_aborts(&app, &victims).await;

    // Every kind of write still works afterwards, and each is acknowledged.
    let email = unique_email();
    let session = app.sign_up(&email).await;
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let refreshed = app.refresh(refresh_token(&signed_in.body)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    let logged_out = app
        .request(
            Method::POST,
            "/auth/v1/logout?scope=local",
            Some(access_token(&refreshed.body)),
            None,
        )
        .await;
    assert_eq!(
        logged_out.status,
        StatusCode::NO_CONTENT,
        "{}",
        logged_out.body
    );
    assert_eq!(
        app.get("/auth/v1/user", Some(access_token(&refreshed.body)))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "a logged-out session's token must stop working at once"
    );

    let changed = app
        .request(
            Method::PUT,
            "/auth/v1/user",
            Some(access_token(&session)),
            Some(json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    // After a restart every acknowledged write is still there.
    let db = app.stop().await;
    let app = spawn_app_on(db, |config| config.rate_limit.enabled = false).await;
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.status,
        StatusCode::BAD_REQUEST,
        "the old password must not work after the change was acknowledged"
    );
    assert_eq!(
        app.sign_in(&email, "a brand new password").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/auth/v1/user", Some(access_token(&refreshed.body)))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "the logout must survive a restart"
    );
    assert_eq!(
        app.refresh(refresh_token(&refreshed.body)).await.status,
        StatusCode::BAD_REQUEST
    );
}
