//! `sns/oauth2/access_token` and `sns/oauth2/refresh_token`: WeChat's JSON and every errcode.

use serde_json::Value;

use crate::helpers::{assert_errcode, spawn, Sim, APP, APP_B, SECRET, SECRET_B};

async fn refresh(sim: &Sim, appid: &str, grant_type: &str, refresh_token: &str) -> Value {
    let query = [
        ("appid", appid),
        ("grant_type", grant_type),
        ("refresh_token", refresh_token),
    ];
    sim.sns("/sns/oauth2/refresh_token", &query).await
}

#[tokio::test]
async fn a_code_buys_tokens_as_wechat_sends_them() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaohong").await;
    let response = sim
        .http
        .get(sim.url("/sns/oauth2/access_token"))
        .query(&[
            ("appid", APP),
            ("secret", SECRET),
            ("code", code.as_str()),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"access_token\":\""), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "access_token",
        "expires_in",
        "refresh_token",
        "openid",
        "scope",
        "unionid",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["scope"], "snsapi_login");
    assert_eq!(
        body["openid"].as_str(),
        sim.simulator.openid(APP, "xiaohong").as_deref()
    );
    assert_eq!(
        body["unionid"].as_str(),
        sim.simulator.unionid(APP, "xiaohong").as_deref()
    );
    assert_ne!(body["access_token"], body["refresh_token"]);
}

#[tokio::test]
async fn a_code_is_single_use() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    assert!(sim.exchange(APP, SECRET, &code).await["access_token"].is_string());
    let again = sim.exchange(APP, SECRET, &code).await;
    assert_errcode(&again, 40163, "code been used");
}

#[tokio::test]
async fn appid_and_secret_are_checked_first() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    assert_errcode(
        &sim.exchange("wx_nope", SECRET, &code).await,
        40013,
        "invalid appid",
    );
    assert_errcode(
        &sim.exchange("", SECRET, &code).await,
        41002,
        "appid missing",
    );
    assert_errcode(
        &sim.exchange(APP, SECRET_B, &code).await,
        40125,
        "invalid appsecret",
    );
    assert_errcode(&sim.exchange(APP, "", "").await, 41004, "appsecret missing");
    // None of the refusals spent the code.
    assert!(sim.exchange(APP, SECRET, &code).await["openid"].is_string());
}

#[tokio::test]
async fn grant_type_must_be_authorization_code() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    let body = sim
        .sns(
            "/sns/oauth2/access_token",
            &[
                ("appid", APP),
                ("secret", SECRET),
                ("code", code.as_str()),
                ("grant_type", "client_credential"),
            ],
        )
        .await;
    assert_errcode(&body, 40002, "invalid grant_type");
    let missing = sim
        .sns(
            "/sns/oauth2/access_token",
            &[("appid", APP), ("secret", SECRET), ("code", code.as_str())],
        )
        .await;
    assert_errcode(&missing, 40002, "invalid grant_type");
}

#[tokio::test]
async fn missing_unknown_and_foreign_codes() {
    let sim = spawn().await;
    assert_errcode(&sim.exchange(APP, SECRET, "").await, 41008, "missing code");
    assert_errcode(
        &sim.exchange(APP, SECRET, "0617Zb000xKaLQ1Wxs300mnQ7W27Zb0C")
            .await,
        40029,
        "invalid code",
    );
    let code_b = sim.login(APP_B, "xiaoming").await;
    assert_errcode(
        &sim.exchange(APP, SECRET, &code_b).await,
        40029,
        "invalid code",
    );
    assert!(sim.exchange(APP_B, SECRET_B, &code_b).await["openid"].is_string());
}

#[tokio::test]
async fn the_api_also_answers_post() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    let response = sim
        .http
        .post(sim.url("/sns/oauth2/access_token"))
        .query(&[
            ("appid", APP),
            ("secret", SECRET),
            ("code", code.as_str()),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(body["access_token"].is_string(), "{body}");
}

#[tokio::test]
async fn refresh_gives_a_new_access_token_and_keeps_the_refresh_token() {
    let sim = spawn().await;
    let code = sim.login(APP, "laowang").await;
    let tokens = sim.exchange(APP, SECRET, &code).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refreshed = refresh(&sim, APP, "refresh_token", refresh_token).await;
    assert_eq!(refreshed["refresh_token"], refresh_token);
    assert_eq!(refreshed["openid"], tokens["openid"]);
    assert_eq!(refreshed["expires_in"], 7200);
    assert_eq!(refreshed["scope"], "snsapi_login");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);

    assert_errcode(
        &refresh(&sim, APP, "refresh_token", "nope").await,
        40030,
        "invalid refresh_token",
    );
    assert_errcode(
        &refresh(&sim, APP_B, "refresh_token", refresh_token).await,
        40030,
        "invalid refresh_token",
    );
    assert_errcode(
        &refresh(&sim, APP, "authorization_code", refresh_token).await,
        40002,
        "invalid grant_type",
    );
    assert_errcode(
        &refresh(&sim, "wx_nope", "refresh_token", refresh_token).await,
        40013,
        "invalid appid",
    );
    assert_errcode(
        &refresh(&sim, APP, "refresh_token", "").await,
        41003,
        "refresh_token missing",
    );
}
