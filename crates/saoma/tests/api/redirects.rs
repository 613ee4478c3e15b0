//! `redirect_to` is decided on the URL a browser would read from the final `Location`.

use reqwest::StatusCode;

use crate::wechat_helpers::*;

/// The scheme and host a browser reads from a `Location` value.
fn browser_origin(location: &str) -> (String, String) {
    let url = ::url::Url::parse(location).expect("an absolute URL");
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or("").to_owned(),
    )
}

/// `/authorize` with `redirect_to`, the phone confirms, and the callback's `Location`.
async fn login_redirect(world: &WeChatWorld, redirect_to: &str) -> String {
    let provider_url = world.authorize(&world.pkce_query(redirect_to)).await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    location(&world.follow(&callback).await)
}

#[tokio::test]
async fn a_glob_is_matched_on_the_host_the_browser_goes_to() {
    let world = spawn_wechat(APP_ID, None, |config| {
        config.uri_allow_list = vec!["https://*.example.org/**".into()];
    })
    .await;

    let allowed = login_redirect(&world, "https://app.example.org/cb").await;
    assert_eq!(
        browser_origin(&allowed),
        ("https".into(), "app.example.org".into()),
        "{allowed}"
    );

    // Character by character this matches the glob; a browser reads the host as `evil.com`.
    for trick in [
        "https://evil%2Ecom?.example.org/",
        "https://16909060?.example.org/",
    ] {
        let back = login_redirect(&world, trick).await;
        assert_eq!(
            browser_origin(&back),
            ("http".into(), "localhost".into()),
            "{trick} led to {back}"
        );
        assert!(back.starts_with(&format!("{SITE}?code=")), "{back}");
    }
}

#[tokio::test]
async fn control_characters_fall_back_to_the_site_url() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    for target in [
        format!("{SITE}/cb\r\nSet-Cookie: a=b"),
        format!("{SITE}/c\nb"),
    ] {
        let back = login_redirect(&world, &target).await;
        assert!(
            back.starts_with(&format!("{SITE}?code=")),
            "{target:?}: {back}"
        );
        let auth_code = query_param(&back, "code").expect("code");
        let session = world.exchange(&auth_code, VERIFIER).await;
        assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    }
    // A NUL is refused before anything is stored: no database keeps it.
    let refused = world
        .app
        .get(
            &format!(
                "/auth/v1/authorize?provider=wechat_qr&redirect_to={SITE}/cb%00x&code_challenge={}&code_challenge_method=s256",
                challenge()
            ),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.code(), "validation_failed");
}
