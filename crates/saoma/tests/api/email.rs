//! The email flows as supabase-js drives them (`signUp`, `signInWithOtp({email})`,
//! `verifyOtp`, `resetPasswordForEmail`, `updateUser({email|password})`, `resend`,
//! `reauthenticate`, `admin.inviteUserByEmail`, `admin.generateLink`) and the mailed links,
//! with mail read from a capturing mailer.

use std::sync::atomic::Ordering;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use saoma::mail::EmailAction;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{admin::admin_key, helpers::*};

const VERIFIER: &str = "a-verifier-that-is-long-enough-for-rfc-7636-0123456789";
const APP: &str = "http://localhost:3000/auth/confirm";

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

/// Follows a mailed link as a browser would: the `Location` it answers with.
async fn follow(app: &TestApp, link: &str) -> String {
    let path = link
        .split_once("/verify")
        .map(|(_, rest)| rest)
        .expect("a /verify link");
    let response = app
        .client
        .get(app.url(&format!("/auth/v1/verify{path}")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{link}");
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_owned()
}

/// The pairs of a URL's fragment.
fn fragment(location: &str) -> Vec<(String, String)> {
    let fragment = location.split_once('#').map(|(_, f)| f).unwrap_or_default();
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn sign_up(app: &TestApp, email: &str, query: &str, extra: Value) -> Reply {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    app.post(&format!("/auth/v1/signup{query}"), body).await
}

#[tokio::test]
async fn the_confirmation_link_signs_in_once_and_confirms_the_address() {
    let (app, mailer) = spawn_mail_app(|c| c.uri_allow_list = vec![APP.into()]).await;
    let email = unique_email();
    let signed_up = sign_up(&app, &email, &format!("?redirect_to={APP}"), json!({})).await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.body);
    let mail = mailer.last_to(&email);
    assert_eq!(mail.action, EmailAction::Signup);
    assert_eq!(mail.otp.len(), 6);
    assert!(
        mail.confirmation_url.contains("type=signup"),
        "{}",
        mail.confirmation_url
    );
    assert_eq!(mail.redirect_to, APP);

    let landed = follow(&app, &mail.confirmation_url).await;
    assert!(landed.starts_with(&format!("{APP}#")), "{landed}");
    let pairs = fragment(&landed);
    assert_eq!(param(&pairs, "type").as_deref(), Some("signup"));
    let access = param(&pairs, "access_token").expect("a session in the fragment");
    let me = app.get("/auth/v1/user", Some(&access)).await;
    assert!(me.body["email_confirmed_at"].is_string(), "{}", me.body);
    assert_eq!(
        me.body["identities"][0]["identity_data"]["email_verified"],
        true
    );
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);

    // The link is single use: the second visit lands with GoTrue's error in the fragment.
    let again = follow(&app, &mail.confirmation_url).await;
    let pairs = fragment(&again);
    assert_eq!(param(&pairs, "error_code").as_deref(), Some("otp_expired"));
    assert_eq!(
        param(&pairs, "error_description").as_deref(),
        Some("Email link is invalid or has expired")
    );
    assert_eq!(param(&pairs, "access_token"), None);
}

#[tokio::test]
async fn a_pkce_link_lands_with_a_code_that_only_the_verifier_exchanges() {
    let (app, mailer) = spawn_mail_app(|c| c.uri_allow_list = vec![APP.into()]).await;
    let email = unique_email();
    let pkce = json!({"code_challenge": challenge(), "code_challenge_method": "s256"});
    let signed_up = sign_up(&app, &email, &format!("?redirect_to={APP}"), pkce).await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.body);
    let mail = mailer.last_to(&email);
    assert!(mail.token_hash.starts_with("pkce_"), "{}", mail.token_hash);

    let landed = follow(&app, &mail.confirmation_url).await;
    let code = landed
        .split_once("?code=")
        .map(|(_, code)| code.to_owned())
        .unwrap_or_else(|| panic!("no code in {landed}"));
    assert!(!landed.contains("access_token"), "{landed}");
    let wrong = app
        .post(
            "/auth/v1/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": "x".repeat(43)}),
        )
        .await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "bad_code_verifier");
    let session = app
        .post(
            "/auth/v1/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": VERIFIER}),
        )
        .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert!(session.body["user"]["email_confirmed_at"].is_string());
}

#[tokio::test]
async fn sign_in_with_an_emailed_code_makes_then_reuses_the_account() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    let refused = app
        .post(
            "/auth/v1/otp",
            json!({"email": email, "create_user": false}),
        )
        .await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "otp_disabled");
    assert!(mailer.sent().is_empty());

    let sent = app.post("/auth/v1/otp", json!({"email": email})).await;
    assert_eq!((sent.status, &sent.body), (StatusCode::OK, &json!({})));
    let first = mailer.last_to(&email);
    assert_eq!(
        first.action,
        EmailAction::Signup,
        "a new address is confirmed first"
    );
    let session = verify(
        &app,
        json!({"type": "email", "email": email, "token": first.otp}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let user_id = session.body["user"]["id"].clone();
    assert!(session.body["user"]["email_confirmed_at"].is_string());

    app.clock.advance(Duration::seconds(61));
    app.post("/auth/v1/otp", json!({"email": email})).await;
    let second = mailer.last_to(&email);
    assert_eq!(second.action, EmailAction::MagicLink);
    let again = verify(
        &app,
        json!({"type": "magiclink", "token_hash": second.token_hash}),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["user"]["id"], user_id);
}

#[tokio::test]
async fn wrong_expired_and_reused_codes_are_refused_as_gotrue_refuses_them() {
    let (app, mailer) = spawn_mail_app(|c| {
        c.mailer.otp_exp = 600;
        c.mailer.max_attempts = 3;
    })
    .await;
    let email = unique_email();
    app.post("/auth/v1/otp", json!({"email": email})).await;
    let code = mailer.last_to(&email).otp;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let reply = verify(
        &app,
        json!({"type": "email", "email": email, "token": wrong}),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "otp_expired");
    assert_eq!(
        reply.body["msg"]
            .as_str()
            .or(reply.body["message"].as_str()),
        Some("Token has expired or is invalid")
    );
    let bad_link = verify(
        &app,
        json!({"type": "signup", "token_hash": "f".repeat(56)}),
    )
    .await;
    assert_error(&bad_link, StatusCode::FORBIDDEN, "otp_expired");

    // Two more wrong guesses kill the code: the right one is refused after.
    for _ in 0..2 {
        verify(
            &app,
            json!({"type": "email", "email": email, "token": wrong}),
        )
        .await;
    }
    let dead = verify(
        &app,
        json!({"type": "email", "email": email, "token": code}),
    )
    .await;
    assert_error(&dead, StatusCode::FORBIDDEN, "otp_expired");

    // A fresh code expires after mailer.otp_exp.
    app.clock.advance(Duration::seconds(61));
    app.post("/auth/v1/otp", json!({"email": email})).await;
    let fresh = mailer.last_to(&email);
    app.clock.advance(Duration::seconds(601));
    let late = verify(
        &app,
        json!({"type": "email", "email": email, "token": fresh.otp}),
    )
    .await;
    assert_error(&late, StatusCode::FORBIDDEN, "otp_expired");
    let late_link = verify(
        &app,
        json!({"type": "email", "token_hash": fresh.token_hash}),
    )
    .await;
    assert_error(&late_link, StatusCode::FORBIDDEN, "otp_expired");
}

#[tokio::test]
async fn password_recovery_does_not_tell_who_has_an_account() {
    let (app, mailer) = spawn_mail_app(|c| c.mailer.autoconfirm = true).await;
    let email = unique_email();
    app.sign_up(&email).await;
    let unknown = app
        .post("/auth/v1/recover", json!({"email": unique_email()}))
        .await;
    assert_eq!(
        (unknown.status, &unknown.body),
        (StatusCode::OK, &json!({}))
    );
    assert!(
        mailer.sent().is_empty(),
        "nothing mailed for an unknown address"
    );

    let known = app.post("/auth/v1/recover", json!({"email": email})).await;
    assert_eq!((known.status, &known.body), (StatusCode::OK, &json!({})));
    let mail = mailer.last_to(&email);
    assert_eq!(mail.action, EmailAction::Recovery);
    let session = verify(
        &app,
        json!({"type": "recovery", "email": email, "token": mail.otp}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let changed = app
        .request(
            Method::PUT,
            "/auth/v1/user",
            Some(access_token(&session.body)),
            Some(json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        app.sign_in(&email, "a brand new password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_mail_inside_the_interval_is_refused_and_a_burst_mails_once() {
    let (app, mailer) = spawn_mail_app(|c| {
        c.mailer.autoconfirm = true;
        c.smtp.max_frequency = 60;
    })
    .await;
    let email = unique_email();
    app.sign_up(&email).await;
    let app = std::sync::Arc::new(app);
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, email) = (app.clone(), email.clone());
        burst.spawn(async move { app.post("/auth/v1/recover", json!({"email": email})).await });
    }
    let replies = burst.join_all().await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for refused in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(
            refused,
            StatusCode::TOO_MANY_REQUESTS,
            "over_email_send_rate_limit",
        );
    }
    assert_eq!(mailer.sent().len(), 1, "one mail for the burst");
    // A magic link shares the recovery interval, as in GoTrue.
    let magic = app.post("/auth/v1/otp", json!({"email": email})).await;
    assert_error(
        &magic,
        StatusCode::TOO_MANY_REQUESTS,
        "over_email_send_rate_limit",
    );
    app.clock.advance(Duration::seconds(61));
    let later = app.post("/auth/v1/otp", json!({"email": email})).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
}

#[tokio::test]
async fn a_mail_server_outage_is_a_503_that_leaves_nothing_half_done() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    mailer.down.store(true, Ordering::SeqCst);
    let failed = sign_up(&app, &email, "", json!({})).await;
    assert_error(
        &failed,
        StatusCode::SERVICE_UNAVAILABLE,
        "email_send_failed",
    );
    mailer.down.store(false, Ordering::SeqCst);
    // No account was left behind that nobody could confirm; no interval blocks the retry.
    let retried = sign_up(&app, &email, "", json!({})).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    let first_id = retried.body["id"].clone();

    app.clock.advance(Duration::seconds(61));
    mailer.down.store(true, Ordering::SeqCst);
    let resend = app
        .post("/auth/v1/resend", json!({"type": "signup", "email": email}))
        .await;
    assert_error(
        &resend,
        StatusCode::SERVICE_UNAVAILABLE,
        "email_send_failed",
    );
    mailer.down.store(false, Ordering::SeqCst);
    let resent = app
        .post("/auth/v1/resend", json!({"type": "signup", "email": email}))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.body);
    let mail = mailer.last_to(&email);
    let session = verify(
        &app,
        json!({"type": "signup", "token_hash": mail.token_hash}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert_eq!(session.body["user"]["id"], first_id);
}

#[tokio::test]
async fn without_a_mailer_a_signup_that_needs_one_is_refused_and_not_stored() {
    let app = spawn_app_with(|c| c.mailer.autoconfirm = false).await;
    let email = unique_email();
    let reply = sign_up(&app, &email, "", json!({})).await;
    assert_error(
        &reply,
        StatusCode::INTERNAL_SERVER_ERROR,
        "email_send_failed",
    );
    let admin = admin_key("service_role");
    let users = app.get("/auth/v1/admin/users", Some(&admin)).await;
    assert_eq!(users.body["users"], json!([]), "no account was kept");
}

#[tokio::test]
async fn an_address_change_needs_both_addresses_in_either_order() {
    for new_first in [true, false] {
        let (app, mailer) = spawn_mail_app(|_| {}).await;
        let old = unique_email();
        let new = unique_email();
        let session = confirmed_user(&app, &mailer, &old).await;
        let token = access_token(&session).to_owned();
        let asked = app
            .request(
                Method::PUT,
                "/auth/v1/user",
                Some(&token),
                Some(json!({"email": new})),
            )
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert_eq!(
            asked.body["email"],
            old.as_str(),
            "unchanged until confirmed"
        );
        assert_eq!(asked.body["new_email"], new.as_str());
        assert!(asked.body["email_change_sent_at"].is_string());
        let to_new = mailer.last_to(&new);
        let to_old = mailer.last_to(&old);
        assert_eq!(to_new.action, EmailAction::EmailChangeNew);
        assert_eq!(to_old.action, EmailAction::EmailChangeCurrent);
        assert_ne!(to_new.otp, to_old.otp);

        let (first, second) = if new_first {
            (&to_new, &to_old)
        } else {
            (&to_old, &to_new)
        };
        let partial = verify(
            &app,
            json!({"type": "email_change", "token_hash": first.token_hash}),
        )
        .await;
        assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
        assert_eq!(
            partial.body["msg"],
            "Confirmation link accepted. Please proceed to confirm link sent to the other email"
        );
        let me = app.get("/auth/v1/user", Some(&token)).await;
        assert_eq!(me.body["email"], old.as_str());
        // The same link twice does not count as the other address.
        let replay = verify(
            &app,
            json!({"type": "email_change", "token_hash": first.token_hash}),
        )
        .await;
        assert_error(&replay, StatusCode::FORBIDDEN, "otp_expired");

        let done = verify(
            &app,
            json!({"type": "email_change", "email": second.to, "token": second.otp}),
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert_eq!(done.body["user"]["email"], new.as_str());
        assert!(
            done.body["user"].get("new_email").is_none(),
            "{}",
            done.body
        );
        assert_eq!(
            done.body["user"]["identities"][0]["identity_data"]["email"],
            new.as_str()
        );
        assert_eq!(app.sign_in(&new, PASSWORD).await.status, StatusCode::OK);
        assert_eq!(
            app.sign_in(&old, PASSWORD).await.code(),
            "invalid_credentials"
        );
    }
}

#[tokio::test]
async fn an_invitation_signs_the_invited_person_in() {
    let (app, mailer) = spawn_mail_app(|c| c.uri_allow_list = vec![APP.into()]).await;
    let email = unique_email();
    let anon = app.post("/auth/v1/invite", json!({"email": email})).await;
    assert!(anon.status.is_client_error(), "{}", anon.body);
    let admin = admin_key("service_role");
    let invited = app
        .request(
            Method::POST,
            &format!("/auth/v1/invite?redirect_to={APP}"),
            Some(&admin),
            Some(json!({"email": email, "data": {"team": "blue"}})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    assert!(invited.body["invited_at"].is_string(), "{}", invited.body);
    assert_eq!(invited.body["user_metadata"]["team"], "blue");
    let mail = mailer.last_to(&email);
    assert_eq!(mail.action, EmailAction::Invite);
    let landed = follow(&app, &mail.confirmation_url).await;
    assert!(landed.starts_with(APP), "{landed}");
    let access = param(&fragment(&landed), "access_token").expect("session");
    let me = app.get("/auth/v1/user", Some(&access)).await;
    assert!(me.body["email_confirmed_at"].is_string());
    let twice = app
        .request(
            Method::POST,
            "/auth/v1/invite",
            Some(&admin),
            Some(json!({"email": email})),
        )
        .await;
    assert_error(&twice, StatusCode::UNPROCESSABLE_ENTITY, "email_exists");
}

#[tokio::test]
async fn generated_links_work_and_send_nothing() {
    let (app, mailer) = spawn_mail_app(|c| c.uri_allow_list = vec![APP.into()]).await;
    let admin = admin_key("service_role");
    let generate = |body: Value| {
        app.request(
            Method::POST,
            "/auth/v1/admin/generate_link",
            Some(&admin),
            Some(body),
        )
    };
    let email = unique_email();
    let signup = generate(
        json!({"type": "signup", "email": email, "password": PASSWORD, "redirect_to": APP}),
    )
    .await;
    assert_eq!(signup.status, StatusCode::OK, "{}", signup.body);
    for key in [
        "action_link",
        "email_otp",
        "hashed_token",
        "verification_type",
        "redirect_to",
    ] {
        assert!(signup.body[key].is_string(), "{key}: {}", signup.body);
    }
    assert_eq!(signup.body["verification_type"], "signup");
    assert_eq!(signup.body["redirect_to"], APP);
    assert_eq!(signup.body["email"], email.as_str());
    let landed = follow(&app, signup.body["action_link"].as_str().unwrap()).await;
    assert!(
        param(&fragment(&landed), "access_token").is_some(),
        "{landed}"
    );

    let recovery = generate(json!({"type": "recovery", "email": email})).await;
    let code = recovery.body["email_otp"].as_str().unwrap();
    let session = verify(
        &app,
        json!({"type": "recovery", "email": email, "token": code}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);

    let magic = generate(json!({"type": "magiclink", "email": email})).await;
    let by_hash = verify(
        &app,
        json!({"type": "magiclink", "token_hash": magic.body["hashed_token"]}),
    )
    .await;
    assert_eq!(by_hash.status, StatusCode::OK, "{}", by_hash.body);

    let new = unique_email();
    let change =
        generate(json!({"type": "email_change_new", "email": email, "new_email": new})).await;
    assert_eq!(change.status, StatusCode::OK, "{}", change.body);
    assert_eq!(change.body["new_email"], new.as_str());
    let current =
        generate(json!({"type": "email_change_current", "email": email, "new_email": new})).await;
    verify(
        &app,
        json!({"type": "email_change", "token_hash": current.body["hashed_token"]}),
    )
    .await;
    let changed = verify(
        &app,
        json!({"type": "email_change", "token_hash": change.body["hashed_token"]}),
    )
    .await;
    assert_eq!(
        changed.body["user"]["email"],
        new.as_str(),
        "{}",
        changed.body
    );

    let unknown = generate(json!({"type": "recovery", "email": unique_email()})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "user_not_found");
    let bad = generate(json!({"type": "nope", "email": email})).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(mailer.sent().is_empty(), "generate_link mails nothing");
}

#[tokio::test]
async fn an_old_session_changes_its_password_only_with_a_fresh_code() {
    let (app, mailer) = spawn_mail_app(|c| {
        c.mailer.autoconfirm = true;
        c.security.update_password_require_reauthentication = true;
    })
    .await;
    let email = unique_email();
    let session = app.sign_up(&email).await;
    // A session over a day old needs the code (GoTrue's 24-hour window). The access token
    // is re-issued by a refresh: the session stays the one signed in a day ago.
    app.clock.advance(Duration::hours(25));
    let refreshed = app.refresh(refresh_token(&session)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let token = access_token(&refreshed.body).to_owned();
    let change = |nonce: Option<&str>| {
        let mut body = json!({"password": "another good password"});
        if let Some(nonce) = nonce {
            body["nonce"] = json!(nonce);
        }
        app.request(Method::PUT, "/auth/v1/user", Some(&token), Some(body))
    };
    let needed = change(None).await;
    assert_error(&needed, StatusCode::BAD_REQUEST, "reauthentication_needed");
    let asked = app.get("/auth/v1/reauthenticate", Some(&token)).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let mail = mailer.last_to(&email);
    assert_eq!(mail.action, EmailAction::Reauthentication);
    let wrong = change(Some("000000")).await;
    if mail.otp != "000000" {
        assert_error(
            &wrong,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reauthentication_not_valid",
        );
    }
    let done = change(Some(&mail.otp)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[tokio::test]
async fn a_squatters_password_does_not_survive_the_owner_signing_in_by_link() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    // Someone signs the address up with a password of theirs and never confirms.
    sign_up(&app, &email, "", json!({})).await;
    app.clock.advance(Duration::seconds(61));
    // The address's owner signs in by code.
    app.post("/auth/v1/otp", json!({"email": email})).await;
    let mail = mailer.last_to(&email);
    let owner = verify(
        &app,
        json!({"type": "email", "email": email, "token": mail.otp}),
    )
    .await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    assert_eq!(
        app.sign_in(&email, PASSWORD).await.code(),
        "invalid_credentials",
        "the squatter's password no longer opens the account"
    );
}

#[tokio::test]
async fn with_autoconfirm_a_new_address_gets_a_magic_link_that_confirms_it() {
    let (app, mailer) = spawn_mail_app(|c| c.mailer.autoconfirm = true).await;
    let email = unique_email();
    let sent = app.post("/auth/v1/otp", json!({"email": email})).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let mail = mailer.last_to(&email);
    assert_eq!(mail.action, EmailAction::MagicLink);
    let session = verify(
        &app,
        json!({"type": "magiclink", "token_hash": mail.token_hash}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert!(session.body["user"]["email_confirmed_at"].is_string());
}

#[tokio::test]
async fn mails_asked_for_are_in_the_audit_log_under_gotrues_names() {
    let (app, mailer) = spawn_mail_app(|_| {}).await;
    let email = unique_email();
    confirmed_user(&app, &mailer, &email).await;
    app.clock.advance(Duration::seconds(61));
    app.post("/auth/v1/recover", json!({"email": email})).await;
    let admin = admin_key("service_role");
    app.request(
        Method::POST,
        "/auth/v1/invite",
        Some(&admin),
        Some(json!({"email": unique_email()})),
    )
    .await;
    let audit = app
        .get("/auth/v1/admin/audit?per_page=50", Some(&admin))
        .await;
    let entries = audit.body.as_array().expect("entries").clone();
    let logged = |action: &str| {
        entries
            .iter()
            .find(|e| e["payload"]["action"] == action)
            .map(|e| e["payload"]["log_type"].clone())
    };
    assert_eq!(logged("user_confirmation_requested"), Some(json!("user")));
    assert_eq!(logged("user_recovery_requested"), Some(json!("user")));
    assert_eq!(logged("user_invited"), Some(json!("team")));
}
