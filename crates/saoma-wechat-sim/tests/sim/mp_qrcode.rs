//! `cgi-bin/qrcode/create`, `cgi-bin/showqrcode` and `cgi-bin/user/info` of a 公众号.

use serde_json::{json, Value};

use crate::flows::{MINI, MP, MP_SECRET};
use crate::helpers::{assert_errcode, spawn, Sim};
use crate::pictures::qr_text;

impl Sim {
    pub async fn mp_token(&self) -> String {
        let body = self.app_token(MP, MP_SECRET).await;
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn create_qrcode(&self, access_token: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url("/cgi-bin/qrcode/create"))
            .query(&[("access_token", access_token)])
            .json(&body)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// A live `QR_STR_SCENE` code of the demo 公众号; returns its ticket.
    pub async fn mp_ticket(&self, scene: &str) -> String {
        let token = self.mp_token().await;
        let body = json!({
            "expire_seconds": 300,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        });
        let created = self.create_qrcode(&token, body).await;
        created["ticket"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    }

    pub async fn user_info(&self, access_token: &str, openid: &str) -> Value {
        let query = [
            ("access_token", access_token),
            ("openid", openid),
            ("lang", "zh_CN"),
        ];
        self.sns("/cgi-bin/user/info", &query).await
    }
}

#[tokio::test]
async fn a_temporary_code_and_its_picture() {
    let sim = spawn().await;
    let token = sim.mp_token().await;
    let body = json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "login:abc"}}});
    let created = sim.create_qrcode(&token, body).await;
    assert_eq!(created["expire_seconds"], 60, "{created}");
    let ticket = created["ticket"].as_str().unwrap();
    assert_eq!(created["url"], sim.url(&format!("/sim/mp/scan/{ticket}")));

    let picture = sim
        .http
        .get(sim.url("/cgi-bin/showqrcode"))
        .query(&[("ticket", ticket)])
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(
        qr_text(&picture.bytes().await.unwrap()),
        created["url"].as_str().unwrap()
    );
    assert_eq!(
        sim.get("/cgi-bin/showqrcode?ticket=nope").await.status(),
        404
    );

    let by_id = json!({"expire_seconds": 2592000, "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 42}}});
    assert_eq!(
        sim.create_qrcode(&token, by_id).await["expire_seconds"],
        2592000
    );
}

#[tokio::test]
async fn qrcode_create_refusals() {
    let sim = spawn().await;
    let token = sim.mp_token().await;
    let cases = [
        json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 0}}}),
        json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}}),
        json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "x".repeat(65)}}}),
        json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 1}}}),
        json!({"expire_seconds": 2592001, "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 1}}}),
    ];
    for body in cases {
        assert_errcode(
            &sim.create_qrcode(&token, body).await,
            40097,
            "invalid args",
        );
    }
    let mini_token = sim.app_token(MINI, "sim-mini-secret").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 1}}});
    assert_errcode(
        &sim.create_qrcode(&mini_token, ok).await,
        48001,
        "api unauthorized",
    );
}

#[tokio::test]
async fn user_info_of_followers_and_others() {
    let sim = spawn().await;
    let token = sim.mp_token().await;
    let openid = sim.simulator.openid(MP, "xiaoming").unwrap();
    assert_eq!(
        sim.user_info(&token, &openid).await,
        json!({"subscribe": 0, "openid": openid})
    );
    assert!(sim.simulator.set_following(MP, "xiaoming", true));
    let info = sim.user_info(&token, &openid).await;
    assert_eq!(info["subscribe"], 1);
    assert_eq!(info["openid"], openid);
    assert_eq!(
        info["unionid"].as_str(),
        sim.simulator.unionid(MP, "xiaoming").as_deref()
    );
    assert_eq!(info["subscribe_scene"], "ADD_SCENE_QR_CODE");
    assert_eq!(info["nickname"], "");
    assert_eq!(info["tagid_list"], json!([]));
    assert!(info["subscribe_time"].as_u64().unwrap() > 1_700_000_000);

    assert!(sim.simulator.set_following(MP, "xiaoming", false));
    assert_eq!(sim.user_info(&token, &openid).await["subscribe"], 0);
    let foreign = sim.simulator.openid(MINI, "xiaoming").unwrap();
    assert_errcode(
        &sim.user_info(&token, &foreign).await,
        40003,
        "invalid openid",
    );
    assert!(!sim.simulator.set_following(MINI, "xiaoming", true));
}

#[tokio::test]
async fn an_unbound_official_account_sends_no_unionid() {
    let sim = crate::helpers::spawn_with(|config| {
        let mp = config.apps.iter_mut().find(|app| app.appid == MP).unwrap();
        mp.open_platform = None;
    })
    .await;
    let token = sim.mp_token().await;
    sim.simulator.set_following(MP, "laowang", true);
    let openid = sim.simulator.openid(MP, "laowang").unwrap();
    let info = sim.user_info(&token, &openid).await;
    assert_eq!(info["subscribe"], 1);
    assert!(info.get("unionid").is_none(), "{info}");
}
