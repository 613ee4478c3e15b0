//! Mini-program login: `POST /sim/mini/login` (`wx.login()`) and `sns/jscode2session`.

use saoma_wechat_sim::Faults;

use crate::flows::{MINI, MINI_SECRET, MINI_UNBOUND, MINI_UNBOUND_SECRET, MOBILE};
use crate::helpers::{assert_errcode, spawn, APP, SECRET};

const LOGIN: &str = "/sim/mini/login";

#[tokio::test]
async fn jscode2session_answers_session_key_openid_and_unionid() {
    let sim = spawn().await;
    let code = sim.client_code(LOGIN, MINI, "xiaoming").await;
    let response = sim
        .http
        .get(sim.url("/sns/jscode2session"))
        .query(&[
            ("appid", MINI),
            ("secret", MINI_SECRET),
            ("js_code", code.as_str()),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"session_key\":\""), "{text}");
    let session: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(session.as_object().unwrap().len(), 3, "{session}");
    assert_eq!(session["session_key"].as_str().unwrap().len(), 24);
    assert_eq!(
        session["openid"].as_str(),
        sim.simulator.openid(MINI, "xiaoming").as_deref()
    );
    assert_eq!(
        session["unionid"].as_str(),
        sim.simulator.unionid(MINI, "xiaoming").as_deref()
    );
}

#[tokio::test]
async fn an_unbound_mini_program_gets_no_unionid() {
    let sim = spawn().await;
    let code = sim.client_code(LOGIN, MINI_UNBOUND, "xiaohong").await;
    let session = sim
        .jscode2session(MINI_UNBOUND, MINI_UNBOUND_SECRET, &code)
        .await;
    assert!(session.get("unionid").is_none(), "{session}");
    assert_eq!(
        session["openid"].as_str(),
        sim.simulator.openid(MINI_UNBOUND, "xiaohong").as_deref()
    );
    assert!(session["session_key"].is_string());
}

#[tokio::test]
async fn jscode2session_errcodes() {
    let sim = spawn().await;
    let code = sim.client_code(LOGIN, MINI, "xiaoming").await;
    assert_errcode(
        &sim.jscode2session("wx_nope", MINI_SECRET, &code).await,
        40013,
        "invalid appid",
    );
    // A website's appid, even with its own secret, is not a mini-program.
    assert_errcode(
        &sim.jscode2session(APP, SECRET, &code).await,
        40013,
        "invalid appid",
    );
    assert_errcode(
        &sim.jscode2session(MINI, "wrong", &code).await,
        40125,
        "invalid appsecret",
    );
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, "").await,
        41008,
        "missing code",
    );
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, "nope").await,
        40029,
        "invalid code",
    );
    // Another mini-program's code is unknown here.
    let other = sim.client_code(LOGIN, MINI_UNBOUND, "xiaoming").await;
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, &other).await,
        40029,
        "invalid code",
    );
    // None of the refusals spent the code; it is single use.
    assert!(sim.jscode2session(MINI, MINI_SECRET, &code).await["openid"].is_string());
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, &code).await,
        40163,
        "code been used",
    );
}

#[tokio::test]
async fn a_js_code_is_not_an_oauth_code() {
    let sim = spawn().await;
    let code = sim.client_code(LOGIN, MINI, "xiaoming").await;
    assert_errcode(
        &sim.exchange(MINI, MINI_SECRET, &code).await,
        40029,
        "invalid code",
    );
    assert!(sim.jscode2session(MINI, MINI_SECRET, &code).await["openid"].is_string());
}

#[tokio::test]
async fn busy_and_expired_codes() {
    let sim = spawn().await;
    let code = sim.client_code(LOGIN, MINI, "laowang").await;
    sim.put_faults(&Faults {
        busy: 1,
        ..Faults::default()
    })
    .await;
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, &code).await,
        -1,
        "system error",
    );
    sim.put_faults(&Faults {
        expire_codes: true,
        ..Faults::default()
    })
    .await;
    assert_errcode(
        &sim.jscode2session(MINI, MINI_SECRET, &code).await,
        40029,
        "invalid code",
    );
    sim.put_faults(&Faults::default()).await;
    assert!(sim.jscode2session(MINI, MINI_SECRET, &code).await["openid"].is_string());
}

#[tokio::test]
async fn the_login_endpoint_refuses_unknown_apps_personas_and_other_kinds() {
    let sim = spawn().await;
    for (appid, persona) in [
        ("wx_nope", "xiaoming"),
        (MINI, "nobody"),
        (APP, "xiaoming"),
        (MOBILE, "xiaoming"),
    ] {
        let (status, body) = sim.control(LOGIN, appid, persona).await;
        assert_eq!(status, 400, "{appid} {persona}");
        assert!(body["error"].is_string(), "{body}");
    }
    let malformed = sim
        .http
        .post(sim.url(LOGIN))
        .header("content-type", "application/json")
        .body("{\"appid\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}
