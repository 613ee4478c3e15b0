//! Helpers for the 公众号, mini-program, phone-number and mobile-app flows.

use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{between, Sim};

pub const MP: &str = "wx_sim_mp";
pub const MP_SECRET: &str = "sim-mp-secret";
pub const MINI: &str = "wx_sim_mini";
pub const MINI_SECRET: &str = "sim-mini-secret";
pub const MINI_UNBOUND: &str = "wx_sim_mini_unbound";
pub const MINI_UNBOUND_SECRET: &str = "sim-mini-unbound-secret";
pub const MOBILE: &str = "wx_sim_app";
pub const MOBILE_SECRET: &str = "sim-app-secret";

pub fn mp_query<'a>(
    appid: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", appid),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "abc123"),
    ]
}

impl Sim {
    pub async fn mp_authorize(&self, query: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/connect/oauth2/authorize"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// Submits the authorization form as the page would.
    pub async fn mp_confirm(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/connect/oauth2/authorize/confirm"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A whole 公众号 authorization, allowed; returns the redirect's Location.
    pub async fn mp_login(&self, scope: &str, persona: &str, redirect_uri: &str) -> String {
        let page = self.mp_authorize(&mp_query(MP, redirect_uri, scope)).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let form = [
            ("appid", between(&page, "name=\"appid\" value=\"", "\"")),
            ("redirect_uri", redirect_uri),
            ("scope", between(&page, "name=\"scope\" value=\"", "\"")),
            ("state", between(&page, "name=\"state\" value=\"", "\"")),
            ("persona", persona),
            ("decision", "allow"),
        ];
        let response = self.mp_confirm(&form).await;
        assert_eq!(response.status(), 302);
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// POSTs a control endpoint; returns (status, JSON).
    pub async fn control(&self, path: &str, appid: &str, persona: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&json!({"appid": appid, "persona": persona}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(response.headers()["content-type"], "application/json");
        (status, response.json().await.unwrap())
    }

    /// The code a control endpoint hands out, asserting success.
    pub async fn client_code(&self, path: &str, appid: &str, persona: &str) -> String {
        let (status, body) = self.control(path, appid, persona).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        body["code"].as_str().unwrap().to_owned()
    }

    pub async fn jscode2session(&self, appid: &str, secret: &str, js_code: &str) -> Value {
        let query = [
            ("appid", appid),
            ("secret", secret),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ];
        self.sns("/sns/jscode2session", &query).await
    }

    pub async fn app_token(&self, appid: &str, secret: &str) -> Value {
        let query = [
            ("grant_type", "client_credential"),
            ("appid", appid),
            ("secret", secret),
        ];
        self.sns("/cgi-bin/token", &query).await
    }

    /// `getuserphonenumber` with a raw body; asserts WeChat's text/plain.
    pub async fn phone_number(&self, access_token: &str, body: String) -> Value {
        let response = self
            .http
            .post(self.url("/wxa/business/getuserphonenumber"))
            .query(&[("access_token", access_token)])
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    pub async fn userinfo(&self, tokens: &Value) -> Value {
        let query = [
            ("access_token", tokens["access_token"].as_str().unwrap()),
            ("openid", tokens["openid"].as_str().unwrap()),
            ("lang", "zh_CN"),
        ];
        self.sns("/sns/userinfo", &query).await
    }
}

/// The query parameters of a redirect Location.
pub fn location_params(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
