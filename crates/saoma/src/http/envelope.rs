//! What happens around every request, in one middleware: its id, its trace span, its metrics,
//! and GoTrue's error shape for the API version it asked for.
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
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

use super::error::{render_for_api_version, wants_2024_api, API_VERSION_HEADER};
use crate::state::SharedState;

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
    // Spans carry the route template and the request id only: paths and queries may hold
    // codes or tokens, headers may hold JWTs. Field values are computed only when enabled.
    let span = tracing::info_span!(
        "request",
        method = %method,
        route,
        request_id = request_id.to_str().unwrap_or_default(),
    );
    let response = next.run(request).instrument(span.clone()).await;
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
    response
}
