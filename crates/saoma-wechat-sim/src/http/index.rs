//! `GET /sim`: the apps, personas and faults, with a way to try each kind of login.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::html::{escape, page};
use crate::config::{AppKind, Persona, SimApp};
use crate::ids;
use crate::simulator::Shared;

pub async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let config = &shared.config;
    let apps: String = config
        .apps
        .iter()
        .map(|app| {
            format!(
                "<tr id=\"app-{}\"><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&app.appid),
                escape(&app.appid),
                kind_name(app.kind),
                escape(&app.secret),
                escape(&app.name),
                escape(&app.callback_host),
                escape(app.open_platform.as_deref().unwrap_or("（未绑定）")),
                try_it(&shared, app),
            )
        })
        .collect();
    let personas: String = config
        .personas
        .iter()
        .map(|persona| persona_row(&shared, persona))
        .collect();
    let faults = serde_json::to_string(&shared.lock().faults).unwrap_or_default();
    let body = format!(
        "<main class=\"doc\">\n<h1>微信开放平台模拟器</h1>\n\
         <h2>应用</h2>\n<table>\n<tr><th>AppID</th><th>类型</th><th>AppSecret</th><th>名称</th><th>授权回调域</th><th>开放平台</th><th></th></tr>\n{apps}</table>\n\
         <h2>微信用户</h2>\n<table>\n<tr><th>id</th><th>昵称</th><th>手机号</th><th>openid / unionid</th></tr>\n{personas}</table>\n\
         <h2>接口调用凭据</h2>\n<p><a id=\"tokens-link\" href=\"{}\">cgi-bin/token 与 stable_token 计数</a>，<code>POST /sim/tokens/&lt;appid&gt;/expire</code> 让该应用的凭据立即过期</p>\n\
         <h2>短信</h2>\n<p><a id=\"sms-link\" href=\"{}\">短信收件箱与网关（阿里云、腾讯云）</a></p>\n\
         <h2>故障注入</h2>\n<p><code id=\"faults\">{}</code></p>\n\
         <p><code>curl -X PUT -H 'content-type: application/json' -d '{{\"busy\":1}}' {}</code></p>\n</main>",
        escape(&shared.url("/sim/tokens")),
        escape(&shared.url("/sim/sms")),
        escape(&faults),
        escape(&shared.url("/sim/faults")),
    );
    page("微信开放平台模拟器", "", "", &body)
}

fn kind_name(kind: AppKind) -> &'static str {
    match kind {
        AppKind::Website => "网站应用",
        AppKind::OfficialAccount => "公众号",
        AppKind::MiniProgram => "小程序",
        AppKind::MobileApp => "移动应用",
    }
}

/// A link to the login page (when its callback host is the simulator's own, so the echo
/// callback is accepted), or the control endpoint that stands in for the client.
fn try_it(shared: &Shared, app: &SimApp) -> String {
    let echo = shared.url("/sim/echo-callback");
    let echo_host = url::Url::parse(&echo)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned));
    let reachable = echo_host.as_deref() == Some(app.callback_host.as_str());
    let link = |path: &str, scope: &str, text: &str| {
        if !reachable {
            return String::new();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("appid", &app.appid)
            .append_pair("redirect_uri", &echo)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "sim")
            .finish();
        let href = shared.url(&format!("{path}?{query}"));
        format!("<a href=\"{}\">{text}</a>", escape(&href))
    };
    let control = |path: &str| {
        format!(
            "<code>POST {}</code> <code>{{\"appid\":\"{}\",\"persona\":\"…\"}}</code>",
            escape(&shared.url(path)),
            escape(&app.appid)
        )
    };
    match app.kind {
        AppKind::Website => link("/connect/qrconnect", "snsapi_login", "扫码登录试试"),
        AppKind::OfficialAccount => format!(
            "{}<br>关注登录: <code>POST {}</code>，扫码页 <code>{}</code>，推送配置 <code>PUT {}</code>，推送记录 <code>{}</code>",
            link(
                "/connect/oauth2/authorize",
                "snsapi_userinfo",
                "网页授权试试",
            ),
            escape(&shared.url("/cgi-bin/qrcode/create")),
            escape(&shared.url("/sim/mp/scan/<ticket>")),
            escape(&shared.url(&format!("/sim/apps/{}/push", app.appid))),
            escape(&shared.url(&format!("/sim/mp/pushes?appid={}", app.appid))),
        ),
        AppKind::MiniProgram => format!(
            "wx.login(): {}<br>getPhoneNumber: {}<br>小程序码: <code>POST {}</code> → <code>{}</code>，服务器 <code>PUT {}</code>",
            control("/sim/mini/login"),
            control("/sim/mini/phone"),
            escape(&shared.url("/wxa/getwxacodeunlimit")),
            escape(&shared.url("/sim/mini/open?appid&page&scene")),
            escape(&shared.url(&format!("/sim/apps/{}/server", app.appid))),
        ),
        AppKind::MobileApp => format!("SDK: {}", control("/sim/app/authorize")),
    }
}

fn persona_row(shared: &Shared, persona: &Persona) -> String {
    let ids: String = shared
        .config
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
        "<tr><td><span class=\"swatch\" style=\"background:{}\"></span> <code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{ids}</td></tr>\n",
        escape(&persona.avatar_color),
        escape(&persona.id),
        escape(&persona.nickname),
        escape(&persona.phone),
    )
}
