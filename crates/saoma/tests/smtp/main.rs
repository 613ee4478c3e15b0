//! Mail through a real SMTP server process: `tests/smtp-sink` (Node's `smtp-server`, parsed
//! by `mailparser`; `npm ci` there first, as scripts/test does), on loopback. And the Send
//! Email hook against a receiver that checks its Standard Webhooks signature.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod hook;
mod sink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use saoma::config::{MailerConfig, SmtpConfig, SmtpSecurity};
use saoma::domain::User;
use saoma::mail::smtp::SmtpMailer;
use saoma::mail::templates::MailTemplates;
use saoma::mail::{AuthMail, EmailAction, MailError, Mailer};
use sink::Sink;

const CONFIRMATION_URL: &str =
    "http://localhost:9999/verify?token=pkce_7c1e&type=signup&redirect_to=http://localhost:3000/";

fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        admin_email: "noreply@saoma.test".into(),
        sender_name: "扫码 Auth".into(),
        timeout_seconds: 5,
        ..SmtpConfig::default()
    }
}

fn mailer(smtp: &SmtpConfig) -> SmtpMailer {
    let templates = MailTemplates::load(&MailerConfig::default()).unwrap();
    SmtpMailer::new(smtp, Arc::new(templates)).unwrap()
}

fn user(email: &str) -> User {
    let mut user = User::new(
        uuid::Uuid::new_v4(),
        "authenticated",
        "email",
        chrono::Utc::now(),
    );
    user.email = Some(email.into());
    user
}

async fn send(mailer: &SmtpMailer, to: &str) -> Result<(), MailError> {
    let user = user(to);
    mailer
        .send(&AuthMail {
            action: EmailAction::Signup,
            to,
            user: &user,
            otp: "493817",
            token_hash: "pkce_7c1e",
            confirmation_url: CONFIRMATION_URL,
            redirect_to: "http://localhost:3000/",
            site_url: "http://localhost:3000",
            new_email: None,
        })
        .await
}

#[tokio::test]
async fn a_mail_arrives_with_its_headers_and_both_parts() {
    let sink = Sink::start(None).await;
    let mailer = mailer(&smtp(sink.port));
    send(&mailer, "user@example.com").await.unwrap();
    let mail = sink.next().await;

    assert_eq!(mail["rcpt_to"], serde_json::json!(["user@example.com"]));
    assert_eq!(mail["mail_from"], "noreply@saoma.test");
    assert_eq!(mail["from"][0]["name"], "扫码 Auth");
    assert_eq!(mail["from"][0]["address"], "noreply@saoma.test");
    assert_eq!(mail["to"][0]["address"], "user@example.com");
    assert_eq!(mail["subject"], "确认您的邮箱地址");
    assert!(mail["date"].is_string(), "{mail}");
    let message_id = mail["message_id"].as_str().unwrap();
    assert!(message_id.ends_with("@saoma.test>"), "{message_id}");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let raw = mail["raw"].as_str().unwrap();
    assert!(
        raw.contains("Subject: =?utf-8?"),
        "the subject is RFC 2047 encoded"
    );

    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("493817") && text.contains(CONFIRMATION_URL),
        "{text}"
    );
    assert!(text.contains("感谢注册") && !text.contains('<'), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("493817"), "{html}");
    assert!(
        html.contains(&CONFIRMATION_URL.replace('&', "&amp;")),
        "the link, HTML-escaped: {html}"
    );
}

#[tokio::test]
async fn auth_is_used_when_a_user_is_set_and_a_wrong_password_is_misconfiguration() {
    let sink = Sink::start(Some(("saoma", "s3cret-pass"))).await;
    let mut config = smtp(sink.port);
    config.user = "saoma".into();
    config.pass = "s3cret-pass".into();
    send(&mailer(&config), "user@example.com").await.unwrap();
    assert_eq!(sink.next().await["auth_user"], "saoma");

    config.pass = "wrong".into();
    let error = send(&mailer(&config), "user@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Misconfigured(_)), "{error:?}");
    assert!(!error.to_string().contains("wrong"), "never the password");

    // A server that takes no AUTH at all, when saoma has credentials: misconfigured too.
    let open = Sink::start(None).await;
    let mut config = smtp(open.port);
    config.user = "saoma".into();
    config.pass = "x".into();
    let error = send(&mailer(&config), "user@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Misconfigured(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable_at_once() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let error = send(&mailer(&smtp(port)), "user@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_busy_answer_is_retried_once_and_a_refused_recipient_is_an_invalid_address() {
    let sink = Sink::start(None).await;
    let mailer = mailer(&smtp(sink.port));
    send(&mailer, "busy@example.com").await.unwrap();
    assert_eq!(
        sink.next().await["rcpt_to"],
        serde_json::json!(["busy@example.com"])
    );

    let error = send(&mailer, "reject@example.com").await.unwrap_err();
    assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
    // The pool still works after a refusal.
    send(&mailer, "user@example.com").await.unwrap();
    assert_eq!(
        sink.next().await["rcpt_to"],
        serde_json::json!(["user@example.com"])
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_misconfiguration() {
    let sink = Sink::start(None).await;
    let mut config = smtp(sink.port);
    config.security = SmtpSecurity::Starttls;
    let error = send(&mailer(&config), "user@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Misconfigured(_)), "{error:?}");
}
