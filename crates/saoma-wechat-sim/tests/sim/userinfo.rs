//! `sns/userinfo`, `sns/auth`, and openids/unionids across apps.

use serde_json::Value;

use crate::helpers::{
    assert_errcode, spawn, Sim, APP, APP_B, SECRET, SECRET_B, UNBOUND, UNBOUND_SECRET,
};

async fn tokens(sim: &Sim, appid: &str, secret: &str, persona: &str) -> Value {
    let code = sim.login(appid, persona).await;
    sim.exchange(appid, secret, &code).await
}

async fn userinfo(sim: &Sim, access_token: &str, openid: &str) -> Value {
    sim.sns(
        "/sns/userinfo",
        &[
            ("access_token", access_token),
            ("openid", openid),
            ("lang", "zh_CN"),
        ],
    )
    .await
}

async fn auth(sim: &Sim, access_token: &str, openid: &str) -> Value {
    sim.sns(
        "/sns/auth",
        &[("access_token", access_token), ("openid", openid)],
    )
    .await
}

fn str_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key].as_str().unwrap()
}

#[tokio::test]
async fn userinfo_has_wechat_fields() {
    let sim = spawn().await;
    let tokens = tokens(&sim, APP, SECRET, "xiaohong").await;
    let (access_token, openid) = (str_of(&tokens, "access_token"), str_of(&tokens, "openid"));
    let info = userinfo(&sim, access_token, openid).await;
    let expected = serde_json::json!({
        "openid": openid,
        "nickname": "小红",
        "sex": 0,
        "language": "",
        "city": "",
        "province": "",
        "country": "",
        "headimgurl": format!("{}/sim/avatar/xiaohong/132", sim.base),
        "privilege": [],
        "unionid": tokens["unionid"],
    });
    assert_eq!(info, expected);
    let avatar = sim
        .http
        .get(str_of(&info, "headimgurl"))
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), 200);
}

#[tokio::test]
async fn userinfo_errors() {
    let sim = spawn().await;
    let tokens = tokens(&sim, APP, SECRET, "xiaohong").await;
    let (access_token, openid) = (str_of(&tokens, "access_token"), str_of(&tokens, "openid"));
    assert_errcode(
        &userinfo(&sim, "nope", openid).await,
        40014,
        "invalid access_token",
    );
    let other = sim.simulator.openid(APP, "xiaoming").unwrap();
    assert_errcode(
        &userinfo(&sim, access_token, &other).await,
        40003,
        "invalid openid",
    );
    assert_errcode(
        &userinfo(&sim, "", openid).await,
        41001,
        "access_token missing",
    );
}

#[tokio::test]
async fn auth_checks_a_token_against_an_openid() {
    let sim = spawn().await;
    let tokens = tokens(&sim, APP, SECRET, "laowang").await;
    let (access_token, openid) = (str_of(&tokens, "access_token"), str_of(&tokens, "openid"));
    let ok = auth(&sim, access_token, openid).await;
    assert_eq!(ok, serde_json::json!({"errcode": 0, "errmsg": "ok"}));
    assert_errcode(
        &auth(&sim, "nope", openid).await,
        40001,
        "invalid credential",
    );
    let other = sim.simulator.openid(APP_B, "laowang").unwrap();
    assert_errcode(
        &auth(&sim, access_token, &other).await,
        40003,
        "invalid openid",
    );
}

#[tokio::test]
async fn one_open_platform_shares_the_unionid_not_the_openid() {
    let sim = spawn().await;
    let a = tokens(&sim, APP, SECRET, "xiaoming").await;
    let b = tokens(&sim, APP_B, SECRET_B, "xiaoming").await;
    assert_ne!(a["openid"], b["openid"]);
    assert_eq!(a["unionid"], b["unionid"]);
    assert_eq!(str_of(&a, "unionid").len(), 28);
    assert_ne!(a["unionid"], a["openid"]);
    let someone_else = tokens(&sim, APP, SECRET, "xiaohong").await;
    assert_ne!(a["unionid"], someone_else["unionid"]);
}

#[tokio::test]
async fn an_unbound_app_gets_no_unionid_at_all() {
    let sim = spawn().await;
    let tokens = tokens(&sim, UNBOUND, UNBOUND_SECRET, "xiaoming").await;
    assert!(tokens.get("unionid").is_none(), "{tokens}");
    let info = userinfo(
        &sim,
        str_of(&tokens, "access_token"),
        str_of(&tokens, "openid"),
    )
    .await;
    assert!(info.get("unionid").is_none(), "{info}");
    assert!(info["openid"].is_string());
    assert_eq!(sim.simulator.unionid(UNBOUND, "xiaoming"), None);
    assert!(sim.simulator.openid(UNBOUND, "xiaoming").is_some());
    assert_eq!(sim.simulator.openid("wx_nope", "xiaoming"), None);
}
