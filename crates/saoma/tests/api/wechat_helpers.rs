//! A saoma wired to an in-process WeChat simulator, and a browser stand-in that follows the
//! QR login by hand: authorize → QR page → phone scans and confirms → poll → callback.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use reqwest::StatusCode;
use saoma::{
    clock::{Clock, ManualClock},
    providers::Outbound,
    Application, Config,
};
use saoma_wechat_sim::{PushConfig, PushMode, SimConfig, Simulator};
use serde_json::{json, Value};

use crate::helpers::*;

pub const APP_ID: &str = "wx_sim_website";
pub const SITE: &str = "http://localhost:3000";
pub const VERIFIER: &str = "verifier-that-is-long-enough-for-pkce-0123456789abcdefghijklmnop";

pub struct WeChatWorld {
    pub app: TestApp,
    pub sim: Simulator,
    pub sim_url: String,
}

/// Starts the simulator with its demo apps (callback host 127.0.0.1, where saoma listens).
pub async fn spawn_simulator(callback_host: &str) -> (Simulator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind simulator");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let mut config = SimConfig::demo(url.clone());
    for app in &mut config.apps {
        app.callback_host = callback_host.to_owned();
    }
    let sim = Simulator::new(config);
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (sim, url)
}

pub async fn spawn_wechat(
    app_id: &str,
    db: Option<TestDb>,
    configure: impl FnOnce(&mut Config),
) -> WeChatWorld {
    let (sim, sim_url) = spawn_simulator("127.0.0.1").await;
    let db = match db {
        Some(db) => db,
        None => TestDb::new(Backend::from_env()).await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind saoma");
    let address = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let mut config = test_config();
    config.database_url = db.url.clone();
    config.external_url = address.clone();
    config.site_url = SITE.into();
    config.uri_allow_list = vec![format!("{SITE}/**")];
    let apps = [
        (&mut config.external.wechat_qr, app_id),
        (&mut config.external.wechat_mp, "wx_sim_mp"),
        (&mut config.external.wechat_mini, "wx_sim_mini"),
        (&mut config.external.wechat_app, "wx_sim_app"),
        (&mut config.external.wechat_mini_qr, "wx_sim_mini"),
        (&mut config.external.wechat_mp_qr, "wx_sim_mp"),
    ];
    for (wechat, app_id) in apps {
        wechat.enabled = true;
        wechat.app_id = app_id.into();
        wechat.secret = secret_of(app_id).into();
    }
    // The demo 公众号's 服务器配置, as the simulator signs its pushes.
    let push = mp_push_config(&sim);
    config.external.wechat_mp_qr.push_token = push.token.clone().into();
    config.external.wechat_mp_qr.encoding_aes_key = push.encoding_aes_key.clone().into();
    configure(&mut config);
    let clock = ManualClock::new(Utc::now());
    // The configuration keeps WeChat's own URLs: the simulator is wired in, not configured.
    let application = Application::builder(config.clone())
        .clock(clock.clone())
        .outbound(Outbound::wechat_at(&sim_url))
        .listener(listener)
        .build()
        .await
        .expect("build");
    let app = TestApp::serve(application, address.clone(), clock, config, db);
    point_simulator_at(&sim, &address);
    WeChatWorld { app, sim, sim_url }
}

/// The demo 公众号's push configuration (Token, EncodingAESKey, mode).
pub fn mp_push_config(sim: &Simulator) -> PushConfig {
    sim.config()
        .app("wx_sim_mp")
        .and_then(|app| app.push.clone())
        .expect("the demo 公众号 has a push configuration")
}

/// The mini-program's requests and the 公众号's pushes go to the saoma at `address`.
pub fn point_simulator_at(sim: &Simulator, address: &str) {
    assert!(sim.set_server_url("wx_sim_mini", &format!("{address}/auth/v1")));
    // 安全模式, as saoma is configured (with the EncodingAESKey) unless a test says otherwise.
    let push = PushConfig {
        url: Some(format!("{address}/auth/v1/wechat_mp/notify")),
        mode: PushMode::Safe,
        ..mp_push_config(sim)
    };
    assert!(sim.set_push("wx_sim_mp", push));
}

impl WeChatWorld {
    /// Another saoma on the same database, configured alike, with its own clock at the same
    /// time (a second node behind the same load balancer).
    pub async fn second_node(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind saoma");
        let address = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let mut config = self.app.config.clone();
        config.external_url = address.clone();
        let db = self.app.db.as_ref().expect("db").alias();
        let clock = ManualClock::new(self.app.clock.now());
        let application = Application::builder(config.clone())
            .clock(clock.clone())
            .outbound(Outbound::wechat_at(&self.sim_url))
            .listener(listener)
            .build()
            .await
            .expect("build second node");
        TestApp::serve(application, address, clock, config, db)
    }
}

pub fn secret_of(app_id: &str) -> &'static str {
    match app_id {
        "wx_sim_website_b" => "sim-website-b-secret",
        "wx_sim_unbound" => "sim-unbound-secret",
        "wx_sim_mp" => "sim-mp-secret",
        "wx_sim_mini" => "sim-mini-secret",
        "wx_sim_mini_unbound" => "sim-mini-unbound-secret",
        "wx_sim_app" => "sim-app-secret",
        _ => "sim-website-secret",
    }
}

pub fn challenge() -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, VERIFIER.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Where a 302 points.
pub fn location(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "expected a redirect, got {}: {}",
        reply.status,
        reply.body
    );
    reply.headers["location"]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    url::form_urlencoded_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub fn fragment_param(url: &str, name: &str) -> Option<String> {
    let fragment = url.split_once('#')?.1;
    url::form_urlencoded_pairs(fragment)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Minimal `application/x-www-form-urlencoded` decoding for assertions.
pub mod url {
    pub fn form_urlencoded_pairs(input: &str) -> Vec<(String, String)> {
        input
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// What the user does on the QR page and the phone, up to the callback URL the page would open.
pub enum PhoneAction<'a> {
    Confirm(&'a str),
    Cancel,
}

impl WeChatWorld {
    /// `GET /authorize`, returning the provider URL.
    pub async fn authorize(&self, query: &str) -> String {
        location(
            &self
                .app
                .get(&format!("/auth/v1/authorize?{query}"), None)
                .await,
        )
    }

    pub fn pkce_query(&self, redirect_to: &str) -> String {
        format!(
            "provider=wechat_qr&redirect_to={}&code_challenge={}&code_challenge_method=s256",
            saoma::providers::urlencode(redirect_to),
            challenge()
        )
    }

    /// Opens the QR page, scans with the phone, acts, and returns the callback URL the page
    /// navigates to.
    pub async fn scan(&self, provider_url: &str, action: PhoneAction<'_>) -> String {
        let page_url = provider_url.split('#').next().expect("url");
        let page = self.app.client.get(page_url).send().await.expect("qr page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        let uuid = html
            .split("data-uuid=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("uuid on the QR page")
            .to_owned();
        let phone = self
            .app
            .client
            .get(format!("{}/sim/phone/{uuid}", self.sim_url))
            .send()
            .await
            .expect("phone");
        assert_eq!(phone.status(), StatusCode::OK);
        let form_url = match action {
            PhoneAction::Confirm(_) => format!("{}/sim/phone/{uuid}/confirm", self.sim_url),
            PhoneAction::Cancel => format!("{}/sim/phone/{uuid}/cancel", self.sim_url),
        };
        let persona = match action {
            PhoneAction::Confirm(persona) => persona,
            PhoneAction::Cancel => "",
        };
        let acted = self
            .app
            .client
            .post(form_url)
            .form(&[("persona", persona)])
            .send()
            .await
            .expect("phone action");
        assert!(
            acted.status().is_success() || acted.status().is_redirection(),
            "{}",
            acted.status()
        );
        let poll = self
            .app
            .client
            .get(format!("{}/connect/l/qrconnect?uuid={uuid}", self.sim_url))
            .send()
            .await
            .expect("poll")
            .text()
            .await
            .expect("poll body");
        let redirect_uri = query_param(provider_url, "redirect_uri").expect("redirect_uri");
        let state = query_param(provider_url, "state").expect("state");
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        if poll.contains("wx_errcode=405") {
            let code = poll
                .split("wx_code='")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .expect("code");
            format!("{redirect_uri}{separator}code={code}&state={state}")
        } else {
            assert!(
                poll.contains("wx_errcode=403"),
                "unexpected poll answer {poll}"
            );
            format!("{redirect_uri}{separator}state={state}")
        }
    }

    pub async fn follow(&self, url: &str) -> Reply {
        into_reply(self.app.client.get(url).send().await.expect("get")).await
    }

    pub async fn exchange(&self, auth_code: &str, verifier: &str) -> Reply {
        self.app
            .post(
                "/auth/v1/token?grant_type=pkce",
                json!({"auth_code": auth_code, "code_verifier": verifier}),
            )
            .await
    }

    /// The whole PKCE login for `persona`; returns the session.
    pub async fn login(&self, persona: &str) -> Value {
        let provider_url = self
            .authorize(&self.pkce_query(&format!("{SITE}/private")))
            .await;
        let callback = self
            .scan(&provider_url, PhoneAction::Confirm(persona))
            .await;
        let back = location(&self.follow(&callback).await);
        let auth_code = query_param(&back, "code").expect("code in redirect_to");
        let session = self.exchange(&auth_code, VERIFIER).await;
        assert_eq!(session.status, StatusCode::OK, "{}", session.body);
        session.body
    }
}

impl WeChatWorld {
    /// What the WeChat client gives an app: a code from one of the simulator's control
    /// endpoints (`wx.login()`, the phone-number button, the mobile SDK).
    pub async fn sim_code(&self, endpoint: &str, appid: &str, persona: &str) -> String {
        let reply = self
            .app
            .client
            .post(format!("{}{endpoint}", self.sim_url))
            .json(&json!({"appid": appid, "persona": persona}))
            .send()
            .await
            .expect("sim code");
        assert!(
            reply.status().is_success(),
            "{endpoint}: {}",
            reply.status()
        );
        let body: Value = reply.json().await.expect("json");
        body["code"].as_str().expect("code").to_owned()
    }

    /// The in-WeChat browser: the 公众号 authorization page, where the user allows or denies.
    pub async fn mp_authorize(&self, provider_url: &str, persona: &str, allow: bool) -> String {
        let page_url = provider_url.split('#').next().expect("url");
        let page = self.app.client.get(page_url).send().await.expect("mp page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(html.contains("allow"), "an authorization page: {html}");
        let field = |name: &str| query_param(provider_url, name).unwrap_or_default();
        let form = [
            ("appid", field("appid")),
            ("redirect_uri", field("redirect_uri")),
            ("scope", field("scope")),
            ("state", field("state")),
            ("persona", persona.to_owned()),
            ("decision", if allow { "allow" } else { "deny" }.to_owned()),
        ];
        let reply = self
            .app
            .client
            .post(format!("{}/connect/oauth2/authorize/confirm", self.sim_url))
            .form(&form)
            .send()
            .await
            .expect("confirm");
        into_reply(reply).await.headers["location"]
            .to_str()
            .expect("location")
            .to_owned()
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Reply {
        self.app.get(path, token).await
    }
}
