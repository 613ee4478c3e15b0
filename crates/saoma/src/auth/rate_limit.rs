//! Rate limits as GoTrue has them: token buckets per client IP, refilled continuously. The
//! buckets live in the database, so several saoma processes on one database share one limit.
//!
//! Like GoTrue's, they apply only when `rate_limit.header` names the header a proxy puts the
//! client's address in: without it every client behind one proxy (or one test suite) would
//! share a bucket, so there are no limits at all and start-up says so.

use crate::{
    auth::{AuthError, AuthResult, Client},
    config::RateLimitConfig,
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
    /// `POST /verify`.
    Verify,
    /// `GET /authorize`: each call records a flow, kept for an hour.
    Authorize,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Otp => "otp",
            Self::AnonymousUsers => "anonymous",
            Self::Verify => "verify",
            Self::Authorize => "authorize",
        }
    }

    /// (capacity, refill per second).
    fn shape(self, state: &AppState) -> (f64, f64) {
        let limits = &state.config.rate_limit;
        let (per_period, period_seconds) = match self {
            Self::Token => (limits.token_refresh, 300.0),
            Self::Otp => (limits.otp, 300.0),
            Self::AnonymousUsers => (limits.anonymous_users, 3600.0),
            Self::Verify => (limits.verify, 300.0),
            Self::Authorize => (limits.authorize, 300.0),
        };
        (
            limits.burst.min(per_period).max(1.0),
            per_period / period_seconds,
        )
    }
}

/// Takes one token from the caller's bucket, or refuses with [`AuthError::RateLimited`].
pub async fn check(state: &AppState, bucket: Bucket, client: &Client) -> AuthResult<()> {
    if !applies(&state.config.rate_limit) {
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
    Err(AuthError::RateLimited)
}

/// Takes one text message from the deployment's hourly budget (`rate_limit.sms_sent`), or
/// refuses as GoTrue does.
pub async fn take_sms(state: &AppState) -> AuthResult<()> {
    if take_hourly(state, "sms_sent", state.config.rate_limit.sms_sent).await? {
        return Ok(());
    }
    Err(AuthError::OverSmsSendRateLimit(
        "SMS rate limit exceeded".into(),
    ))
}

/// Takes one message from the deployment's hourly budget `key` of `per_hour`: `false` when it
/// is spent. Applies whenever limits are on: it counts messages, not clients.
pub async fn take_hourly(state: &AppState, key: &str, per_hour: f64) -> AuthResult<bool> {
    take_budget(state, key, per_hour, 3600.0).await
}

/// Takes one from the budget `key` of `amount` per `period_seconds` (refilled continuously),
/// shared by every node: `false` when it is spent. Keyed by what is spent (an app's WeChat
/// quota, a flow's codes), not by client, so it applies without `rate_limit.header`.
pub async fn take_budget(
    state: &AppState,
    key: &str,
    amount: f64,
    period_seconds: f64,
) -> AuthResult<bool> {
    if !state.config.rate_limit.enabled {
        return Ok(true);
    }
    let amount = amount.max(0.0);
    let now = state.clock.now().timestamp_micros() as f64 / 1e6;
    let taken = amount >= 1.0
        && state
            .store
            .take_rate_limit_token(key, amount, amount / period_seconds, now)
            .await?;
    if !taken {
        state.metrics.rate_limited();
    }
    Ok(taken)
}

/// Whether IP-keyed limits are in force: switched on, and told where the client's address is.
pub fn applies(limits: &RateLimitConfig) -> bool {
    limits.enabled && limits.header.is_some()
}

/// The start-up warning when limits are switched on but cannot apply, else `None`.
pub fn off_warning(limits: &RateLimitConfig) -> Option<&'static str> {
    (limits.enabled && !applies(limits)).then_some(
        "rate limits are off: no rate_limit.header (SAOMA_RATE_LIMIT_HEADER / GOTRUE_RATE_LIMIT_HEADER) \
         names the header your proxy puts the client address in, so clients cannot be told apart",
    )
}
