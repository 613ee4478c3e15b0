//! The OAuth paths an attacker tries: completing someone's link URL, replaying a callback URL,
//! and writing WeChat's identifiers into `user_metadata`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{helpers::*, wechat_helpers::*};

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("claims")
}

/// The providers of `user`'s identities, sorted.
fn providers_of(user: &Value) -> Vec<String> {
    let mut providers: Vec<String> = user["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| i["provider"].as_str().expect("provider").to_owned())
        .collect();
    providers.sort();
    providers
}

async fn link_url(world: &WeChatWorld, token: &str, query: &str) -> Reply {
    world
        .get_json(
            &format!("/auth/v1/user/identities/authorize?{query}"),
            Some(token),
        )
        .await
}

#[tokio::test]
async fn linking_without_pkce_is_refused() {
    let world = spawn_wechat(APP_ID, None, |c| c.security.manual_linking_enabled = true).await;
    let session = world.app.sign_up(&unique_email()).await;
    for query in [
        "provider=wechat_qr&skip_http_redirect=true",
        "provider=wechat_qr",
        &format!("provider=wechat_qr&redirect_to={SITE}/linked"),
    ] {
        let reply = link_url(&world, access_token(&session), query).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_stranger_completing_a_link_url_gets_nothing() {
    let world = spawn_wechat(APP_ID, None, |c| c.security.manual_linking_enabled = true).await;
    let victim = world.app.sign_up(&unique_email()).await;
    let token = access_token(&victim);
    let query = format!(
        "{}&skip_http_redirect=true",
        world.pkce_query(&format!("{SITE}/linked"))
    );

    // The link URL leaks (a screenshot, a shared screen); a stranger completes it with their
    // own WeChat, in their own browser.
    let leaked = link_url(&world, token, &query).await;
    let url = leaked.body["url"].as_str().expect("url");
    let callback = world.scan(url, PhoneAction::Confirm("xiaohong")).await;
    let back = location(&world.follow(&callback).await);
    assert!(!back.contains("access_token"), "no session: {back}");
    assert!(back.starts_with(&format!("{SITE}/linked?code=")), "{back}");
    let stranger_code = query_param(&back, "code").expect("code");
    let without_verifier = world
        .exchange(&stranger_code, &VERIFIER.replace('0', "1"))
        .await;
    assert_eq!(
        (without_verifier.status, without_verifier.code()),
        (StatusCode::BAD_REQUEST, "bad_code_verifier")
    );
    let me = world.get_json("/user", Some(token)).await;
    assert_eq!(providers_of(&me.body), ["email"], "nothing attached");
    let stranger = world.login("xiaohong").await;
    assert_ne!(
        stranger["user"]["id"], victim["user"]["id"],
        "the stranger's WeChat is not a way into the victim's account"
    );

    // The victim links their own WeChat: attached when their client exchanges the code.
    let reply = link_url(&world, token, &query).await;
    let url = reply.body["url"].as_str().expect("url");
    let callback = world.scan(url, PhoneAction::Confirm("xiaoming")).await;
    let back = location(&world.follow(&callback).await);
    assert!(!back.contains("access_token"), "{back}");
    let code = query_param(&back, "code").expect("code");
    let me = world.get_json("/user", Some(token)).await;
    assert_eq!(providers_of(&me.body), ["email"], "not before the exchange");

    let linked = world.exchange(&code, VERIFIER).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    assert_eq!(linked.body["user"]["id"], victim["user"]["id"]);
    assert!(linked.body["provider_token"].is_string());
    let unionid = world.sim.unionid(APP_ID, "xiaoming").expect("unionid");
    assert_eq!(linked.body["user"]["wechat_unionid"], unionid);
    assert_eq!(providers_of(&linked.body["user"]), ["email", "wechat_qr"]);
    let again = world.exchange(&code, VERIFIER).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "flow_state_not_found")
    );
    let via_wechat = world.login("xiaoming").await;
    assert_eq!(via_wechat["user"]["id"], victim["user"]["id"]);
}

#[tokio::test]
async fn replayed_implicit_callbacks_mint_no_sessions() {
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
    let first = location(&world.follow(&callback).await);
    let token = fragment_param(&first, "access_token").expect("the login's session");

    // The callback URL is seen again (a duplicate redirect, proxy logs, history).
    for _ in 0..3 {
        let replay = location(&world.follow(&callback).await);
        assert_eq!(replay, format!("{SITE}/welcome"), "no tokens, no error");
    }
    // The login that succeeded still works.
    let me = world.get_json("/user", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["user_metadata"]["full_name"], "小红");
}

#[tokio::test]
async fn wechat_ids_in_user_metadata_come_from_the_identities() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let session = world.login("xiaoming").await;
    let token = access_token(&session);
    let openid = world.sim.openid(APP_ID, "xiaoming").expect("openid");
    let unionid = world.sim.unionid(APP_ID, "xiaoming").expect("unionid");
    let forged = json!({"data": {
        "unionid": "forged-unionid", "openid": "forged-openid", "sub": "forged-sub",
        "provider_id": "forged-sub", "nickname": "明明"
    }});

    let put = world
        .app
        .request(
            Method::PUT,
            "/auth/v1/user",
            Some(token),
            Some(forged.clone()),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let me = world.get_json("/user", Some(token)).await;
    let refreshed = world.app.refresh(refresh_token(&session)).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let token_metadata = claims(access_token(&refreshed.body))["user_metadata"].clone();
    for (what, user) in [
        ("PUT /user", &put.body),
        ("GET /user", &me.body),
        ("refreshed session", &refreshed.body["user"]),
    ] {
        assert_eq!(user["wechat_unionid"], unionid, "{what}");
        assert_eq!(user["wechat_id"], openid, "{what}");
        let metadata = &user["user_metadata"];
        assert_eq!(metadata["unionid"], unionid, "{what}");
        assert_eq!(metadata["openid"], openid, "{what}");
        assert_eq!(metadata["sub"], unionid, "{what}");
        assert_eq!(
            metadata["nickname"], "明明",
            "{what}: the user's own keys are theirs"
        );
    }
    assert_eq!(token_metadata["unionid"], unionid);
    assert_eq!(token_metadata["openid"], openid);
    assert_eq!(token_metadata["sub"], unionid);
    assert_eq!(token_metadata["provider_id"], unionid);

    // Someone without WeChat cannot pose as another person's WeChat account.
    let forger = world.app.sign_up(&unique_email()).await;
    let theirs = world
        .sim
        .unionid("wx_sim_mini", "xiaohong")
        .expect("unionid");
    let put = world
        .app
        .request(
            Method::PUT,
            "/auth/v1/user",
            Some(access_token(&forger)),
            Some(json!({"data": {"unionid": theirs, "openid": "o-forged"}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let refreshed = world.app.refresh(refresh_token(&forger)).await;
    let token_metadata = claims(access_token(&refreshed.body))["user_metadata"].clone();
    for metadata in [&put.body["user_metadata"], &token_metadata] {
        assert!(metadata.get("unionid").is_none(), "{metadata}");
        assert!(metadata.get("openid").is_none(), "{metadata}");
    }
    assert!(refreshed.body["user"].get("wechat_unionid").is_none());
    // Sibling apps are joined by identities, not by what a user wrote.
    let code = world
        .sim_code("/sim/mini/login", "wx_sim_mini", "xiaohong")
        .await;
    let mini = world
        .get_json(&format!("/auth/v1/wechat_mini/login?code={code}"), None)
        .await;
    assert_eq!(mini.status, StatusCode::OK, "{}", mini.body);
    assert_ne!(mini.body["user"]["id"], forger["user"]["id"]);
}
