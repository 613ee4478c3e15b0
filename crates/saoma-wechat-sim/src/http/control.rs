//! The simulator's own pages: fault switches and a callback that echoes what WeChat would
//! have sent to a client.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::Json;

use super::html::{escape, page};
use crate::faults::Faults;
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
