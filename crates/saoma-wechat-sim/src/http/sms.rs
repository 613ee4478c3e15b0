//! The SMS gateways' endpoints (standing in for dysmsapi.aliyuncs.com and
//! sms.tencentcloudapi.com), and the simulator's own inbox: JSON for tests, a page per number
//! for people.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::html::{escape, page};
use crate::simulator::Shared;
use crate::sms::{self, aliyun, tencent, Message};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `POST /aliyun-sms/` (any method the signature covers): Alibaba's `SendSms`.
pub async fn aliyun(
    State(shared): State<Arc<Shared>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let request = aliyun::Request {
        method: method.as_str(),
        query: &query,
        headers: &headers,
        body: &body,
    };
    let answer = {
        let mut state = shared.lock();
        let state = &mut *state;
        aliyun::send_sms(
            &mut state.sms,
            &mut state.faults.sms,
            &shared.config.sms.aliyun,
            &request,
            now(),
        )
    };
    let (text, content_type) = answer.render();
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// `POST /tencent-sms/`: Tencent's `SendSms`.
pub async fn tencent(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let mut state = shared.lock();
    let state = &mut *state;
    Json(tencent::send_sms(
        &mut state.sms,
        &mut state.faults.sms,
        &shared.config.sms.tencent,
        &headers,
        &body,
        now(),
    ))
}

/// `GET /sim/sms/inbox/{phone}`: `{"phone", "messages": [..]}`, newest first; the number may
/// be spelt any way the gateways accept.
pub async fn inbox(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Json<Value> {
    let normalized = sms::normalize_phone(&phone).unwrap_or(phone);
    let messages = shared.lock().sms.inbox(&normalized);
    Json(json!({ "phone": normalized, "messages": messages }))
}

/// `POST /sim/sms/reset`: forgets every message and every send the limits count.
pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().sms.reset();
    StatusCode::NO_CONTENT
}

/// `GET /sim/sms/phone/{phone}`: the phone's messages, newest first, the latest code large;
/// it reloads itself every two seconds.
pub async fn phone(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Response {
    let normalized = sms::normalize_phone(&phone).unwrap_or(phone);
    let messages = shared.lock().sms.inbox(&normalized);
    let now = now();
    let latest = match messages.first().and_then(|message| message.code.as_deref()) {
        Some(code) => format!(
            "<p class=\"sms-label\">最新验证码</p>\n<p class=\"sms-code\" id=\"latest-code\">{}</p>\n",
            escape(code)
        ),
        None if messages.is_empty() => {
            "<p class=\"sms-empty\" id=\"empty\">还没有短信。发出验证码后，这里会自动刷新。</p>\n".to_owned()
        }
        None => String::new(),
    };
    let list: String = messages
        .iter()
        .map(|message| message_item(message, now))
        .collect();
    let body = format!(
        "<div class=\"phone-bar\">+{}</div>\n<main class=\"sms-inbox\">\n{latest}<ol class=\"sms-list\">\n{list}</ol>\n\
         <p class=\"hint\"><a href=\"{}\">全部号码</a></p>\n</main>",
        escape(&normalized),
        escape(&shared.url("/sim/sms")),
    );
    page(
        &format!("短信 +{normalized}"),
        "phone-screen",
        "<meta http-equiv=\"refresh\" content=\"2\">\n",
        &body,
    )
}

fn message_item(message: &Message, now: i64) -> String {
    let code = message
        .code
        .as_deref()
        .map(|code| format!(" data-code=\"{}\"", escape(code)))
        .unwrap_or_default();
    format!(
        "<li class=\"sms\"{code}><div class=\"sms-text\">{}</div><div class=\"sms-meta\">{} · {} 秒前</div></li>\n",
        escape(&message.text),
        gateway_name(message.gateway),
        (now - message.sent_at).max(0),
    )
}

fn gateway_name(gateway: &str) -> &'static str {
    if gateway == "tencent" {
        "腾讯云短信"
    } else {
        "阿里云短信"
    }
}

/// `GET /sim/sms`: the numbers that received messages, the accounts' keys, and how to use
/// both gateways.
pub async fn overview(State(shared): State<Arc<Shared>>) -> Response {
    let numbers = shared.lock().sms.numbers();
    let rows: String = numbers
        .iter()
        .map(|(phone, count)| {
            format!(
                "<tr><td><a href=\"{}\">+{}</a></td><td>{count}</td></tr>\n",
                escape(&shared.url(&format!("/sim/sms/phone/{phone}"))),
                escape(phone)
            )
        })
        .collect();
    let rows = if rows.is_empty() {
        "<tr><td colspan=\"2\">还没有短信</td></tr>\n".to_owned()
    } else {
        rows
    };
    let body = format!(
        "<main class=\"doc\">\n<h1>短信网关模拟器</h1>\n\
         <h2>收件箱</h2>\n<table id=\"numbers\">\n<tr><th>号码</th><th>短信</th></tr>\n{rows}</table>\n\
         <p>每个号码的收件箱：<code>{}</code>（页面）与 <code>{}</code>（JSON，最新在前）。\
         清空：<code>POST {}</code></p>\n{}\n</main>",
        escape(&shared.url("/sim/sms/phone/<号码>")),
        escape(&shared.url("/sim/sms/inbox/<号码>")),
        escape(&shared.url("/sim/sms/reset")),
        accounts(&shared),
    );
    page("短信网关模拟器", "", "", &body)
}

/// The gateways' endpoints and demo keys, for the overview and the simulator's index.
pub fn accounts(shared: &Shared) -> String {
    let sms = &shared.config.sms;
    format!(
        "<h2>阿里云短信（dysmsapi SendSms，V2 与 V3 签名）</h2>\n<table>\n\
         <tr><th>base URL</th><td><code>{}</code></td></tr>\n\
         <tr><th>AccessKey ID / Secret</th><td><code>{}</code> / <code>{}</code></td></tr>\n\
         <tr><th>签名</th><td><code>{}</code></td></tr>\n<tr><th>模板</th><td>{}</td></tr>\n</table>\n\
         <h2>腾讯云短信（SendSms 2021-01-11，TC3-HMAC-SHA256）</h2>\n<table>\n\
         <tr><th>base URL</th><td><code>{}</code></td></tr>\n\
         <tr><th>SecretId / SecretKey</th><td><code>{}</code> / <code>{}</code></td></tr>\n\
         <tr><th>SmsSdkAppId</th><td><code>{}</code></td></tr>\n\
         <tr><th>签名</th><td><code>{}</code></td></tr>\n<tr><th>模板</th><td>{}</td></tr>\n</table>\n\
         <p>故障：<code>curl -X PUT -H 'content-type: application/json' -d '{{\"sms\":{{\"busy\":1}}}}' {}</code>\
         （<code>busy</code>、<code>daily_limit</code>、<code>unapproved_signature</code>）</p>",
        escape(&shared.url("/aliyun-sms")),
        escape(&sms.aliyun.access_key_id),
        escape(&sms.aliyun.access_key_secret),
        escape(&sms.aliyun.sign_names.join("、")),
        templates(&sms.aliyun.templates),
        escape(&shared.url("/tencent-sms")),
        escape(&sms.tencent.secret_id),
        escape(&sms.tencent.secret_key),
        escape(&sms.tencent.sdk_app_id),
        escape(&sms.tencent.sign_names.join("、")),
        templates(&sms.tencent.templates),
        escape(&shared.url("/sim/faults")),
    )
}

fn templates(templates: &[crate::config::sms::SmsTemplate]) -> String {
    templates
        .iter()
        .map(|template| {
            format!(
                "<code>{}</code>：{}<br>",
                escape(&template.id),
                escape(&template.text)
            )
        })
        .collect()
}
