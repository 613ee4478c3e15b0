//! The phone scanning a 公众号's parametric QR code: `GET /sim/mp/scan/{ticket}` shows the
//! 公众号 with persona radios and 关注公众号 (进入公众号 for a follower); `POST …/confirm`
//! (form persona) follows and pushes `subscribe`, or pushes `SCAN` for a follower. With
//! `Accept: application/json` the confirmation answers `{pushed, attempts, status, body}`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::html::{escape, persona_radios, phone_page, wants_json};
use crate::domain::unix_now;
use crate::push::{deliver, Delivered};
use crate::simulator::Shared;

const EXPIRED: &str = "二维码已过期";

#[derive(Debug, Default, Deserialize)]
pub struct ScanForm {
    pub persona: Option<String>,
}

pub async fn show(State(shared): State<Arc<Shared>>, Path(ticket): Path<String>) -> Response {
    let (appid, followers) = {
        let state = shared.lock();
        let accounts = &state.official_accounts;
        let Ok(appid) = accounts.ticket_appid(&ticket, Instant::now()) else {
            return message(StatusCode::OK, EXPIRED, "请让公众号重新生成二维码。");
        };
        let followers: Vec<String> = shared
            .config
            .personas
            .iter()
            .filter(|persona| accounts.follows(appid, &persona.id))
            .map(|persona| persona.id.clone())
            .collect();
        (appid.to_owned(), followers)
    };
    let app_name = shared
        .config
        .app(&appid)
        .map_or(appid.as_str(), |app| app.name.as_str());
    let first_follows = shared
        .config
        .personas
        .first()
        .is_some_and(|persona| followers.contains(&persona.id));
    let personas = persona_radios(&shared, |persona| {
        let follows = followers.contains(&persona.id);
        let note = if follows {
            "<span class=\"note\">已关注</span>"
        } else {
            ""
        };
        format!("<input type=\"hidden\" data-follows=\"{follows}\">{note}")
    });
    let body = format!(
        r#"<section class="authorize">
<div class="app-icon">{icon}</div>
<h1 id="app-name">「{name}」</h1>
<p>扫描二维码关注公众号</p>
<form method="post" action="{confirm}">
<fieldset class="personas"><legend>选择一个微信账号（模拟器）</legend>
{personas}</fieldset>
<button id="follow" class="primary" type="submit">{button}</button>
</form>
</section>
<script>
document.querySelectorAll('input[name=persona]').forEach(function (radio) {{
  radio.addEventListener('change', function () {{
    var follows = radio.parentNode.querySelector('[data-follows]').dataset.follows === 'true';
    document.getElementById('follow').textContent = follows ? '进入公众号' : '关注公众号';
  }});
}});
</script>"#,
        icon = escape(&app_name.chars().next().unwrap_or('公').to_string()),
        name = escape(app_name),
        confirm = escape(&shared.url(&format!("/sim/mp/scan/{ticket}/confirm"))),
        button = if first_follows {
            "进入公众号"
        } else {
            "关注公众号"
        },
    );
    phone_page("公众号", &body)
}

pub async fn confirm(
    State(shared): State<Arc<Shared>>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ScanForm>,
) -> Response {
    let json = wants_json(&headers);
    let persona = form
        .persona
        .as_deref()
        .and_then(|id| shared.config.persona(id));
    let Some(persona) = persona else {
        let note = "返回上一页重新选择。";
        return refusal(json, StatusCode::BAD_REQUEST, "请选择一个微信账号", note);
    };
    let scanned =
        shared
            .lock()
            .official_accounts
            .scan(&ticket, &persona.id, Instant::now(), unix_now());
    let Ok(event) = scanned else {
        return refusal(json, StatusCode::OK, EXPIRED, "请让公众号重新生成二维码。");
    };
    tracing::info!(appid = %event.appid, persona = %persona.id, event = event.event, "公众号 code scanned");
    let delivered = deliver(&shared, &event).await;
    if json {
        return Json(json!({
            "event": event.event,
            "openid": event.openid,
            "pushed": delivered.pushed,
            "attempts": delivered.attempts,
            "status": delivered.status,
            "body": delivered.body,
        }))
        .into_response();
    }
    let title = if event.event == "subscribe" {
        "已关注公众号"
    } else {
        "已进入公众号"
    };
    message(StatusCode::OK, title, &push_note(&delivered))
}

fn push_note(delivered: &Delivered) -> String {
    match (delivered.pushed, delivered.status) {
        (0, _) => "公众号未配置服务器地址，没有推送事件。".to_owned(),
        (_, Some(status)) => format!(
            "已推送事件（{} 次请求），服务器最后答复 HTTP {status}：{}",
            delivered.attempts,
            delivered.body.as_deref().unwrap_or_default()
        ),
        (_, None) => format!(
            "已推送事件（{} 次请求），服务器没有答复。",
            delivered.attempts
        ),
    }
}

fn refusal(json: bool, status: StatusCode, title: &str, note: &str) -> Response {
    if json {
        let body =
            json!({ "pushed": 0, "attempts": 0, "status": null, "body": null, "error": title });
        return (status, Json(body)).into_response();
    }
    message(status, title, note)
}

fn message(status: StatusCode, title: &str, note: &str) -> Response {
    let body = format!(
        "<div class=\"result\"><p id=\"result\">{}</p><p class=\"note\">{}</p></div>",
        escape(title),
        escape(note)
    );
    (status, phone_page("公众号", &body)).into_response()
}
