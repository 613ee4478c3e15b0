//! The simulator's own pages: fault switches, an index of what it serves, and a callback
//! that echoes what WeChat would have sent to a client.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::Json;

use super::html::{escape, page};
use crate::faults::Faults;
use crate::ids;
use crate::simulator::Shared;

pub async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.lock().faults.clone())
}

pub async fn put_faults(
    State(shared): State<Arc<Shared>>,
    Json(faults): Json<Faults>,
) -> Json<Faults> {
    tracing::info!(?faults, "faults set");
    shared.lock().faults = faults.clone();
    Json(faults)
}

/// `GET /sim/echo-callback`: a stand-in client callback that shows its query.
pub async fn echo_callback(RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let rows: String = url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| {
            format!(
                "<tr><th>{}</th><td><code id=\"param-{}\">{}</code></td></tr>\n",
                escape(&name),
                escape(&name),
                escape(&value)
            )
        })
        .collect();
    let has_code = url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "code");
    let verdict = if has_code {
        "收到 code：用户已确认登录。"
    } else {
        "没有 code：用户取消了登录（WeChat 只带回 state）。"
    };
    let body = format!(
        "<main class=\"doc\">\n<h1>回调</h1>\n<p id=\"verdict\">{}</p>\n\
         <table>\n{rows}</table>\n<p>原始查询串：<code id=\"query\">{}</code></p>\n</main>",
        escape(verdict),
        escape(&query)
    );
    page("回调", "", "", &body)
}

/// `GET /sim`: the apps, personas and faults, with a link to try a login.
pub async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let config = &shared.config;
    let echo = shared.url("/sim/echo-callback");
    let echo_host = url::Url::parse(&echo)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned));
    let apps: String = config
        .apps
        .iter()
        .map(|app| {
            let try_link = if echo_host.as_deref() == Some(app.callback_host.as_str()) {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("appid", &app.appid)
                    .append_pair("redirect_uri", &echo)
                    .append_pair("response_type", "code")
                    .append_pair("scope", "snsapi_login")
                    .append_pair("state", "sim")
                    .finish();
                let href = shared.url(&format!("/connect/qrconnect?{query}"));
                format!("<a href=\"{}\">扫码登录试试</a>", escape(&href))
            } else {
                String::new()
            };
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{try_link}</td></tr>\n",
                escape(&app.appid),
                escape(&app.secret),
                escape(&app.name),
                escape(&app.callback_host),
                escape(app.open_platform.as_deref().unwrap_or("（未绑定）")),
            )
        })
        .collect();
    let personas: String = config
        .personas
        .iter()
        .map(|persona| {
            let ids: String = config
                .apps
                .iter()
                .map(|app| {
                    let unionid = app
                        .open_platform
                        .as_deref()
                        .map(|platform| ids::unionid(platform, &persona.id))
                        .unwrap_or_else(|| "—".to_owned());
                    format!(
                        "{}: openid <code>{}</code> unionid <code>{}</code><br>",
                        escape(&app.appid),
                        ids::openid(&app.appid, &persona.id),
                        unionid
                    )
                })
                .collect();
            format!(
                "<tr><td><span class=\"swatch\" style=\"background:{}\"></span> <code>{}</code></td><td>{}</td><td>{ids}</td></tr>\n",
                escape(&persona.avatar_color),
                escape(&persona.id),
                escape(&persona.nickname),
            )
        })
        .collect();
    let faults = serde_json::to_string(&shared.lock().faults).unwrap_or_default();
    let body = format!(
        "<main class=\"doc\">\n<h1>微信开放平台模拟器</h1>\n\
         <h2>应用</h2>\n<table>\n<tr><th>AppID</th><th>AppSecret</th><th>名称</th><th>授权回调域</th><th>开放平台</th><th></th></tr>\n{apps}</table>\n\
         <h2>微信用户</h2>\n<table>\n<tr><th>id</th><th>昵称</th><th>openid / unionid</th></tr>\n{personas}</table>\n\
         <h2>故障注入</h2>\n<p><code id=\"faults\">{}</code></p>\n\
         <p><code>curl -X PUT -H 'content-type: application/json' -d '{{\"busy\":1}}' {}</code></p>\n</main>",
        escape(&faults),
        escape(&shared.url("/sim/faults")),
    );
    page("微信开放平台模拟器", "", "", &body)
}
