//! The simulated phone: what WeChat shows after scanning the QR code. Opening it marks the
//! ticket scanned; the tester picks a persona and confirms or cancels.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{escape, persona_radios, phone_page};
use crate::domain::ticket::TicketError;
use crate::simulator::Shared;

#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    pub persona: Option<String>,
}

pub async fn show(State(shared): State<Arc<Shared>>, Path(uuid): Path<String>) -> Response {
    let scanned = shared.lock().scan(&uuid, Instant::now());
    match scanned {
        Ok(appid) => {
            tracing::info!(%appid, %uuid, "QR code scanned");
            authorize_page(&shared, &uuid, &appid)
        }
        Err(error) => ticket_error_page(error),
    }
}

pub async fn confirm(
    State(shared): State<Arc<Shared>>,
    Path(uuid): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let persona = form
        .persona
        .as_deref()
        .and_then(|id| shared.config.persona(id));
    let Some(persona) = persona else {
        return result_page(
            StatusCode::BAD_REQUEST,
            "请选择要登录的微信账号",
            "返回上一页重新选择。",
        );
    };
    match shared.lock().confirm(&uuid, &persona.id, Instant::now()) {
        Ok(()) => {
            tracing::info!(%uuid, persona = %persona.id, "login confirmed on the phone");
            result_page(StatusCode::OK, "已确认登录", "请回到电脑上继续操作。")
        }
        Err(error) => ticket_error_page(error),
    }
}

pub async fn cancel(State(shared): State<Arc<Shared>>, Path(uuid): Path<String>) -> Response {
    match shared.lock().cancel(&uuid, Instant::now()) {
        Ok(()) => {
            tracing::info!(%uuid, "login cancelled on the phone");
            result_page(StatusCode::OK, "已取消登录", "电脑上的网页将收到取消结果。")
        }
        Err(error) => ticket_error_page(error),
    }
}

fn authorize_page(shared: &Shared, uuid: &str, appid: &str) -> Response {
    let app_name = shared
        .config
        .app(appid)
        .map_or(appid, |app| app.name.as_str());
    let icon = app_name.chars().next().unwrap_or('应');
    let personas = persona_radios(shared, |_| String::new());
    let body = format!(
        r#"<section class="authorize">
<div class="app-icon">{icon}</div>
<h1 id="app-name">「{name}」</h1>
<p>申请使用你的微信账号登录</p>
<form method="post" action="{confirm}">
<fieldset class="personas"><legend>选择一个微信账号（模拟器）</legend>
{personas}</fieldset>
<button id="confirm" class="primary" type="submit">确认登录</button>
<button id="cancel" class="secondary" type="submit" formaction="{cancel}">取消</button>
</form>
</section>"#,
        icon = escape(&icon.to_string()),
        name = escape(app_name),
        confirm = escape(&shared.url(&format!("/sim/phone/{uuid}/confirm"))),
        cancel = escape(&shared.url(&format!("/sim/phone/{uuid}/cancel"))),
    );
    phone_page("微信登录", &body)
}

fn ticket_error_page(error: TicketError) -> Response {
    match error {
        TicketError::Unknown => result_page(
            StatusCode::NOT_FOUND,
            "二维码不存在",
            "请在电脑上重新打开登录页。",
        ),
        TicketError::Expired => result_page(
            StatusCode::OK,
            "二维码已失效",
            "请在电脑上刷新二维码后重新扫描。",
        ),
        TicketError::Settled => result_page(
            StatusCode::OK,
            "二维码已使用",
            "每个二维码只能登录一次，请在电脑上刷新二维码。",
        ),
    }
}

/// A one-line outcome (`#result`) with a note beneath.
fn result_page(status: StatusCode, title: &str, note: &str) -> Response {
    let body = format!(
        "<div class=\"result\"><p id=\"result\">{}</p><p class=\"note\">{}</p></div>",
        escape(title),
        escape(note)
    );
    (status, phone_page("微信登录", &body)).into_response()
}
