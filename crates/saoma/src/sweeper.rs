//! Housekeeping: rows that nothing can use any more are deleted in the background, a bounded
//! batch of each kind per run, by one node at a time (the store decides who).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::{
    domain::flow::FLOW_LIFETIME,
    state::SharedState,
    store::{StoreResult, SweepPlan, Swept},
};

/// How many rows of each kind one run deletes at most.
const BATCH: i64 = 1000;
/// A bucket untouched this long has refilled completely (the longest refill period is an
/// hour), so forgetting it changes nothing.
const BUCKET_IDLE_SECONDS: f64 = 3600.0;

/// What a run at `now` deletes; one-time codes live `code_lifetime`.
pub fn plan(now: DateTime<Utc>, code_lifetime: chrono::Duration) -> SweepPlan {
    SweepPlan {
        // Six lifetimes: well past the last moment a callback or a code exchange could use it.
        flows_before: now - FLOW_LIFETIME * 6,
        buckets_idle_before: now.timestamp_micros() as f64 / 1e6 - BUCKET_IDLE_SECONDS,
        sessions_ended_before: now,
        one_time_tokens_before: now - code_lifetime,
        batch: BATCH,
    }
}

/// How long any one-time code is kept at least: on a database GoTrue used, its email links
/// (GOTRUE_MAILER_OTP_EXP, a day by default) share the table with saoma's SMS codes, and must
/// not be swept at an SMS code's lifetime.
const CODES_KEPT_AT_LEAST_SECONDS: i64 = 86_400;

/// One run, now.
pub async fn sweep_once(state: &SharedState) -> StoreResult<Swept> {
    let code_lifetime =
        chrono::Duration::seconds(state.config.sms.otp_exp.max(CODES_KEPT_AT_LEAST_SECONDS));
    state
        .store
        .sweep(&plan(state.clock.now(), code_lifetime))
        .await
}

/// The background sweeper; it stops when dropped.
pub struct Sweeper(JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sweeps every `every` until the returned [`Sweeper`] is dropped. A failed run is logged and
/// retried at the next tick: housekeeping never stops the server.
pub fn spawn(state: SharedState, every: Duration) -> Sweeper {
    Sweeper(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep_once(&state).await {
                Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "swept"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "housekeeping failed; retrying later"),
            }
        }
    }))
}
