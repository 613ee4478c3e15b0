//! A fresh simulator per test, and a client that speaks its routes.

use reqwest::{redirect, Response};
use saoma_wechat_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

pub const APP: &str = "wx_sim_website";
pub const SECRET: &str = "sim-website-secret";
pub const APP_B: &str = "wx_sim_website_b";
pub const SECRET_B: &str = "sim-website-b-secret";
pub const UNBOUND: &str = "wx_sim_unbound";
pub const UNBOUND_SECRET: &str = "sim-unbound-secret";

pub struct Sim {
    pub base: String,
    pub simulator: Simulator,
    /// Never follows redirects: the simulator must not send any.
    pub http: reqwest::Client,
}

/// The poll's JavaScript answer, parsed.
#[derive(Debug)]
pub struct Poll {
    pub errcode: u16,
    pub code: String,
    pub body: String,
}

pub async fn spawn() -> Sim {
    spawn_with(|_| {}).await
}

/// A simulator with the demo configuration as `edit` changes it.
pub async fn spawn_with(edit: impl FnOnce(&mut SimConfig)) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = SimConfig::demo(base.clone());
    edit(&mut config);
    let simulator = Simulator::new(config);
    let router = simulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    Sim {
        base,
        simulator,
        http,
    }
}

pub fn callback() -> &'static str {
    "http://localhost:3000/auth/v1/callback"
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn qrconnect(&self, query: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/connect/qrconnect"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// Shows the QR page for `appid` and returns the ticket's uuid.
    pub async fn open_login(&self, appid: &str) -> String {
        let response = self
            .qrconnect(&[
                ("appid", appid),
                ("redirect_uri", callback()),
                ("response_type", "code"),
                ("scope", "snsapi_login"),
                ("state", "xyz"),
            ])
            .await;
        let page = response.text().await.unwrap();
        uuid_in(&page)
    }

    pub async fn poll(&self, uuid: &str) -> Poll {
        let response = self
            .get(&format!("/connect/l/qrconnect?uuid={uuid}&last=408"))
            .await;
        assert_eq!(response.headers()["content-type"], "application/javascript");
        let body = response.text().await.unwrap();
        let errcode = between(&body, "window.wx_errcode=", ";").parse().unwrap();
        let code = between(&body, "window.wx_code='", "'").to_owned();
        Poll {
            errcode,
            code,
            body,
        }
    }

    pub async fn scan(&self, uuid: &str) -> String {
        let response = self.get(&format!("/sim/phone/{uuid}")).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    pub async fn confirm(&self, uuid: &str, persona: &str) -> Response {
        self.http
            .post(self.url(&format!("/sim/phone/{uuid}/confirm")))
            .form(&[("persona", persona)])
            .send()
            .await
            .unwrap()
    }

    pub async fn cancel(&self, uuid: &str) -> Response {
        self.http
            .post(self.url(&format!("/sim/phone/{uuid}/cancel")))
            .send()
            .await
            .unwrap()
    }

    /// A whole login on the phone; returns the code the page's poll receives.
    pub async fn login(&self, appid: &str, persona: &str) -> String {
        let uuid = self.open_login(appid).await;
        self.scan(&uuid).await;
        assert_eq!(self.confirm(&uuid, persona).await.status(), 200);
        let poll = self.poll(&uuid).await;
        assert_eq!(poll.errcode, 405);
        poll.code
    }

    /// Calls a `sns/*` endpoint; asserts WeChat's text/plain and returns the JSON.
    pub async fn sns(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    pub async fn exchange(&self, appid: &str, secret: &str, code: &str) -> Value {
        self.sns(
            "/sns/oauth2/access_token",
            &[
                ("appid", appid),
                ("secret", secret),
                ("code", code),
                ("grant_type", "authorization_code"),
            ],
        )
        .await
    }

    pub async fn put_faults(&self, faults: &Faults) {
        let response = self
            .http
            .put(self.url("/sim/faults"))
            .json(faults)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

pub fn uuid_in(page: &str) -> String {
    between(page, "data-uuid=\"", "\"").to_owned()
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    &text[from..from + len]
}

pub fn assert_errcode(body: &Value, errcode: i64, errmsg: &str) {
    assert_eq!(body["errcode"], errcode, "{body}");
    assert_eq!(body["errmsg"], errmsg, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
}
