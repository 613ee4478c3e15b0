//! `wechat_qr` end to end against the simulator, following every redirect by hand.

use chrono::Duration;
use reqwest::StatusCode;
use saoma_wechat_sim::Faults;
use serde_json::json;

use crate::{helpers::*, wechat_helpers::*};

#[tokio::test]
async fn pkce_login_shows_the_wechat_nickname() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private?next=/account")))
        .await;
    assert!(provider_url.starts_with(&format!(
        "{}/connect/qrconnect?appid={APP_ID}&redirect_uri=",
        world.sim_url
    )));
    assert!(provider_url.ends_with("#wechat_redirect"));
    assert_eq!(
        query_param(&provider_url, "scope").as_deref(),
        Some("snsapi_login")
    );
    let state = query_param(&provider_url, "state").expect("state");
    assert!(
        state.len() <= 32 && state.chars().all(|c| c.is_ascii_alphanumeric()),
        "{state}"
    );

    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    assert!(
        back.starts_with(&format!("{SITE}/private?next=%2Faccount&code="))
            || back.starts_with(&format!("{SITE}/private?next=/account&code=")),
        "{back}"
    );
    let auth_code = query_param(&back, "code").expect("code");

    let session = world.exchange(&auth_code, VERIFIER).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    assert!(session.body["provider_token"].is_string());
    assert!(session.body["provider_refresh_token"].is_string());

    let me = world
        .app
        .get("/auth/v1/user", Some(access_token(&session.body)))
        .await;
    let meta = &me.body["user_metadata"];
    assert_eq!(meta["full_name"], "小明");
    assert_eq!(meta["nickname"], "小明");
    assert_eq!(meta["name"], "小明");
    let openid = world.sim.openid(APP_ID, "xiaoming").expect("openid");
    let unionid = world.sim.unionid(APP_ID, "xiaoming").expect("unionid");
    assert_eq!(meta["openid"], openid);
    assert_eq!(meta["unionid"], unionid);
    assert_eq!(
        meta["sub"], unionid,
        "keyed by unionid when WeChat gives one"
    );
    assert!(meta["avatar_url"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&world.sim_url));
    assert_eq!(meta["picture"], meta["avatar_url"]);
    assert_eq!(me.body["email"], "", "no invented email");
    assert_eq!(
        me.body["app_metadata"],
        json!({"provider": "wechat_qr", "providers": ["wechat_qr"]})
    );
    assert_eq!(me.body["identities"][0]["provider"], "wechat_qr");
    assert_eq!(me.body["identities"][0]["id"], unionid);
    assert_eq!(me.body["identities"][0]["identity_data"]["openid"], openid);

    // The code is single use.
    let again = world.exchange(&auth_code, VERIFIER).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "flow_state_not_found")
    );
}

#[tokio::test]
async fn implicit_flow_puts_the_session_in_the_fragment() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&format!(
            "provider=wechat_qr&redirect_to={}",
            saoma::providers::urlencode(&format!("{SITE}/welcome"))
        ))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaohong"))
        .await;
    let back = location(&world.follow(&callback).await);
    assert!(
        back.starts_with(&format!("{SITE}/welcome#access_token=")),
        "{back}"
    );
    assert_eq!(
        fragment_param(&back, "token_type").as_deref(),
        Some("bearer")
    );
    assert!(fragment_param(&back, "refresh_token").is_some());
    assert!(fragment_param(&back, "provider_token").is_some());
    assert_eq!(fragment_param(&back, "expires_in").as_deref(), Some("3600"));
    let token = fragment_param(&back, "access_token").expect("token");
    let me = world.app.get("/user", Some(&token)).await;
    assert_eq!(me.body["user_metadata"]["full_name"], "小红");
}

#[tokio::test]
async fn cancel_on_the_phone_is_access_denied() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world.scan(&provider_url, PhoneAction::Cancel).await;
    assert!(!callback.contains("code="));
    let back = location(&world.follow(&callback).await);
    assert!(back.starts_with(&format!("{SITE}/private?")), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert!(query_param(&back, "error_description")
        .expect("description")
        .contains("cancelled"));
}

#[tokio::test]
async fn unregistered_callback_host_never_redirects() {
    let world = spawn_wechat(APP_ID, None, |c| {
        c.external.wechat_qr.redirect_uri = Some("http://evil.example.com/callback".into())
    })
    .await;
    let provider_url = world.authorize(&world.pkce_query(SITE)).await;
    let page = world
        .app
        .client
        .get(provider_url.split('#').next().expect("url"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("location").is_none());
    let html = page.text().await.expect("html");
    assert!(html.contains("redirect_uri 参数错误"), "{html}");
    assert!(!html.contains("data-uuid"), "no QR code for a foreign host");
}

#[tokio::test]
async fn a_used_wechat_code_is_refused_with_a_clear_error() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    location(&world.follow(&callback).await);
    // An attacker replays the code into a flow of their own.
    let other = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let code = query_param(&callback, "code").expect("code");
    let replay = format!(
        "{}?code={code}&state={}",
        world.app.config.wechat_qr_redirect_uri(),
        query_param(&other, "state").expect("state")
    );
    let back = location(&world.follow(&replay).await);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("bad_oauth_callback")
    );
    assert!(
        query_param(&back, "error_description")
            .expect("description")
            .contains("already used"),
        "{back}"
    );
}

#[tokio::test]
async fn expired_and_tampered_states_go_to_the_site_url() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;

    let tampered = callback.replace("state=", "state=0");
    let back = location(&world.follow(&tampered).await);
    assert!(back.starts_with(&format!("{SITE}?error=")), "{back}");
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("bad_oauth_state")
    );

    let state = query_param(&callback, "state").expect("state");
    let flipped: String = state.chars().rev().collect();
    let back = location(&world.follow(&callback.replace(&state, &flipped)).await);
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("flow_state_not_found")
    );

    world.app.clock.advance(Duration::minutes(11));
    let back = location(&world.follow(&callback).await);
    assert!(back.starts_with(&format!("{SITE}?error=")), "{back}");
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("flow_state_expired")
    );
}

#[tokio::test]
async fn wrong_verifier_and_late_exchange() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("laowang"))
        .await;
    let auth_code = query_param(&location(&world.follow(&callback).await), "code").expect("code");

    let wrong = world
        .exchange(&auth_code, &VERIFIER.replace('0', "1"))
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::BAD_REQUEST, "bad_code_verifier")
    );
    let empty = world.exchange(&auth_code, "").await;
    assert_eq!(
        (empty.status, empty.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    let unknown = world
        .exchange("00000000-0000-0000-0000-000000000000", VERIFIER)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "flow_state_not_found")
    );

    world.app.clock.advance(Duration::minutes(6));
    let late = world.exchange(&auth_code, VERIFIER).await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "flow_state_expired")
    );
}

#[tokio::test]
async fn redirect_outside_the_allow_list_falls_back_to_the_site_url() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let provider_url = world
        .authorize(&world.pkce_query("https://evil.example.com/steal"))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    assert!(back.starts_with(&format!("{SITE}?code=")), "{back}");
}

#[tokio::test]
async fn the_same_persona_is_the_same_user() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let first = world.login("xiaoming").await;
    let second = world.login("xiaoming").await;
    let other = world.login("xiaohong").await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert_ne!(first["user"]["id"], other["user"]["id"]);
    assert_eq!(
        second["user"]["identities"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn one_open_platform_two_apps_one_user() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let via_a = world.login("xiaohong").await;
    let db = world.app.stop().await;
    // The operator moves to another website app of the same open-platform account.
    let world = spawn_wechat("wx_sim_website_b", Some(db), |_| {}).await;
    let via_b = world.login("xiaohong").await;
    assert_eq!(via_a["user"]["id"], via_b["user"]["id"]);
    assert_ne!(
        via_a["user"]["user_metadata"]["openid"],
        via_b["user"]["user_metadata"]["openid"]
    );
    let db = world.app.stop().await;
    // An app bound to no open platform has no unionid: that person is a separate user.
    let world = spawn_wechat("wx_sim_unbound", Some(db), |_| {}).await;
    let unbound = world.login("xiaohong").await;
    assert_ne!(unbound["user"]["id"], via_a["user"]["id"]);
    assert!(unbound["user"]["user_metadata"].get("unionid").is_none());
}

#[tokio::test]
async fn duplicate_redirect_keeps_the_login() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    world.sim.set_faults(Faults {
        duplicate_redirect: true,
        ..Faults::default()
    });
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let first = location(&world.follow(&callback).await);
    let second = location(&world.follow(&callback).await);
    assert_eq!(first, second, "the repeat gets the same answer");
    let auth_code = query_param(&second, "code").expect("code");
    assert_eq!(
        world.exchange(&auth_code, VERIFIER).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn busy_wechat_is_retried_once_and_expired_codes_are_explained() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    world.sim.set_faults(Faults {
        busy: 1,
        ..Faults::default()
    });
    let session = world.login("xiaoming").await;
    assert_eq!(session["user"]["user_metadata"]["full_name"], "小明");

    world.sim.set_faults(Faults {
        busy: 2,
        ..Faults::default()
    });
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    assert_eq!(query_param(&back, "error").as_deref(), Some("server_error"));
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("provider_unavailable")
    );

    world.sim.set_faults(Faults {
        expire_codes: true,
        ..Faults::default()
    });
    let provider_url = world
        .authorize(&world.pkce_query(&format!("{SITE}/private")))
        .await;
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("bad_oauth_callback")
    );
    assert!(query_param(&back, "error_description")
        .expect("description")
        .contains("expired"));
}

#[tokio::test]
async fn authorize_refuses_bad_requests_with_json() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    for query in [
        "provider=github",
        "provider=",
        "provider=wechat_qr&code_challenge=short&code_challenge_method=s256",
        "provider=wechat_qr&code_challenge_method=s256",
        &format!(
            "provider=wechat_qr&code_challenge={}&code_challenge_method=md5",
            challenge()
        ),
    ] {
        let reply = world.app.get(&format!("/authorize?{query}"), None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{query}: {}",
            reply.body
        );
    }
    let settings = world.app.get("/settings", None).await;
    assert_eq!(settings.body["external"]["wechat_qr"], true);

    // Unknown parameters are forwarded; reserved ones are not.
    let url = world
        .authorize("provider=wechat_qr&lang=en&redirect_uri=http://evil.example.com&state=x")
        .await;
    assert_eq!(query_param(&url, "lang").as_deref(), Some("en"));
    assert_ne!(
        query_param(&url, "redirect_uri").as_deref(),
        Some("http://evil.example.com")
    );
    assert_ne!(query_param(&url, "state").as_deref(), Some("x"));

    let json_url = world
        .app
        .get(
            "/authorize?provider=wechat_qr&skip_http_redirect=true",
            None,
        )
        .await;
    assert_eq!(json_url.status, StatusCode::OK);
    assert!(json_url.body["url"]
        .as_str()
        .unwrap_or_default()
        .contains("/connect/qrconnect?"));

    let disabled = spawn_app().await;
    let reply = disabled.get("/authorize?provider=wechat_qr", None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
}
