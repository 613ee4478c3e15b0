//! Requests that write run to completion, whether or not the client is still there.
//!
//! hyper drops a request's future when its connection goes away (a tab closed during a
//! refresh, a proxy passing an abort on). Dropped between two writes, a handler leaves half a
//! sign-in behind: a user without the session the client never saw, a rotated refresh token
//! whose child nobody received. Running the handler in its own task makes "the client left"
//! mean only "nobody reads the answer": every write the handler starts, it finishes.

use axum::{
    extract::Request,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
};
use tracing::Instrument;

use super::error::ApiError;
use crate::state::SharedState;

/// `routes`, each run to completion in a task of its own (see the module docs).
pub fn writes(routes: MethodRouter<SharedState>) -> MethodRouter<SharedState> {
    routes.layer(middleware::from_fn(run_to_completion))
}

async fn run_to_completion(request: Request, next: Next) -> Response {
    let handler = next.run(request).instrument(tracing::Span::current());
    match tokio::spawn(handler).await {
        Ok(response) => response,
        // A panic in a handler: the task caught it, the client gets GoTrue's 500.
        Err(failure) => {
            ApiError::internal(format!("request handler failed: {failure}")).into_response()
        }
    }
}
