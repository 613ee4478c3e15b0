//! The phone opening the mini-program from its code and driving the app server's
//! `wechat_mini/qr/*` (a fake saoma here that records what it gets).

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::flows::{MINI, MINI_SECRET};
use crate::helpers::{spawn, Sim};

type Calls = Arc<Mutex<Vec<(String, Value)>>>;

/// saoma's three endpoints: a scene `gone` is refused as GoTrue refuses.
async fn fake_saoma(
    State(calls): State<Calls>,
    Path(action): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    calls.lock().unwrap().push((action.clone(), body.clone()));
    if body["scene"] == "gone" {
        let error =
            json!({"code": 404, "error_code": "flow_state_not_found", "msg": "二维码已失效"});
        return (StatusCode::NOT_FOUND, Json(error));
    }
    let status = match action.as_str() {
        "scan" => json!({"status": "scanned", "site": "演示站点"}),
        "confirm" => json!({"status": "confirmed"}),
        _ => json!({"status": "cancelled"}),
    };
    (StatusCode::OK, Json(status))
}

/// Starts the fake saoma and points the demo mini-program at it through the route.
async fn with_saoma(sim: &Sim) -> Calls {
    let calls = Calls::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}/auth/v1", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route(
            "/auth/v1/wechat_mini/qr/{action}",
            axum::routing::post(fake_saoma),
        )
        .with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let set = sim
        .http
        .put(sim.url(&format!("/sim/apps/{MINI}/server")))
        .json(&json!({"server_url": server}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    calls
}

fn open_path(scene: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("appid", MINI)
        .append_pair("page", "pages/scan-login/index")
        .append_pair("scene", scene)
        .finish();
    format!("/sim/mini/open?{query}")
}

impl Sim {
    async fn mini_json(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn mini_form(&self, action: &str, form: &[(&str, &str)]) -> Value {
        let request = self
            .http
            .post(self.url(&format!("/sim/mini/open/{action}")))
            .form(form);
        self.mini_json(request).await
    }
}

#[tokio::test]
async fn opening_scans_and_confirming_sends_a_redeemable_code() {
    let sim = spawn().await;
    let calls = with_saoma(&sim).await;
    let opened = sim
        .mini_json(sim.http.get(sim.url(&open_path("t=1&x"))))
        .await;
    assert_eq!(
        opened,
        json!({"status": 200, "body": {"status": "scanned", "site": "演示站点"}})
    );
    let page = sim.get(&open_path("t=1&x")).await.text().await.unwrap();
    assert!(
        page.contains("演示站点")
            && page.contains("确认登录")
            && page.contains("value=\"laowang\"")
    );
    assert!(
        page.contains("name=\"scene\" value=\"t=1&amp;x\""),
        "{page}"
    );

    let form = [("appid", MINI), ("scene", "t=1&x"), ("persona", "laowang")];
    let confirmed = sim.mini_form("confirm", &form).await;
    assert_eq!(
        confirmed,
        json!({"status": 200, "body": {"status": "confirmed"}})
    );

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls[0], ("scan".to_owned(), json!({"scene": "t=1&x"})));
    let (action, body) = &calls[calls.len() - 1];
    assert_eq!(action, "confirm");
    assert_eq!(body["scene"], "t=1&x");
    let session = sim
        .jscode2session(MINI, MINI_SECRET, body["code"].as_str().unwrap())
        .await;
    assert_eq!(
        session["openid"].as_str(),
        sim.simulator.openid(MINI, "laowang").as_deref()
    );
}

#[tokio::test]
async fn cancelling_and_refusals_show_what_the_server_said() {
    let sim = spawn().await;
    let calls = with_saoma(&sim).await;
    let cancelled = sim
        .mini_form("cancel", &[("appid", MINI), ("scene", "abc")])
        .await;
    assert_eq!(cancelled["body"]["status"], "cancelled");
    assert_eq!(
        calls.lock().unwrap()[0],
        ("cancel".to_owned(), json!({"scene": "abc"}))
    );

    let refused = sim
        .mini_json(sim.http.get(sim.url(&open_path("gone"))))
        .await;
    assert_eq!(refused["status"], 404);
    assert_eq!(refused["body"]["error_code"], "flow_state_not_found");
    let page = sim.get(&open_path("gone")).await.text().await.unwrap();
    assert!(page.contains("二维码已失效"), "{page}");
    assert!(!page.contains("确认登录"));
    let form = [("appid", MINI), ("scene", "gone"), ("persona", "xiaoming")];
    let response = sim
        .http
        .post(sim.url("/sim/mini/open/confirm"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().contains("二维码已失效"));
}

#[tokio::test]
async fn without_a_server_url_the_phone_says_so() {
    let sim = spawn().await;
    let response = sim.get(&open_path("abc")).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("服务器域名"));
    assert!(sim
        .simulator
        .set_server_url(MINI, "http://127.0.0.1:1/auth/v1/"));
    assert!(!sim.simulator.set_server_url("wx_sim_mp", "http://x"));
    let unreachable = sim
        .http
        .get(sim.url(&open_path("abc")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(unreachable.status(), 502);
    let body: Value = unreachable.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with("request:fail"),
        "{body}"
    );
}
