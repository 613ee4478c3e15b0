//! The email flows as an attacker drives them: what a stranger who knows only an address, or
//! who holds a session for a while, must not be able to do.

use chrono::Duration;
use reqwest::StatusCode;
use saoma::mail::EmailAction;
use serde_json::json;
use sha2::{Digest, Sha224};

use crate::helpers::*;

fn sha224_hex(text: &str) -> String {
    Sha224::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The link hash is GoTrue's SHA-224 of address and code: anyone who knows the address can
/// compute the hash of each of the 10^6 codes and send them as `token_hash`, where no wrong
/// guess is counted. The guess limit that protects `{email, token}` must not have a side door:
/// a hash computed from the address and a code is not a working link.
#[tokio::test]
async fn email_attack_a_link_hash_computed_from_the_address_does_not_bypass_the_guess_limit() {
    let (app, mailer) = spawn_mail_app(|c| c.mailer.max_attempts = 3).await;
    let victim = unique_email();
    confirmed_user(&app, &mailer, &victim).await;
    app.clock.advance(Duration::seconds(61));

    // The attacker asks for a magic link to the victim's address...
    let asked = app.post("/auth/v1/otp", json!({"email": victim})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let mail = mailer.last_to(&victim);
    assert_eq!(mail.action, EmailAction::MagicLink);

    // ...and walks the code space through token_hash: far more than max_attempts misses.
    let wrong: Vec<String> = (0..10)
        .map(|n| format!("{n:06}"))
        .filter(|code| *code != mail.otp)
        .collect();
    for code in &wrong {
        let miss = verify(
            &app,
            json!({"type": "magiclink", "token_hash": sha224_hex(&format!("{victim}{code}"))}),
        )
        .await;
        assert_eq!(miss.status, StatusCode::FORBIDDEN, "{}", miss.body);
    }
    // The walk reaches the mailed code: the attacker must not get the victim's session.
    let hit = verify(
        &app,
        json!({"type": "magiclink", "token_hash": sha224_hex(&format!("{victim}{}", mail.otp))}),
    )
    .await;
    assert_eq!(
        (hit.status, hit.code()),
        (StatusCode::FORBIDDEN, "otp_expired"),
        "a token_hash computed from the address and a guessed code signed the attacker in: {}",
        hit.body
    );
}

/// Someone signs an address up with a password of theirs and never confirms. The address's
/// owner later signs up (with their own password) and confirms by the mailed link: the
/// squatter's password must not open the now confirmed account.
#[tokio::test]
async fn email_attack_a_squatters_password_does_not_survive_the_owner_signing_up_again() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    let squatter = "squatters password 123";
    let squatted = app
        .post(
            "/auth/v1/signup",
            json!({"email": email, "password": squatter}),
        )
        .await;
    assert_eq!(squatted.status, StatusCode::OK, "{}", squatted.body);
    app.clock.advance(Duration::seconds(61));

    let owner = app
        .post(
            "/auth/v1/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    let mail = mailer.last_to(&email);
    let confirmed = verify(
        &app,
        json!({"type": "signup", "token_hash": mail.token_hash}),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);

    let squatter_in = app.sign_in(&email, squatter).await;
    assert_ne!(
        squatter_in.status,
        StatusCode::OK,
        "the squatter signs in to the account the owner just confirmed: {}",
        squatter_in.body
    );
}

/// With `mailer.autoconfirm` saoma takes a new address at once (a documented difference from
/// GoTrue, which mails permanent users a link even then). The account's `email` identity must
/// follow, as it does when the address is confirmed by link: else the identity (what
/// `identities`, linking and GoTrue's duplicate check read) still names the old address, and
/// an anonymous user who added an address has no email identity at all.
#[tokio::test]
async fn email_attack_an_address_taken_at_once_moves_the_email_identity_too() {
    let (app, _mailer) = spawn_mail_app(|c| {
        c.mailer.autoconfirm = true;
        c.external.anonymous_users.enabled = true;
    })
    .await;
    let session = app.sign_up(&unique_email()).await;
    let anonymous = app.post("/auth/v1/signup", json!({})).await.body;
    for session in [session, anonymous] {
        let token = access_token(&session).to_owned();
        let claimed = unique_email();
        let changed = app
            .request(
                reqwest::Method::PUT,
                "/auth/v1/user",
                Some(&token),
                Some(json!({"email": claimed})),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        assert_eq!(changed.body["email"], claimed, "{}", changed.body);
        let identities = changed.body["identities"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let email_identity = identities
            .iter()
            .find(|i| i["provider"] == "email")
            .unwrap_or_else(|| panic!("no email identity: {}", changed.body));
        assert_eq!(
            email_identity["identity_data"]["email"], claimed,
            "{}",
            changed.body
        );
        assert_eq!(email_identity["email"], claimed, "{}", changed.body);
    }
}

/// Hostile bytes in the fields `/verify` reads are GoTrue's 4xx, never a 500.
#[tokio::test]
async fn email_attack_nul_and_huge_values_in_verify_are_refused_not_failed() {
    let (app, _mailer) = spawn_mail_app(|_| {}).await;
    for body in [
        json!({"type": "signup", "token_hash": "a\u{0}b"}),
        json!({"type": "email_change", "token_hash": "x".repeat(100_000)}),
        json!({"type": "magiclink", "email": "a@b.cn", "token": "1\u{0}2"}),
        json!({"type": "email", "email": "a\u{0}@b.cn", "token": "123456"}),
    ] {
        let reply = verify(&app, body.clone()).await;
        assert!(
            reply.status.is_client_error(),
            "{body:.80}: {} {}",
            reply.status,
            reply.body
        );
    }
    for query in ["token=a%00b&type=signup", "token=pkce_%00&type=recovery"] {
        let reply = app
            .client
            .get(app.url(&format!("/auth/v1/verify?{query}")))
            .send()
            .await
            .expect("request");
        let location = reply
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(!location.contains("server_error"), "{query}: {location}");
    }
    let data = app
        .post(
            "/auth/v1/signup",
            json!({"email": unique_email(), "password": PASSWORD, "data": {"name": "a\u{0}b"}}),
        )
        .await;
    assert!(
        data.status.is_client_error() || data.status == StatusCode::OK,
        "{} {}",
        data.status,
        data.body
    );
}
