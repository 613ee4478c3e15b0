//! Rate limits as GoTrue has them: token buckets per client IP, refilled continuously. The
//! buckets live in the database, so several saoma processes on one database share one limit.

use crate::{
    http::{error::ApiError, extract::Client},
    state::AppState,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// `POST /token`, all grants.
    Token,
    /// `/signup` and `PUT /user`.
    Otp,
    /// Anonymous sign-ins.
    AnonymousUsers,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Otp => "otp",
            Self::AnonymousUsers => "anonymous",
        }
    }

    /// (capacity, refill per second).
    fn shape(self, state: &AppState) -> (f64, f64) {
        let limits = &state.config.rate_limit;
        let (per_period, period_seconds) = match self {
            Self::Token => (limits.token_refresh, 300.0),
            Self::Otp => (limits.otp, 300.0),
            Self::AnonymousUsers => (limits.anonymous_users, 3600.0),
        };
        (
            limits.burst.min(per_period).max(1.0),
            per_period / period_seconds,
        )
    }
}

/// Takes one token from the caller's bucket, or answers 429 `over_request_rate_limit`.
pub async fn check(state: &AppState, bucket: Bucket, client: &Client) -> Result<(), ApiError> {
    if !state.config.rate_limit.enabled {
        return Ok(());
    }
    let (capacity, refill) = bucket.shape(state);
    let key = format!("{}:{}", bucket.name(), client.ip);
    let now = state.clock.now().timestamp_micros() as f64 / 1e6;
    if state
        .store
        .take_rate_limit_token(&key, capacity, refill, now)
        .await?
    {
        return Ok(());
    }
    state.metrics.rate_limited();
    Err(ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "over_request_rate_limit",
        "Request rate limit reached",
    ))
}
