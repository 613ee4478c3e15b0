//! `POST wxa/getwxacodeunlimit?access_token=`: the mini-program code as an image, or an
//! errcode as `application/json` (which is how clients tell the two apart).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::mini::AccessTokenQuery;
use super::wx::{log_outcome, wx_error_json};
use crate::domain::wxacode::{self, Wxacode};
use crate::domain::WxError;
use crate::image::qr_png;
use crate::simulator::Shared;

pub async fn getwxacodeunlimit(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AccessTokenQuery>,
    body: Bytes,
) -> Response {
    let result = wxacode::getwxacodeunlimit(
        &shared.config,
        &mut shared.lock(),
        query.access_token.as_deref(),
        &body,
        Instant::now(),
    );
    log_outcome("wxa/getwxacodeunlimit", None, &result);
    let picture =
        result.and_then(|code| qr_png(&open_url(&shared, &code)).map_err(|_| WxError::Busy));
    match picture {
        // WeChat labels its codes image/jpeg; the simulator's bytes are a PNG under that
        // label, which is what a client that sniffs or just stores the bytes should survive.
        Ok(png) => ([(header::CONTENT_TYPE, "image/jpeg")], png).into_response(),
        Err(error) => wx_error_json(error),
    }
}

/// What the code leads to: the phone opening `page` of the mini-program with `scene`,
/// URL-encoded as WeChat hands `query.scene` to the page.
pub fn open_url(shared: &Shared, code: &Wxacode) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("appid", &code.appid)
        .append_pair("page", &code.page)
        .append_pair("scene", &code.scene)
        .finish();
    shared.url(&format!("/sim/mini/open?{query}"))
}
