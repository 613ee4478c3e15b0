//! `GET /connect/qrconnect`: WeChat's QR login page, validated the way WeChat validates it.
//! Errors are HTTP 200 pages that never redirect: the user is stuck on WeChat's site.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::html::{escape, page};
use crate::config::{AppKind, SimApp, SimConfig};
use crate::simulator::Shared;

const SCRIPT: &str = include_str!("assets/qrconnect.js");

/// The query WeChat's page accepts, including what `wxLogin.js` adds for its iframe.
#[derive(Debug, Default, Deserialize)]
pub struct QrConnectParams {
    pub appid: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub login_type: Option<String>,
    pub self_redirect: Option<String>,
    pub style: Option<String>,
    pub href: Option<String>,
}

/// What WeChat says when it refuses to show a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Appid,
    Scope,
    RedirectUri,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::Appid => "参数错误",
            Refusal::Scope => "Scope 参数错误或没有 Scope 权限",
            Refusal::RedirectUri => "redirect_uri 参数错误",
        }
    }

    /// Named in the log, and on the page where WeChat's message alone would not say which.
    fn parameter(self) -> &'static str {
        match self {
            Refusal::Appid => "appid",
            Refusal::Scope => "scope",
            Refusal::RedirectUri => "redirect_uri",
        }
    }
}

pub async fn qrconnect(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<QrConnectParams>,
) -> Response {
    let app = match validate(&shared.config, &params) {
        Ok(app) => app,
        Err(refusal) => return refusal_page(refusal),
    };
    let uuid = shared.lock().open_ticket(&app.appid, Instant::now());
    tracing::info!(appid = %app.appid, %uuid, "QR login page shown");
    login_page(&shared, app, &params, &uuid)
}

/// WeChat's order: appid, scope (and app kind), then the redirect_uri's host against the
/// 授权回调域.
fn validate<'c>(config: &'c SimConfig, params: &QrConnectParams) -> Result<&'c SimApp, Refusal> {
    let app = params
        .appid
        .as_deref()
        .and_then(|appid| config.app(appid))
        .ok_or(Refusal::Appid)?;
    // A 公众号, mini-program or mobile-app appid has no snsapi_login: WeChat says so.
    let scope = params.scope.as_deref().unwrap_or_default();
    if app.kind != AppKind::Website || !app.kind.allows_scope(scope) {
        return Err(Refusal::Scope);
    }
    let host = params
        .redirect_uri
        .as_deref()
        .and_then(|uri| url::Url::parse(uri).ok())
        .and_then(|uri| uri.host_str().map(str::to_ascii_lowercase));
    if host.as_deref() != Some(app.callback_host.to_ascii_lowercase().as_str()) {
        return Err(Refusal::RedirectUri);
    }
    Ok(app)
}

fn refusal_page(refusal: Refusal) -> Response {
    tracing::info!(parameter = refusal.parameter(), "QR login page refused");
    let hint = match refusal {
        Refusal::Appid => "<p class=\"hint\">(appid)</p>\n",
        Refusal::Scope | Refusal::RedirectUri => "",
    };
    let body = format!(
        "<main class=\"login\">\n<h1 class=\"title\">微信登录</h1>\n\
         <div class=\"refusal\">\n<p id=\"error\" class=\"error-message\">{}</p>\n\
         {hint}</div>\n</main>",
        escape(refusal.message()),
    );
    page("微信登录", "qr-page dark", "", &body)
}

fn login_page(shared: &Shared, app: &SimApp, params: &QrConnectParams, uuid: &str) -> Response {
    let embedded = params.login_type.as_deref() == Some("jssdk");
    let look = if params.style.as_deref() == Some("white") {
        "light"
    } else {
        "dark"
    };
    let (body_class, head) = match (&params.href, embedded) {
        (Some(href), true) => (
            format!("jssdk {look}"),
            format!("<link rel=\"stylesheet\" href=\"{}\">\n", escape(href)),
        ),
        (None, true) => (format!("jssdk {look}"), String::new()),
        (_, false) => ("qr-page dark".to_owned(), String::new()),
    };
    let self_redirect = params.self_redirect.as_deref() == Some("true");
    let body = format!(
        r#"<main id="login" class="login" data-poll-url="{poll}" data-redirect-uri="{redirect}" data-state="{state}" data-self-redirect="{self_redirect}">
<h1 class="title">微信登录</h1>
<div class="qr-box"><img id="qr" class="qr" data-uuid="{uuid}" src="{qr}" alt="二维码"></div>
<div class="status">
<div id="waiting"><p>使用微信扫一扫登录</p><p class="app-name">「{name}」</p></div>
<div id="scanned" hidden><p class="success">扫描成功</p><p>请在微信中点击确认即可登录</p></div>
<div id="expired" hidden><p class="warning">二维码已失效</p><p><a id="refresh" href="">点击刷新</a></p></div>
</div>
</main>
<script>{SCRIPT}</script>"#,
        poll = escape(&shared.url(&format!("/connect/l/qrconnect?uuid={uuid}"))),
        redirect = escape(params.redirect_uri.as_deref().unwrap_or_default()),
        state = escape(params.state.as_deref().unwrap_or_default()),
        qr = escape(&shared.url(&format!("/sim/qr/{uuid}.png"))),
        name = escape(&app.name),
    );
    page("微信登录", &body_class, &head, &body)
}
