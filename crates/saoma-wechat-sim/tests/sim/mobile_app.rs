//! Mobile-app (native SDK) login: `POST /sim/app/authorize`, then the usual `sns/*` calls.

use crate::flows::{MINI, MOBILE, MOBILE_SECRET, MP};
use crate::helpers::{assert_errcode, spawn, APP};

const AUTHORIZE: &str = "/sim/app/authorize";

#[tokio::test]
async fn the_sdk_code_buys_tokens_and_userinfo() {
    let sim = spawn().await;
    let code = sim.client_code(AUTHORIZE, MOBILE, "laowang").await;
    let tokens = sim.exchange(MOBILE, MOBILE_SECRET, &code).await;
    assert_eq!(tokens["scope"], "snsapi_userinfo");
    assert_eq!(tokens["expires_in"], 7200);
    assert_eq!(
        tokens["openid"].as_str(),
        sim.simulator.openid(MOBILE, "laowang").as_deref()
    );
    let info = sim.userinfo(&tokens).await;
    assert_eq!(info["nickname"], "老王");
    assert_eq!(info["openid"], tokens["openid"]);
    assert_eq!(info["unionid"], tokens["unionid"]);
    assert_eq!(
        info["headimgurl"],
        format!("{}/sim/avatar/laowang/132", sim.base)
    );
    assert_errcode(
        &sim.exchange(MOBILE, MOBILE_SECRET, &code).await,
        40163,
        "code been used",
    );
}

#[tokio::test]
async fn the_sdk_code_is_bound_to_the_mobile_app() {
    let sim = spawn().await;
    let code = sim.client_code(AUTHORIZE, MOBILE, "xiaoming").await;
    assert_errcode(
        &sim.exchange(APP, "sim-website-secret", &code).await,
        40029,
        "invalid code",
    );
    assert_errcode(
        &sim.exchange(MOBILE, "wrong", &code).await,
        40125,
        "invalid appsecret",
    );
    assert!(sim.exchange(MOBILE, MOBILE_SECRET, &code).await["access_token"].is_string());
}

#[tokio::test]
async fn only_mobile_apps_get_sdk_codes() {
    let sim = spawn().await;
    for (appid, persona) in [
        (APP, "xiaoming"),
        (MP, "xiaoming"),
        (MINI, "xiaoming"),
        ("wx_nope", "xiaoming"),
        (MOBILE, "nobody"),
    ] {
        let (status, body) = sim.control(AUTHORIZE, appid, persona).await;
        assert_eq!(status, 400, "{appid} {persona}");
        assert!(body["error"].is_string(), "{body}");
    }
}
