//! A 公众号's API for follow-to-log-in: `POST cgi-bin/qrcode/create`, `GET
//! cgi-bin/showqrcode` (mp.weixin.qq.com's, no token) and `GET cgi-bin/user/info`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::mini::AccessTokenQuery;
use super::wx::{log_outcome, wx_json};
use crate::domain::mp_qr::{self, UserInfoParams};
use crate::image::qr_png;
use crate::simulator::Shared;

pub async fn create(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AccessTokenQuery>,
    body: Bytes,
) -> Response {
    let result = mp_qr::create_qrcode(
        &shared.config,
        &mut shared.lock(),
        query.access_token.as_deref(),
        &body,
        Instant::now(),
        |ticket| scan_url(&shared, ticket),
    );
    log_outcome("cgi-bin/qrcode/create", None, &result);
    wx_json(result)
}

/// The QR content of a ticket: the phone's scan page.
pub fn scan_url(shared: &Shared, ticket: &str) -> String {
    let ticket: String = url::form_urlencoded::byte_serialize(ticket.as_bytes()).collect();
    shared.url(&format!("/sim/mp/scan/{ticket}"))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    pub ticket: Option<String>,
}

/// `GET cgi-bin/showqrcode?ticket=`: the code's PNG; 404 for unknown or expired tickets.
pub async fn show(State(shared): State<Arc<Shared>>, Query(query): Query<ShowQuery>) -> Response {
    let ticket = query.ticket.unwrap_or_default();
    let live = shared
        .lock()
        .official_accounts
        .ticket_appid(&ticket, Instant::now())
        .is_ok();
    if !live {
        return StatusCode::NOT_FOUND.into_response();
    }
    match qr_png(&scan_url(&shared, &ticket)) {
        Ok(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub async fn user_info(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<UserInfoParams>,
) -> Response {
    let result = mp_qr::user_info(&shared.config, &shared.lock(), &params, Instant::now());
    log_outcome("cgi-bin/user/info", None, &result);
    wx_json(result)
}
