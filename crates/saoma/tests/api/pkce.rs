//! PKCE verifiers as RFC 7636 defines them.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::StatusCode;

use crate::wechat_helpers::*;

#[tokio::test]
async fn a_one_character_verifier_is_refused_even_against_its_own_challenge() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    // A 43-character challenge is well formed whatever it was made from: only the verifier
    // shows that "a" is trivially guessable.
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, b"a"));
    let provider_url = world
        .authorize(&format!(
            "provider=wechat_qr&code_challenge={challenge}&code_challenge_method=s256"
        ))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    let auth_code = query_param(&back, "code").expect("code");

    let reply = world.exchange(&auth_code, "a").await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{}",
        reply.body
    );
    assert!(reply.body["msg"]
        .as_str()
        .or(reply.body["message"].as_str())
        .is_some_and(|m| m.contains("43-128")));

    // A plain challenge is the verifier itself, so "a" never gets that far.
    let plain = world
        .app
        .get(
            "/auth/v1/authorize?provider=wechat_qr&code_challenge=a&code_challenge_method=plain",
            None,
        )
        .await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
}
