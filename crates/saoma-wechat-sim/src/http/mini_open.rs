//! The phone inside a mini-program opened by its code: `GET /sim/mini/open?appid&page&scene`
//! calls the app server's `wechat_mini/qr/scan` (as the page's `wx.request` would) and shows
//! personas with 确认登录 / 取消; `POST /sim/mini/open/confirm` (form appid, scene, persona)
//! sends `wechat_mini/qr/confirm` with a fresh `wx.login()` code, `POST /sim/mini/open/cancel`
//! sends `wechat_mini/qr/cancel`. With `Accept: application/json` each answers
//! `{"status": <server's HTTP status>, "body": <server's JSON>}`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::html::{escape, hidden_inputs, persona_radios, phone_page, wants_json};
use crate::config::AppKind;
use crate::domain::issue::{self, Flow};
use crate::simulator::Shared;

#[derive(Debug, Default, Deserialize)]
pub struct OpenParams {
    pub appid: Option<String>,
    pub page: Option<String>,
    pub scene: Option<String>,
    /// Confirm only.
    pub persona: Option<String>,
}

/// The app server's answer: its status and JSON (its text as a JSON string if not JSON).
struct ServerAnswer {
    status: u16,
    body: Value,
}

/// Why the phone could not ask the server.
enum PhoneError {
    NotMini,
    NoServer,
    Unreachable(String),
    Persona,
}

impl PhoneError {
    fn message(&self) -> String {
        match self {
            PhoneError::NotMini => "参数错误：appid 不是小程序".to_owned(),
            PhoneError::NoServer => {
                "小程序未配置服务器域名（PUT /sim/apps/{appid}/server）".to_owned()
            }
            PhoneError::Unreachable(error) => format!("request:fail {error}"),
            PhoneError::Persona => "请选择要登录的微信账号".to_owned(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            PhoneError::Unreachable(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

pub async fn open(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<OpenParams>,
) -> Response {
    let scene = params.scene.clone().unwrap_or_default();
    let answer = call(&shared, &params, "scan", json!({ "scene": scene })).await;
    tracing::info!(appid = ?params.appid, page = ?params.page, "mini-program opened from its code");
    if wants_json(&headers) {
        return json_answer(answer);
    }
    match answer {
        Ok(answer) => scan_page(&shared, &params, &answer),
        Err(error) => error_page(&error),
    }
}

pub async fn confirm(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<OpenParams>,
) -> Response {
    let answer = match login_code(&shared, &form) {
        Ok(code) => {
            let scene = form.scene.clone().unwrap_or_default();
            call(
                &shared,
                &form,
                "confirm",
                json!({ "scene": scene, "code": code }),
            )
            .await
        }
        Err(error) => Err(error),
    };
    outcome(&headers, answer, "已确认登录", "请回到电脑上继续操作。")
}

pub async fn cancel(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<OpenParams>,
) -> Response {
    let scene = form.scene.clone().unwrap_or_default();
    let answer = call(&shared, &form, "cancel", json!({ "scene": scene })).await;
    outcome(
        &headers,
        answer,
        "已取消登录",
        "电脑上的网页将收到取消结果。",
    )
}

/// What `wx.login()` gives the page for the chosen persona.
fn login_code(shared: &Shared, form: &OpenParams) -> Result<String, PhoneError> {
    let appid = form.appid.as_deref().unwrap_or_default();
    let persona = form.persona.as_deref().unwrap_or_default();
    issue::issue(
        &shared.config,
        &mut shared.lock(),
        Flow::MiniLogin,
        appid,
        persona,
        Instant::now(),
    )
    .map_err(|error| match error {
        issue::IssueError::UnknownPersona(_) => PhoneError::Persona,
        _ => PhoneError::NotMini,
    })
}

/// `POST {server}/wechat_mini/qr/{action}` with `body`, as the mini-program's `wx.request`.
async fn call(
    shared: &Shared,
    params: &OpenParams,
    action: &str,
    body: Value,
) -> Result<ServerAnswer, PhoneError> {
    let appid = params.appid.as_deref().unwrap_or_default();
    let is_mini = shared
        .config
        .app(appid)
        .is_some_and(|app| app.kind == AppKind::MiniProgram);
    if !is_mini {
        return Err(PhoneError::NotMini);
    }
    let server = shared.lock().server_urls.get(appid).cloned();
    let server = server.ok_or(PhoneError::NoServer)?;
    let url = format!("{server}/wechat_mini/qr/{action}");
    let response = shared
        .http
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|error| PhoneError::Unreachable(error.to_string()))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|error| PhoneError::Unreachable(error.to_string()))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    tracing::info!(%appid, action, status, "mini-program called its server");
    Ok(ServerAnswer { status, body })
}

fn json_answer(answer: Result<ServerAnswer, PhoneError>) -> Response {
    match answer {
        Ok(answer) => Json(json!({ "status": answer.status, "body": answer.body })).into_response(),
        Err(error) => {
            let body = json!({ "status": null, "body": null, "error": error.message() });
            (error.status(), Json(body)).into_response()
        }
    }
}

fn outcome(
    headers: &HeaderMap,
    answer: Result<ServerAnswer, PhoneError>,
    done: &str,
    note: &str,
) -> Response {
    if wants_json(headers) {
        return json_answer(answer);
    }
    match answer {
        Ok(answer) if answer.status == 200 => result_page(StatusCode::OK, done, note, &answer),
        Ok(answer) => result_page(StatusCode::OK, &server_message(&answer), "", &answer),
        Err(error) => error_page(&error),
    }
}

/// A GoTrue error's `msg` (or `error_description`), else the body as text.
fn server_message(answer: &ServerAnswer) -> String {
    ["msg", "error_description", "message"]
        .iter()
        .find_map(|key| answer.body.get(key).and_then(Value::as_str))
        .map_or_else(|| answer.body.to_string(), str::to_owned)
}

fn scan_page(shared: &Shared, params: &OpenParams, answer: &ServerAnswer) -> Response {
    if answer.status != 200 {
        return result_page(StatusCode::OK, &server_message(answer), "", answer);
    }
    let appid = params.appid.as_deref().unwrap_or_default();
    let app_name = shared
        .config
        .app(appid)
        .map_or(appid, |app| app.name.as_str());
    let site = answer
        .body
        .get("site")
        .and_then(Value::as_str)
        .map(|site| format!("<p id=\"site\">登录 {}</p>\n", escape(site)))
        .unwrap_or_default();
    let hidden = hidden_inputs(&[
        ("appid", appid),
        ("scene", params.scene.as_deref().unwrap_or_default()),
    ]);
    let body = format!(
        r#"<section class="authorize">
<div class="app-icon">{icon}</div>
<h1 id="app-name">「{name}」</h1>
{site}<p>确认在电脑上登录？</p>
<p class="note">服务器答复：<code id="server-answer">{status} {answer}</code></p>
<form method="post" action="{confirm}">
{hidden}<fieldset class="personas"><legend>选择一个微信账号（模拟器）</legend>
{personas}</fieldset>
<button id="confirm" class="primary" type="submit">确认登录</button>
<button id="cancel" class="secondary" type="submit" formaction="{cancel}">取消</button>
</form>
</section>"#,
        icon = escape(&app_name.chars().next().unwrap_or('小').to_string()),
        name = escape(app_name),
        status = answer.status,
        answer = escape(&answer.body.to_string()),
        personas = persona_radios(shared, |_| String::new()),
        confirm = escape(&shared.url("/sim/mini/open/confirm")),
        cancel = escape(&shared.url("/sim/mini/open/cancel")),
    );
    phone_page("扫码登录", &body)
}

fn result_page(status: StatusCode, title: &str, note: &str, answer: &ServerAnswer) -> Response {
    let body = format!(
        "<div class=\"result\"><p id=\"result\">{}</p><p class=\"note\">{}</p>\
         <p class=\"note\">服务器答复：<code id=\"server-answer\">{} {}</code></p></div>",
        escape(title),
        escape(note),
        answer.status,
        escape(&answer.body.to_string()),
    );
    (status, phone_page("扫码登录", &body)).into_response()
}

fn error_page(error: &PhoneError) -> Response {
    let body = format!(
        "<div class=\"result\"><p id=\"result\">{}</p></div>",
        escape(&error.message())
    );
    (error.status(), phone_page("扫码登录", &body)).into_response()
}
