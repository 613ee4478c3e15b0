//! What happens around every request, in one middleware: its id, its trace span, its metrics,
//! saoma's limits on its head, and GoTrue's error shape for the API version it asked for.
//!
//! One layer rather than five stacked ones (request id set and propagated, trace, metrics,
//! error rendering): every layer added with `Router::layer` is cloned and boxed per request,
//! and the stack cost about a fifth of a `GET /user` (docs/benchmarks.md).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use super::error::{render_for_api_version, wants_2024_api, ApiError, API_VERSION_HEADER};
use crate::{config::ServerConfig, state::SharedState};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random per-process prefix and a counter. Unique like a UUID per request,
/// without a trip to the kernel's random source on every request.
#[derive(Clone)]
pub struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl RequestIds {
    pub fn new() -> Self {
        Self {
            prefix: uuid::Uuid::new_v4().simple().to_string()[..12].into(),
            next: Default::default(),
        }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .unwrap_or(HeaderValue::from_static("-"))
    }
}

/// The middleware; its state is the app's and the id source.
pub async fn envelope(
    State((state, ids)): State<(SharedState, RequestIds)>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // A caller's own id (e.g. from a proxy) is kept and echoed.
    let request_id = match request.headers().get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = ids.next();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let new_api = wants_2024_api(request.headers().get(API_VERSION_HEADER));
    let too_large = oversized_head(&request, &state.config.server);
    // Spans carry the route template and the request id only: paths and queries may hold
    // codes or tokens, headers may hold JWTs. Field values are computed only when enabled.
    let span = tracing::info_span!(
        "request",
        method = %method,
        route,
        request_id = request_id.to_str().unwrap_or_default(),
    );
    let response = match too_large {
        Some(error) => span.in_scope(|| error.into_response()),
        None => next.run(request).instrument(span.clone()).await,
    };
    let mut response = render_for_api_version(new_api, response);
    let elapsed = started.elapsed();
    let status = response.status();
    state
        .metrics
        .request(route, &method, status.as_u16(), elapsed);
    // Failures are logged, with their cause, where the error is made (`ApiError`).
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            latency_ms = elapsed.as_millis(),
            "finished processing request"
        );
    });
    response.headers_mut().insert(REQUEST_ID, request_id);
    if leaves_body_unread(status) {
        // hyper closes such a connection after the response; saying so lets keep-alive
        // clients (undici, reqwest) open a new one rather than fail their next request on it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Header fields per request; hyper's own limit is above it (`serve::HYPER_MAX_HEADERS`).
pub const MAX_HEADER_COUNT: usize = 100;

/// A request head over saoma's limits, as GoTrue's error format (hyper's own, higher limits
/// answer with an empty body).
fn oversized_head(request: &Request, limits: &ServerConfig) -> Option<ApiError> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri_bytes > limits.max_uri_bytes {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "request_uri_too_long",
            format!("Request URI too long (max {} bytes)", limits.max_uri_bytes),
        ));
    }
    let headers = request.headers();
    // As on the wire: name, ": ", value, CRLF.
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADER_COUNT || header_bytes > limits.max_header_bytes {
        return Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large",
            format!(
                "Request header fields too large (max {MAX_HEADER_COUNT} fields, {} bytes)",
                limits.max_header_bytes
            ),
        ));
    }
    None
}

/// Answers given without reading the whole body: too large, too slow, or refused by its head.
fn leaves_body_unread(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::URI_TOO_LONG
            | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    )
}
