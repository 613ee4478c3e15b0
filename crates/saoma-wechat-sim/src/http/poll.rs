//! `GET /connect/l/qrconnect?uuid=`: the QR page's poll. Like WeChat it answers JavaScript
//! that sets globals (`window.wx_errcode`, `window.wx_code`), loaded by a `<script>` tag.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::ticket::PollAnswer;
use crate::simulator::Shared;

/// `last` (the page's previous errcode) and the cache-buster `_` are accepted and ignored:
/// real WeChat long-polls until the state differs from `last`; answering at once is allowed.
#[derive(Debug, Default, Deserialize)]
pub struct PollParams {
    pub uuid: Option<String>,
}

pub async fn poll(State(shared): State<Arc<Shared>>, Query(params): Query<PollParams>) -> Response {
    let uuid = params.uuid.unwrap_or_default();
    let (answer, duplicate_redirect) = {
        let state = shared.lock();
        let answer = state.poll(&uuid, Instant::now());
        (answer, state.faults.duplicate_redirect)
    };
    let code = match &answer {
        PollAnswer::Confirmed { code } => code.as_str(),
        _ => "",
    };
    // Codes are alphanumeric, so they need no escaping inside the quotes.
    let mut body = format!(
        "window.wx_errcode={};window.wx_code='{code}';",
        answer.errcode()
    );
    if duplicate_redirect && !code.is_empty() {
        body.push_str("window.wx_redirect_count=2;");
    }
    (
        [
            (header::CONTENT_TYPE, "application/javascript"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
