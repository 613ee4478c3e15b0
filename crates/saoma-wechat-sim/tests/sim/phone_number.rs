//! Phone numbers: `POST /sim/mini/phone`, `cgi-bin/token`, `wxa/business/getuserphonenumber`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::flows::{MINI, MINI_SECRET, MINI_UNBOUND, MINI_UNBOUND_SECRET, MOBILE, MP, MP_SECRET};
use crate::helpers::{assert_errcode, spawn, Sim, APP, SECRET};

const PHONE: &str = "/sim/mini/phone";

async fn access_token(sim: &Sim, appid: &str, secret: &str) -> String {
    let token = sim.app_token(appid, secret).await;
    assert_eq!(token["expires_in"], 7200, "{token}");
    assert_eq!(token.as_object().unwrap().len(), 2, "{token}");
    token["access_token"].as_str().unwrap().to_owned()
}

fn code_body(code: &str) -> String {
    json!({ "code": code }).to_string()
}

#[tokio::test]
async fn a_phone_code_buys_the_phone_number() {
    let sim = spawn().await;
    let token = access_token(&sim, MINI, MINI_SECRET).await;
    let code = sim.client_code(PHONE, MINI, "xiaoming").await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let answer = sim.phone_number(&token, code_body(&code)).await;
    let timestamp = answer["phone_info"]["watermark"]["timestamp"]
        .as_u64()
        .unwrap();
    assert!(timestamp >= before && timestamp <= before + 5, "{answer}");
    let expected = json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "+8613800000001",
            "purePhoneNumber": "13800000001",
            "countryCode": "86",
            "watermark": {"timestamp": timestamp, "appid": MINI},
        },
    });
    assert_eq!(answer, expected);
    // Another persona, another number.
    let code = sim.client_code(PHONE, MINI, "laowang").await;
    let answer = sim.phone_number(&token, code_body(&code)).await;
    assert_eq!(answer["phone_info"]["purePhoneNumber"], "13800000003");
}

#[tokio::test]
async fn phone_number_errors() {
    let sim = spawn().await;
    let token = access_token(&sim, MINI, MINI_SECRET).await;
    let code = sim.client_code(PHONE, MINI, "xiaohong").await;
    let stale = "invalid credential, access_token is invalid or not latest";
    assert_errcode(
        &sim.phone_number("nope", code_body(&code)).await,
        40001,
        stale,
    );
    assert_errcode(
        &sim.phone_number(&token, code_body("nope")).await,
        40029,
        "invalid code",
    );
    assert_errcode(
        &sim.phone_number(&token, "{}".to_owned()).await,
        40029,
        "invalid code",
    );
    assert_errcode(
        &sim.phone_number(&token, "not json".to_owned()).await,
        47001,
        "data format error",
    );
    // Another app's code, and a wx.login() code, are unknown to this app.
    let foreign = sim.client_code(PHONE, MINI_UNBOUND, "xiaohong").await;
    assert_errcode(
        &sim.phone_number(&token, code_body(&foreign)).await,
        40029,
        "invalid code",
    );
    let login_code = sim.client_code("/sim/mini/login", MINI, "xiaohong").await;
    assert_errcode(
        &sim.phone_number(&token, code_body(&login_code)).await,
        40029,
        "invalid code",
    );
    // Nothing above spent the code; it is single use, and reuse is plain 40029.
    let answer = sim.phone_number(&token, code_body(&code)).await;
    assert_eq!(answer["phone_info"]["phoneNumber"], "+8613800000002");
    assert_errcode(
        &sim.phone_number(&token, code_body(&code)).await,
        40029,
        "invalid code",
    );
    // The other app's own token takes its code.
    let unbound = access_token(&sim, MINI_UNBOUND, MINI_UNBOUND_SECRET).await;
    let answer = sim.phone_number(&unbound, code_body(&foreign)).await;
    assert_eq!(answer["phone_info"]["watermark"]["appid"], MINI_UNBOUND);
}

#[tokio::test]
async fn expired_phone_codes_are_invalid() {
    let sim = spawn().await;
    let token = access_token(&sim, MINI, MINI_SECRET).await;
    let code = sim.client_code(PHONE, MINI, "xiaoming").await;
    sim.put_faults(&saoma_wechat_sim::Faults {
        expire_codes: true,
        ..Default::default()
    })
    .await;
    assert_errcode(
        &sim.phone_number(&token, code_body(&code)).await,
        40029,
        "invalid code",
    );
}

#[tokio::test]
async fn client_credential_errors() {
    let sim = spawn().await;
    assert_errcode(
        &sim.app_token("wx_nope", MINI_SECRET).await,
        40013,
        "invalid appid",
    );
    // Website and mobile apps have no app access token.
    assert_errcode(&sim.app_token(APP, SECRET).await, 40013, "invalid appid");
    assert_errcode(
        &sim.app_token(MOBILE, "sim-app-secret").await,
        40013,
        "invalid appid",
    );
    assert_errcode(
        &sim.app_token(MINI, "wrong").await,
        40125,
        "invalid appsecret",
    );
    let wrong_grant: Value = sim
        .sns(
            "/cgi-bin/token",
            &[
                ("grant_type", "authorization_code"),
                ("appid", MINI),
                ("secret", MINI_SECRET),
            ],
        )
        .await;
    assert_errcode(&wrong_grant, 40002, "invalid grant_type");
    // A 公众号 has one too.
    assert!(sim.app_token(MP, MP_SECRET).await["access_token"].is_string());
}

#[tokio::test]
async fn the_phone_endpoint_takes_mini_programs_only() {
    let sim = spawn().await;
    for (appid, persona) in [(MP, "xiaoming"), (MINI, "nobody"), ("wx_nope", "xiaoming")] {
        let (status, body) = sim.control(PHONE, appid, persona).await;
        assert_eq!(status, 400, "{appid} {persona}");
        assert!(body["error"].is_string(), "{body}");
    }
}
