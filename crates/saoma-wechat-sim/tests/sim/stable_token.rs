//! `cgi-bin/stable_token` next to `cgi-bin/token`: the same token, forced refreshes and their
//! limits, isolated families, the daily quota and the counters a test reads.

use serde_json::{json, Value};

use crate::flows::{MINI, MINI_SECRET, MP, MP_SECRET};
use crate::helpers::{assert_errcode, spawn, spawn_with, Sim};

impl Sim {
    pub async fn stable_token(&self, body: Value) -> Value {
        let response = self
            .http
            .post(self.url("/cgi-bin/stable_token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    pub async fn stable(&self, appid: &str, secret: &str, force: bool) -> Value {
        let body = json!({
            "grant_type": "client_credential",
            "appid": appid,
            "secret": secret,
            "force_refresh": force,
        });
        self.stable_token(body).await
    }

    /// Whether `access_token` still works, by the errcode of a call that needs it (0: ok).
    pub async fn token_errcode(&self, access_token: &str) -> i64 {
        let response = self
            .http
            .post(self.url("/cgi-bin/qrcode/create"))
            .query(&[("access_token", access_token)])
            .body(r#"{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":1}}}"#)
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        body["errcode"].as_i64().unwrap_or(0)
    }
}

fn token(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test]
async fn normal_mode_hands_out_the_same_token() {
    let sim = spawn().await;
    let first = sim.stable(MP, MP_SECRET, false).await;
    let second = sim.stable(MP, MP_SECRET, false).await;
    assert_eq!(token(&first), token(&second));
    assert_eq!(first["expires_in"], 7200);
    assert!(second["expires_in"].as_u64().unwrap() <= 7200);
    assert_eq!(sim.token_errcode(&token(&first)).await, 0);
    let stats = sim.simulator.token_stats(MP);
    assert_eq!(stats.stable_fetches, 2);
    assert_eq!(stats.forced_refreshes, 0);
}

#[tokio::test]
async fn a_forced_refresh_kills_the_current_token_and_waits_30_seconds() {
    let sim = spawn().await;
    let old = token(&sim.stable(MP, MP_SECRET, false).await);
    let forced = token(&sim.stable(MP, MP_SECRET, true).await);
    assert_ne!(forced, old);
    assert_eq!(sim.token_errcode(&old).await, 40001);
    assert_eq!(sim.token_errcode(&forced).await, 0);
    assert_eq!(token(&sim.stable(MP, MP_SECRET, false).await), forced);
    let again = sim.stable(MP, MP_SECRET, true).await;
    assert_eq!(again["errcode"], 45011, "{again}");
    // Refused: nothing changed.
    assert_eq!(sim.token_errcode(&forced).await, 0);
    assert_eq!(sim.simulator.token_stats(MP).forced_refreshes, 1);
}

#[tokio::test]
async fn the_two_families_never_retire_each_other() {
    let sim = spawn().await;
    let stable = token(&sim.stable(MP, MP_SECRET, false).await);
    let classic = token(&sim.app_token(MP, MP_SECRET).await);
    sim.app_token(MP, MP_SECRET).await;
    assert_eq!(sim.token_errcode(&stable).await, 0);
    assert_eq!(token(&sim.stable(MP, MP_SECRET, false).await), stable);
    sim.stable(MP, MP_SECRET, true).await;
    assert_eq!(sim.token_errcode(&classic).await, 0);
}

#[tokio::test]
async fn stable_token_refusals() {
    let sim = spawn().await;
    let form = sim
        .http
        .post(sim.url("/cgi-bin/stable_token"))
        .form(&[
            ("grant_type", "client_credential"),
            ("appid", MP),
            ("secret", MP_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let form: Value = serde_json::from_str(&form.text().await.unwrap()).unwrap();
    assert_errcode(&form, 47001, "data format error");
    assert_errcode(
        &sim.stable(MP, "wrong", false).await,
        40125,
        "invalid appsecret",
    );
    assert_errcode(
        &sim.stable("wx_nope", MP_SECRET, false).await,
        40013,
        "invalid appid",
    );
    let grant = json!({"grant_type": "password", "appid": MP, "secret": MP_SECRET});
    assert_errcode(&sim.stable_token(grant).await, 40002, "invalid grant_type");
    assert_eq!(sim.simulator.token_stats(MP).stable_fetches, 0);
}

#[tokio::test]
async fn cgi_bin_token_has_a_daily_quota_and_counters() {
    let sim = spawn_with(|config| config.token_daily_quota = 2).await;
    sim.app_token(MINI, MINI_SECRET).await;
    sim.app_token(MINI, MINI_SECRET).await;
    assert_errcode(
        &sim.app_token(MINI, MINI_SECRET).await,
        45009,
        "reach max api daily quota limit",
    );
    // Per app: the 公众号's quota is untouched.
    assert!(sim.app_token(MP, MP_SECRET).await["access_token"].is_string());
    sim.stable(MINI, MINI_SECRET, false).await;
    sim.stable(MINI, MINI_SECRET, true).await;
    let all: Value = sim.get("/sim/tokens").await.json().await.unwrap();
    assert_eq!(
        all[MINI],
        json!({"token_fetches": 2, "stable_fetches": 1, "forced_refreshes": 1})
    );
    assert_eq!(all[MP]["token_fetches"], 1);
    let one: Value = sim
        .get(&format!("/sim/tokens?appid={MINI}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, all[MINI]);
}

#[tokio::test]
async fn expiring_an_apps_tokens_makes_them_answer_42001() {
    let sim = spawn().await;
    let stable = token(&sim.stable(MP, MP_SECRET, false).await);
    let classic = token(&sim.app_token(MP, MP_SECRET).await);
    sim.simulator.expire_app_tokens(MP);
    assert_eq!(sim.token_errcode(&stable).await, 42001);
    assert_eq!(sim.token_errcode(&classic).await, 42001);
    let renewed = token(&sim.stable(MP, MP_SECRET, false).await);
    assert_ne!(renewed, stable);
    assert_eq!(sim.token_errcode(&renewed).await, 0);

    let response = sim
        .http
        .post(sim.url(&format!("/sim/tokens/{MP}/expire")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sim.token_errcode(&renewed).await, 42001);
}
