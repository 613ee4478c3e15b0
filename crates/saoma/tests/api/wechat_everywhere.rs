//! Every WeChat login path, one person = one account: 公众号 (in-WeChat browser), mini-program,
//! mobile app, unionid linking, binding, identity linking and unlinking.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{helpers::*, wechat_helpers::*};

const WECHAT_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";

async fn mini_login(world: &WeChatWorld, appid: &str, persona: &str) -> Reply {
    let code = world.sim_code("/sim/mini/login", appid, persona).await;
    world
        .get_json(&format!("/auth/v1/wechat_mini/login?code={code}"), None)
        .await
}

#[tokio::test]
async fn mini_program_login_as_the_memfire_sdk_does_it() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    // supabase-wechat-stable-v2's signInWithWechat: a GET with the apikey header.
    let code = world
        .sim_code("/sim/mini/login", "wx_sim_mini", "xiaoming")
        .await;
    let reply = world
        .app
        .client
        .get(
            world
                .app
                .url(&format!("/auth/v1/wechat_mini/login?code={code}")),
        )
        .header("apikey", "anon-key")
        .header("x-client-info", "supabase-wechat-stable-v2")
        .send()
        .await
        .expect("login");
    let reply = into_reply(reply).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let session = &reply.body;
    assert!(session["access_token"].is_string() && session["refresh_token"].is_string());
    let user = &session["user"];
    let openid = world.sim.openid("wx_sim_mini", "xiaoming").expect("openid");
    let unionid = world
        .sim
        .unionid("wx_sim_mini", "xiaoming")
        .expect("unionid");
    assert_eq!(user["wechat_id"], openid);
    assert_eq!(user["wechat_unionid"], unionid);
    assert_eq!(user["app_metadata"]["provider"], "wechat_mini");

    let again = mini_login(&world, "wx_sim_mini", "xiaoming").await;
    assert_eq!(
        again.body["user"]["id"], user["id"],
        "a second login is the same user"
    );

    // The same login as a POST grant.
    let code = world
        .sim_code("/sim/mini/login", "wx_sim_mini", "xiaoming")
        .await;
    let posted = world
        .app
        .post(
            "/auth/v1/token?grant_type=wechat_mini",
            json!({"code": code}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.body["user"]["id"], user["id"]);

    // A used code, or none, is a clear 400.
    let reused = world
        .get_json(&format!("/auth/v1/wechat_mini/login?code={code}"), None)
        .await;
    assert_eq!(
        (reused.status, reused.code()),
        (StatusCode::BAD_REQUEST, "invalid_credentials")
    );
    assert!(
        reused.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("40163"),
        "{}",
        reused.body
    );
    let missing = world.get_json("/auth/v1/wechat_mini/login", None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
}

#[tokio::test]
async fn one_person_across_qr_mini_program_app_and_official_account() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let web = world.login("xiaohong").await;
    let user_id = web["user"]["id"].clone();

    // Each login a second later, so "the most recent WeChat app" is well defined.
    let tick = || world.app.clock.advance(chrono::Duration::seconds(1));
    tick();
    let mini = mini_login(&world, "wx_sim_mini", "xiaohong").await;
    assert_eq!(
        mini.body["user"]["id"], user_id,
        "mini-program → the same user by unionid"
    );

    tick();
    let code = world
        .sim_code("/sim/app/authorize", "wx_sim_app", "xiaohong")
        .await;
    let app = world
        .get_json(&format!("/auth/v1/wechat_app/login?code={code}"), None)
        .await;
    assert_eq!(app.status, StatusCode::OK, "{}", app.body);
    assert_eq!(
        app.body["user"]["id"], user_id,
        "mobile app → the same user"
    );
    assert_eq!(app.body["user"]["user_metadata"]["full_name"], "小红");

    // In WeChat's own browser the QR login turns into the 公众号 login by itself.
    tick();
    let reply = world
        .app
        .client
        .get(world.app.url(&format!(
            "/auth/v1/authorize?{}",
            world.pkce_query(&format!("{SITE}/private"))
        )))
        .header("user-agent", WECHAT_UA)
        .send()
        .await
        .expect("authorize");
    let provider_url = location(&into_reply(reply).await);
    assert!(
        provider_url.contains("/connect/oauth2/authorize?appid=wx_sim_mp&"),
        "{provider_url}"
    );
    assert!(provider_url.contains("scope=snsapi_userinfo"));
    let callback = world.mp_authorize(&provider_url, "xiaohong", true).await;
    let back = location(&world.follow(&callback).await);
    let session = world
        .exchange(&query_param(&back, "code").expect("code"), VERIFIER)
        .await;
    assert_eq!(
        session.body["user"]["id"], user_id,
        "公众号 → the same user"
    );
    assert_eq!(
        session.body["user"]["wechat_id"],
        world.sim.openid("wx_sim_mp", "xiaohong").expect("openid")
    );

    let me = world
        .get_json("/user", Some(access_token(&session.body)))
        .await;
    let providers: Vec<&str> = me.body["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .filter_map(|i| i["provider"].as_str())
        .collect();
    for provider in ["wechat_qr", "wechat_mini", "wechat_app", "wechat_mp"] {
        assert!(providers.contains(&provider), "{provider} in {providers:?}");
    }
    assert_eq!(
        me.body["app_metadata"]["providers"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
}

#[tokio::test]
async fn a_browser_outside_wechat_keeps_the_qr_code() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let url = world.authorize(&world.pkce_query(SITE)).await;
    assert!(url.contains("/connect/qrconnect?"));
    // And without a 公众号 configured, WeChat's browser gets the QR page too.
    let qr_only = spawn_wechat(APP_ID, None, |c| c.external.wechat_mp.enabled = false).await;
    let reply = qr_only
        .app
        .client
        .get(qr_only.app.url("/auth/v1/authorize?provider=wechat_qr"))
        .header("user-agent", WECHAT_UA)
        .send()
        .await
        .expect("authorize");
    assert!(location(&into_reply(reply).await).contains("/connect/qrconnect?"));
}

#[tokio::test]
async fn official_account_denial_and_silent_base_scope() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let first = world.login("laowang").await;
    let provider_url = world
        .authorize(&format!(
            "provider=wechat_mp&{}",
            &world.pkce_query(SITE)["provider=wechat_qr&".len()..]
        ))
        .await;
    let denied = world.mp_authorize(&provider_url, "laowang", false).await;
    let back = location(&world.follow(&denied).await);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );

    // snsapi_base gives only an openid: the nickname seen before stays.
    let provider_url = world
        .authorize(&format!(
            "provider=wechat_mp&scopes=snsapi_base&{}",
            &world.pkce_query(SITE)["provider=wechat_qr&".len()..]
        ))
        .await;
    assert!(provider_url.contains("scope=snsapi_base"));
    let callback = world.mp_authorize(&provider_url, "laowang", true).await;
    let back = location(&world.follow(&callback).await);
    let session = world
        .exchange(&query_param(&back, "code").expect("code"), VERIFIER)
        .await;
    assert_eq!(session.body["user"]["id"], first["user"]["id"]);
    assert_eq!(session.body["user"]["user_metadata"]["full_name"], "老王");
}

#[tokio::test]
async fn wrong_app_errors_are_clear() {
    // A website AppID configured as the 公众号: WeChat shows 10005 and never comes back.
    let world = spawn_wechat(APP_ID, None, |c| {
        c.external.wechat_mp.app_id = APP_ID.into()
    })
    .await;
    let url = world.authorize("provider=wechat_mp").await;
    let page = world
        .app
        .client
        .get(url.split('#').next().expect("url"))
        .send()
        .await
        .expect("page");
    assert!(page.headers().get("location").is_none());
    assert!(page.text().await.expect("html").contains("10005"));

    // A code minted for another mini-program is refused by WeChat (40029), clearly.
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let foreign = world
        .sim_code("/sim/mini/login", "wx_sim_mini_unbound", "xiaoming")
        .await;
    let reply = world
        .get_json(&format!("/auth/v1/wechat_mini/login?code={foreign}"), None)
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "invalid_credentials")
    );
    assert!(reply.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("40029"));

    // A provider that is not configured says so.
    let bare = spawn_app().await;
    let reply = bare.get("/auth/v1/wechat_app/login?code=abc", None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "provider_disabled")
    );
}

#[tokio::test]
async fn unbound_mini_program_stays_separate_until_bound() {
    let world = spawn_wechat(APP_ID, None, |c| {
        c.external.wechat_mini.app_id = "wx_sim_mini_unbound".into();
        c.external.wechat_mini.secret = secret_of("wx_sim_mini_unbound").into();
    })
    .await;
    let web = world.login("xiaoming").await;
    let alone = mini_login(&world, "wx_sim_mini_unbound", "xiaoming").await;
    assert_ne!(
        alone.body["user"]["id"], web["user"]["id"],
        "no unionid, no automatic link"
    );
    assert!(alone.body["user"].get("wechat_unionid").is_none());

    // A binding conflict: that mini-program identity already belongs to the separate user.
    let code = world
        .sim_code("/sim/mini/login", "wx_sim_mini_unbound", "xiaoming")
        .await;
    let conflict = world
        .get_json(
            &format!("/auth/v1/wechat_mini/bind_account?code={code}"),
            Some(access_token(&web)),
        )
        .await;
    assert_eq!(
        (conflict.status, conflict.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "identity_already_exists"),
        "{}",
        conflict.body
    );

    // laowang binds first, so his mini-program logins land on his web account.
    let web = world.login("laowang").await;
    let code = world
        .sim_code("/sim/mini/login", "wx_sim_mini_unbound", "laowang")
        .await;
    let bound = world
        .get_json(
            &format!("/auth/v1/wechat_mini/bind_account?code={code}"),
            Some(access_token(&web)),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.body);
    assert_eq!(bound.body["identities"].as_array().map(Vec::len), Some(2));
    let later = mini_login(&world, "wx_sim_mini_unbound", "laowang").await;
    assert_eq!(later.body["user"]["id"], web["user"]["id"]);

    let anonymous = world
        .get_json("/auth/v1/wechat_mini/bind_account?code=x", None)
        .await;
    assert_eq!(anonymous.code(), "no_authorization");
}

#[tokio::test]
async fn bind_phone_sets_a_verified_phone() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let session = mini_login(&world, "wx_sim_mini", "xiaohong").await.body;
    let code = world
        .sim_code("/sim/mini/phone", "wx_sim_mini", "xiaohong")
        .await;
    let reply = world
        .get_json(
            &format!("/auth/v1/wechat_mini/bind_phone?code={code}"),
            Some(access_token(&session)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["phone"], "8613800000002");
    assert!(reply.body["phone_confirmed_at"].is_string());
    let again = world
        .get_json(
            &format!("/auth/v1/wechat_mini/bind_phone?code={code}"),
            Some(access_token(&session)),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::BAD_REQUEST, "invalid_credentials")
    );
}

#[tokio::test]
async fn linking_and_the_last_identity_guard() {
    let world = spawn_wechat(APP_ID, None, |c| c.security.manual_linking_enabled = true).await;
    let email = unique_email();
    let session = world.app.sign_up(&email).await;
    let token = access_token(&session);

    // Link WeChat to the email account (supabase-js linkIdentity asks for the URL as JSON).
    let query = format!(
        "{}&skip_http_redirect=true",
        world.pkce_query(&format!("{SITE}/linked"))
    );
    let reply = world
        .get_json(
            &format!("/auth/v1/user/identities/authorize?{}", query),
            Some(token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let provider_url = reply.body["url"].as_str().expect("url").to_owned();
    let callback = world
        .scan(&provider_url, PhoneAction::Confirm("xiaoming"))
        .await;
    let back = location(&world.follow(&callback).await);
    let linked = world
        .exchange(&query_param(&back, "code").expect("code"), VERIFIER)
        .await;
    assert_eq!(linked.body["user"]["id"], session["user"]["id"]);
    assert_eq!(linked.body["user"]["email"], email);

    // Now the QR login is that same account.
    let again = world.login("xiaoming").await;
    assert_eq!(again["user"]["id"], session["user"]["id"]);

    // Someone else cannot take that WeChat identity.
    let other = world.app.sign_up(&unique_email()).await;
    let reply = world
        .get_json(
            &format!("/auth/v1/user/identities/authorize?{}", query),
            Some(access_token(&other)),
        )
        .await;
    let callback = world
        .scan(
            reply.body["url"].as_str().expect("url"),
            PhoneAction::Confirm("xiaoming"),
        )
        .await;
    let back = location(&world.follow(&callback).await);
    assert_eq!(
        query_param(&back, "error_code").as_deref(),
        Some("identity_already_exists"),
        "{back}"
    );

    // Unlink: the WeChat identity can go, the last one cannot.
    let me = world.get_json("/user", Some(token)).await;
    let identity = |provider: &str| {
        me.body["identities"]
            .as_array()
            .expect("identities")
            .iter()
            .find(|i| i["provider"] == provider)
            .expect("identity")["identity_id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (wechat, email_identity) = (identity("wechat_qr"), identity("email"));
    let removed = world
        .app
        .request(
            Method::DELETE,
            &format!("/auth/v1/user/identities/{wechat}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let me = world.get_json("/user", Some(token)).await;
    assert_eq!(me.body["app_metadata"]["providers"], json!(["email"]));
    let last = world
        .app
        .request(
            Method::DELETE,
            &format!("/auth/v1/user/identities/{email_identity}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(
        (last.status, last.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "single_identity_not_deletable"
        )
    );
    let unknown = world
        .app
        .request(
            Method::DELETE,
            "/auth/v1/user/identities/00000000-0000-0000-0000-000000000000",
            Some(token),
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "identity_not_found")
    );
}

#[tokio::test]
async fn manual_linking_is_off_by_default() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let session = world.app.sign_up(&unique_email()).await;
    let reply = world
        .get_json(
            "/auth/v1/user/identities/authorize?provider=wechat_qr",
            Some(access_token(&session)),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "manual_linking_disabled")
    );
    let id = session["user"]["identities"][0]["identity_id"]
        .as_str()
        .expect("id");
    let reply = world
        .app
        .request(
            Method::DELETE,
            &format!("/user/identities/{id}"),
            Some(access_token(&session)),
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "manual_linking_disabled")
    );
}

#[tokio::test]
async fn embedded_qr_parameters_reach_wechat() {
    // wxLogin.js-style embedding: the page iframes the QR login with these parameters.
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let url = world
        .authorize(&format!(
            "{}&login_type=jssdk&self_redirect=false&style=black",
            world.pkce_query(SITE)
        ))
        .await;
    assert_eq!(query_param(&url, "login_type").as_deref(), Some("jssdk"));
    assert_eq!(query_param(&url, "self_redirect").as_deref(), Some("false"));
    let callback = world.scan(&url, PhoneAction::Confirm("xiaoming")).await;
    assert!(location(&world.follow(&callback).await).starts_with(&format!("{SITE}?code=")));
}
