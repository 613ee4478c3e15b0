//! `wxa/getwxacodeunlimit`: a code that decodes to the phone opening the page with the
//! scene, and WeChat's errcodes.

use saoma_wechat_sim::Faults;
use serde_json::{json, Value};

use crate::flows::{MINI, MINI_SECRET, MP, MP_SECRET};
use crate::helpers::{assert_errcode, spawn, Sim};
use crate::pictures::qr_text;

impl Sim {
    pub async fn mini_token(&self) -> String {
        let body = self.app_token(MINI, MINI_SECRET).await;
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn wxacode(&self, access_token: &str, body: String) -> reqwest::Response {
        self.http
            .post(self.url("/wxa/getwxacodeunlimit"))
            .query(&[("access_token", access_token)])
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A refusal's JSON, asserting WeChat's `application/json`.
    pub async fn wxacode_error(&self, access_token: &str, body: Value) -> Value {
        let response = self.wxacode(access_token, body.to_string()).await;
        assert_eq!(response.headers()["content-type"], "application/json");
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn the_code_opens_the_page_with_the_scene() {
    let sim = spawn().await;
    let token = sim.mini_token().await;
    let body = json!({"scene": "t=Ab9_x&y", "page": "pages/scan-login/index", "width": 280});
    let response = sim.wxacode(&token, body.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let text = qr_text(&response.bytes().await.unwrap());
    let url = url::Url::parse(&text).unwrap();
    assert_eq!(
        url.as_str().split('?').next().unwrap(),
        sim.url("/sim/mini/open")
    );
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let value = |name: &str| query.iter().find(|(key, _)| key == name).unwrap().1.clone();
    assert_eq!(value("appid"), MINI);
    assert_eq!(value("page"), "pages/scan-login/index");
    assert_eq!(value("scene"), "t=Ab9_x&y");
    // The scene is URL-encoded in the code, as WeChat hands it to the page.
    assert!(text.contains("scene=t%3DAb9_x%26y"), "{text}");
}

#[tokio::test]
async fn unpublished_pages_only_outside_release_or_without_check_path() {
    let sim = spawn().await;
    let token = sim.mini_token().await;
    let draft = json!({"scene": "a", "page": "pages/draft/index"});
    assert_errcode(
        &sim.wxacode_error(&token, draft).await,
        41030,
        "invalid page",
    );
    for body in [
        json!({"scene": "a", "page": "pages/draft/index", "env_version": "develop"}),
        json!({"scene": "a", "page": "pages/draft/index", "check_path": false}),
        json!({"scene": "a"}),
    ] {
        assert_eq!(sim.wxacode(&token, body.to_string()).await.status(), 200);
    }
}

#[tokio::test]
async fn errcodes() {
    let sim = spawn().await;
    let token = sim.mini_token().await;
    let cases = [
        (json!({"scene": "x".repeat(33)}), 40129, "invalid scene"),
        (json!({"scene": "a%20b"}), 40129, "invalid scene"),
        (json!({"scene": "中文"}), 40129, "invalid scene"),
        (
            json!({"scene": "a", "page": "/pages/index/index"}),
            41030,
            "invalid page",
        ),
        (
            json!({"scene": "a", "page": "pages/index/index?x=1"}),
            41030,
            "invalid page",
        ),
        (json!({"scene": "a", "width": 279}), 40097, "invalid args"),
        (json!({"scene": "a", "width": 1281}), 40097, "invalid args"),
        (
            json!({"scene": "a", "env_version": "beta"}),
            40097,
            "invalid args",
        ),
        (
            json!({"scene": "a", "width": "430"}),
            47001,
            "data format error",
        ),
    ];
    for (body, errcode, errmsg) in cases {
        assert_errcode(&sim.wxacode_error(&token, body).await, errcode, errmsg);
    }
    let form = sim.wxacode(&token, "scene=a".to_owned()).await;
    assert_errcode(&form.json().await.unwrap(), 47001, "data format error");

    let mp_token = sim.app_token(MP, MP_SECRET).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = json!({"scene": "a"});
    assert_errcode(
        &sim.wxacode_error(&mp_token, ok.clone()).await,
        48001,
        "api unauthorized",
    );
    let stale = sim.wxacode_error("nope", ok.clone()).await;
    assert_eq!(stale["errcode"], 40001, "{stale}");
    sim.simulator.expire_app_tokens(MINI);
    assert_errcode(
        &sim.wxacode_error(&token, ok).await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn the_rate_limit_fault_refuses_the_next_calls() {
    let sim = spawn().await;
    let token = sim.mini_token().await;
    sim.put_faults(&Faults {
        wxacode_rate_limit: 2,
        ..Faults::default()
    })
    .await;
    let body = json!({"scene": "a"});
    for _ in 0..2 {
        let refused = sim.wxacode_error(&token, body.clone()).await;
        assert_eq!(refused["errcode"], 45009, "{refused}");
    }
    assert_eq!(sim.wxacode(&token, body.to_string()).await.status(), 200);
}
