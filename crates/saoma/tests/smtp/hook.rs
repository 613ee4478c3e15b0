//! The Send Email hook against a receiver that verifies the signature itself.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use saoma::config::Config;
use saoma::mail::hook::SendEmailHook;
use saoma::mail::{AuthMail, EmailAction, MailError, Mailer};
use serde_json::Value;

const KEY: &[u8] = b"receiver-key-receiver-key-rk-32b";

#[derive(Default)]
struct Received {
    verified: Vec<Value>,
    /// Answers to give first, before 204s.
    answers: Vec<StatusCode>,
    attempts: usize,
}

/// Checks `webhook-signature` as a Standard Webhooks library would: HMAC-SHA256 of
/// "id.timestamp.body" with the key, any of the space-separated `v1,` signatures.
fn verify(headers: &HeaderMap, body: &str) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signed = format!(
        "{}.{}.{body}",
        header("webhook-id"),
        header("webhook-timestamp")
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY),
        signed.as_bytes(),
    );
    let expected = format!("v1,{}", BASE64.encode(tag.as_ref()));
    header("webhook-signature")
        .split(' ')
        .any(|signature| signature.trim_end_matches(',') == expected)
}

async fn receiver(received: Arc<Mutex<Received>>) -> String {
    let handler = move |headers: HeaderMap, body: String| {
        let received = received.clone();
        async move {
            let mut received = received.lock().unwrap();
            received.attempts += 1;
            if !verify(&headers, &body) {
                return StatusCode::UNAUTHORIZED;
            }
            if !received.answers.is_empty() {
                return received.answers.remove(0);
            }
            received.verified.push(serde_json::from_str(&body).unwrap());
            StatusCode::NO_CONTENT
        }
    };
    let router = axum::Router::new().route("/email", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/email", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn hook(uri: &str, key: &[u8]) -> SendEmailHook {
    let mut config = Config {
        external_url: "http://localhost:9999".into(),
        ..Config::default()
    };
    config.mailer.hook.enabled = true;
    config.mailer.hook.uri = uri.into();
    config.mailer.hook.secrets = format!("v1,whsec_{}", BASE64.encode(key)).into();
    SendEmailHook::new(&config).unwrap()
}

async fn send(hook: &SendEmailHook, otp: &str) -> Result<(), MailError> {
    let user = super::user("user@example.com");
    hook.send(&AuthMail {
        action: EmailAction::Recovery,
        to: "user@example.com",
        user: &user,
        otp,
        token_hash: "hash",
        confirmation_url: "http://localhost:9999/verify?token=hash&type=recovery",
        redirect_to: "http://localhost:3000/reset",
        site_url: "http://localhost:3000",
        new_email: None,
    })
    .await
}

#[tokio::test]
async fn the_hook_is_signed_carries_gotrues_payload_and_retries_a_503_once() {
    let received = Arc::new(Mutex::new(Received::default()));
    let uri = receiver(received.clone()).await;
    let sender = hook(&uri, KEY);
    send(&sender, "135790").await.unwrap();
    {
        let received = received.lock().unwrap();
        let body = &received.verified[0];
        assert_eq!(body["email_data"]["token"], "135790");
        assert_eq!(body["email_data"]["email_action_type"], "recovery");
        assert_eq!(body["email_data"]["site_url"], "http://localhost:9999");
        assert_eq!(
            body["email_data"]["redirect_to"],
            "http://localhost:3000/reset"
        );
        assert_eq!(body["user"]["email"], "user@example.com");
    }

    received.lock().unwrap().answers = vec![StatusCode::SERVICE_UNAVAILABLE];
    send(&sender, "246802").await.unwrap();
    assert_eq!(received.lock().unwrap().attempts, 3);

    let stranger = hook(&uri, b"another-key-another-key-another!");
    let error = send(&stranger, "1").await.unwrap_err();
    assert!(matches!(error, MailError::Misconfigured(_)), "{error:?}");
}
