//! PNG routes: the QR code of a login ticket and the personas' avatars (WeChat's headimgurl).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::image::{self, ImageError};
use crate::simulator::Shared;

/// The sizes WeChat's headimgurl suffix selects; 0 means 640 px.
const AVATAR_SIZES: [(u32, usize); 5] = [(0, 640), (46, 46), (64, 64), (96, 96), (132, 132)];

/// `GET /sim/qr/<uuid>.png`: the QR code encodes the phone page's URL.
pub async fn qr(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let Some(uuid) = file.strip_suffix(".png") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if shared.lock().ticket_appid(uuid).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    png_response(image::qr_png(&shared.url(&format!("/sim/phone/{uuid}"))))
}

/// `GET /sim/avatar/<persona>/<size>`: a square in the persona's colour.
pub async fn avatar(
    State(shared): State<Arc<Shared>>,
    Path((persona, size)): Path<(String, String)>,
) -> Response {
    let Some(persona) = shared.config.persona(&persona) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let side = size.parse::<u32>().ok().and_then(|size| {
        AVATAR_SIZES
            .iter()
            .find(|(suffix, _)| *suffix == size)
            .map(|(_, side)| *side)
    });
    let Some(side) = side else {
        return StatusCode::NOT_FOUND.into_response();
    };
    png_response(image::solid_png(
        side,
        image::parse_color(&persona.avatar_color),
    ))
}

fn png_response(png: Result<Vec<u8>, ImageError>) -> Response {
    match png {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not draw a PNG");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
