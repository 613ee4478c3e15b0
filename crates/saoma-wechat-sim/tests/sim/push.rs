//! Scanning a 公众号's code on the phone: follow, and the events WeChat pushes to the app's
//! server (a fake one here), signed, plain or encrypted, retried, duplicated.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use saoma_wechat_sim::push::crypto::{signature, AesKey};
use saoma_wechat_sim::push::xml::field;
use saoma_wechat_sim::{Faults, PushConfig, PushMode};
use serde_json::{json, Value};

use crate::flows::MP;
use crate::helpers::{spawn, spawn_with, Sim};

const TOKEN: &str = "sim-push-token";
const AES_KEY: &str = "simPushEncodingAesKey0123456789abcdefghijkA";
/// The push timeout of the test that has a slow answer: long enough for the answers that are
/// not slow on a loaded machine.
const PUSH_TIMEOUT_MS: u64 = 1000;
/// How long a slow answer takes: far past [`PUSH_TIMEOUT_MS`] (the test ends before it).
const SLOW_REPLY: Duration = Duration::from_secs(30);

/// How the fake server answers, in order; once they run out, `success`.
#[derive(Clone, Copy)]
enum Reply {
    Text(&'static str),
    /// Answers `success` long after the push timeout ([`SLOW_REPLY`]).
    Slow,
}

#[derive(Debug, Clone)]
struct Received {
    query: HashMap<String, String>,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    RawQuery(query): RawQuery,
    body: String,
) -> String {
    let query = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    receiver.seen.lock().unwrap().push(Received { query, body });
    let reply = receiver.replies.lock().unwrap().pop_front();
    match reply {
        Some(Reply::Text(text)) => text.to_owned(),
        Some(Reply::Slow) => {
            tokio::time::sleep(SLOW_REPLY).await;
            "success".to_owned()
        }
        None => "success".to_owned(),
    }
}

impl Receiver {
    /// Serves on a free port; returns its push URL.
    async fn start(&self, replies: &[Reply]) -> String {
        self.replies.lock().unwrap().extend(replies.iter().copied());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/wechat/push?app=1",
            listener.local_addr().unwrap()
        );
        let router = axum::Router::new()
            .route("/wechat/push", axum::routing::post(receive))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

impl Received {
    fn param(&self, name: &str) -> &str {
        self.query.get(name).map_or("", String::as_str)
    }

    fn signed(&self) -> bool {
        self.param("signature") == signature(&[TOKEN, self.param("timestamp"), self.param("nonce")])
    }

    /// The event XML, decrypted in safe mode after checking msg_signature and the appid.
    fn message(&self) -> String {
        if self.param("encrypt_type") != "aes" {
            return self.body.clone();
        }
        let encrypt = field(&self.body, "Encrypt").unwrap();
        let expected = signature(&[
            TOKEN,
            self.param("timestamp"),
            self.param("nonce"),
            &encrypt,
        ]);
        assert_eq!(self.param("msg_signature"), expected);
        let (xml, appid) = AesKey::from_encoding_key(AES_KEY)
            .unwrap()
            .decrypt(&encrypt)
            .unwrap();
        assert_eq!(appid, MP);
        xml
    }
}

impl Sim {
    fn push_to(&self, url: &str, mode: PushMode) {
        let push = PushConfig {
            url: Some(url.to_owned()),
            token: TOKEN.to_owned(),
            encoding_aes_key: AES_KEY.to_owned(),
            mode,
        };
        assert!(self.simulator.set_push(MP, push));
    }

    /// The phone confirms the scan as `persona`; returns the JSON answer.
    pub async fn mp_scan(&self, ticket: &str, persona: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/sim/mp/scan/{ticket}/confirm")))
            .header("accept", "application/json")
            .form(&[("persona", persona)])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_new_follower_brings_subscribe_and_a_follower_brings_scan() {
    let sim = spawn().await;
    let receiver = Receiver::default();
    sim.push_to(&receiver.start(&[]).await, PushMode::Plain);
    let ticket = sim.mp_ticket("login-123").await;
    let page = sim
        .get(&format!("/sim/mp/scan/{ticket}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">关注公众号</button>"), "{page}");

    let (status, answer) = sim.mp_scan(&ticket, "xiaoming").await;
    assert_eq!(status, 200);
    assert_eq!(answer["event"], "subscribe");
    assert_eq!(
        (answer["pushed"].clone(), answer["status"].clone()),
        (json!(1), json!(200))
    );
    assert_eq!(answer["body"], "success");
    assert!(sim.simulator.is_following(MP, "xiaoming"));
    let openid = sim.simulator.openid(MP, "xiaoming").unwrap();

    let page = sim
        .get(&format!("/sim/mp/scan/{ticket}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">进入公众号</button>"), "{page}");
    sim.mp_scan(&ticket, "xiaoming").await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    for push in &seen {
        assert!(push.signed());
        assert_eq!(push.param("openid"), openid);
        assert_eq!(push.param("app"), "1");
        assert!(!push.query.contains_key("encrypt_type"));
    }
    let subscribe = seen[0].message();
    assert!(
        subscribe.starts_with("<xml><ToUserName><![CDATA[gh_"),
        "{subscribe}"
    );
    assert_eq!(field(&subscribe, "FromUserName").unwrap(), openid);
    assert_eq!(field(&subscribe, "MsgType").unwrap(), "event");
    assert_eq!(field(&subscribe, "Event").unwrap(), "subscribe");
    assert_eq!(field(&subscribe, "EventKey").unwrap(), "qrscene_login-123");
    assert_eq!(field(&subscribe, "Ticket").unwrap(), ticket);
    let scan = seen[1].message();
    assert_eq!(field(&scan, "Event").unwrap(), "SCAN");
    assert_eq!(field(&scan, "EventKey").unwrap(), "login-123");

    let info = sim.user_info(&sim.mp_token().await, &openid).await;
    assert_eq!(info["qr_scene_str"], "login-123");
    assert_eq!(info["qr_scene"], 0);
}

#[tokio::test]
async fn safe_mode_encrypts_and_signs_the_message() {
    let sim = spawn().await;
    let receiver = Receiver::default();
    let url = receiver.start(&[]).await;
    let push = json!({"url": url, "token": TOKEN, "encoding_aes_key": AES_KEY, "mode": "safe"});
    let set = sim
        .http
        .put(sim.url(&format!("/sim/apps/{MP}/push")))
        .json(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let token = sim.mp_token().await;
    let body = json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 77}}});
    let ticket = sim.create_qrcode(&token, body).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.mp_scan(&ticket, "xiaohong").await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signed());
    assert_eq!(seen[0].param("encrypt_type"), "aes");
    assert!(
        field(&seen[0].body, "FromUserName").is_none(),
        "{}",
        seen[0].body
    );
    let message = seen[0].message();
    assert_eq!(field(&message, "EventKey").unwrap(), "qrscene_77");
    let openid = sim.simulator.openid(MP, "xiaohong").unwrap();
    assert_eq!(sim.user_info(&token, &openid).await["qr_scene"], 77);
}

#[tokio::test]
async fn junk_answers_are_retried_three_times() {
    let sim = spawn().await;
    let receiver = Receiver::default();
    let junk = Reply::Text("{\"ok\":true}");
    sim.push_to(&receiver.start(&[junk; 4]).await, PushMode::Plain);
    let ticket = sim.mp_ticket("s").await;
    let (_, answer) = sim.mp_scan(&ticket, "xiaoming").await;
    assert_eq!(answer["attempts"], 4);
    assert_eq!(receiver.seen().len(), 4);
    let log = sim.simulator.push_log(MP);
    assert_eq!(log.len(), 4);
    assert!(log
        .iter()
        .all(|attempt| !attempt.answered && attempt.status == Some(200)));
    assert_eq!(log[3].attempt, 4);
    let route: Value = sim
        .get(&format!("/sim/mp/pushes?appid={MP}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(route.as_array().unwrap().len(), 4);
    assert_eq!(route[0]["body"], "{\"ok\":true}");
}

#[tokio::test]
async fn retries_stop_at_success_and_after_a_slow_answer() {
    let sim = spawn_with(|config| config.push_timeout_ms = PUSH_TIMEOUT_MS).await;
    let receiver = Receiver::default();
    let replies = [Reply::Slow, Reply::Text("error"), Reply::Text("success")];
    sim.push_to(&receiver.start(&replies).await, PushMode::Plain);
    let ticket = sim.mp_ticket("s").await;
    let (_, answer) = sim.mp_scan(&ticket, "laowang").await;
    assert_eq!(answer["attempts"], 3);
    let log = sim.simulator.push_log(MP);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].error.as_deref(), Some("timeout"));
    assert!(!log[1].answered);
    assert!(log[2].answered);
}

#[tokio::test]
async fn duplicate_and_bad_signature_faults() {
    let sim = spawn().await;
    let receiver = Receiver::default();
    sim.push_to(&receiver.start(&[]).await, PushMode::Plain);
    sim.put_faults(&Faults {
        duplicate_push: true,
        bad_push_signature: true,
        ..Faults::default()
    })
    .await;
    let ticket = sim.mp_ticket("dup").await;
    let (_, answer) = sim.mp_scan(&ticket, "xiaoming").await;
    assert_eq!(answer["pushed"], 2);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        field(&seen[0].body, "CreateTime"),
        field(&seen[1].body, "CreateTime")
    );
    assert_eq!(seen[0].body, seen[1].body);
    assert!(seen.iter().all(|push| !push.signed()));
}

#[tokio::test]
async fn unknown_tickets_push_nothing_and_no_url_means_no_push() {
    let sim = spawn().await;
    let (status, answer) = sim.mp_scan("gQnope", "xiaoming").await;
    assert_eq!(status, 200);
    assert_eq!(answer["error"], "二维码已过期");
    let page = sim.get("/sim/mp/scan/gQnope").await.text().await.unwrap();
    assert!(page.contains("二维码已过期"));
    // The demo 公众号 has no push URL until one is set: it follows, nothing is sent.
    let ticket = sim.mp_ticket("quiet").await;
    let (_, answer) = sim.mp_scan(&ticket, "xiaoming").await;
    assert_eq!(answer["pushed"], 0);
    assert!(sim.simulator.is_following(MP, "xiaoming"));
    assert!(sim.simulator.push_log(MP).is_empty());
}
