//! Housekeeping: rows that nothing can use any more are deleted in the background, a bounded
//! batch of each kind per run, by one node at a time (the store decides who).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::{
    config::Config,
    domain::flow::FLOW_LIFETIME,
    state::SharedState,
    store::{StoreResult, SweepPlan, Swept},
};

/// How many rows of each kind one run deletes at most.
const BATCH: i64 = 1000;
/// A bucket untouched this long has refilled completely (the longest refill period is an
/// hour), so forgetting it changes nothing.
const BUCKET_IDLE_SECONDS: f64 = 3600.0;
/// An expired scan ticket is kept this long, so that a browser still polling it is told it
/// expired rather than that it never existed.
const SCAN_TICKETS_KEPT_AFTER_EXPIRY: chrono::Duration = chrono::Duration::hours(1);

/// What a run at `now` deletes; one-time codes live `code_lifetime`.
pub fn plan(now: DateTime<Utc>, code_lifetime: chrono::Duration) -> SweepPlan {
    SweepPlan {
        // Six lifetimes: well past the last moment a callback or a code exchange could use it.
        // An emailed PKCE link's flow waits for the link as long as its code lives.
        flows_before: now - (FLOW_LIFETIME * 6).max(code_lifetime),
        buckets_idle_before: now.timestamp_micros() as f64 / 1e6 - BUCKET_IDLE_SECONDS,
        sessions_ended_before: now,
        one_time_tokens_before: now - code_lifetime,
        scan_tickets_before: now - SCAN_TICKETS_KEPT_AFTER_EXPIRY,
        batch: BATCH,
    }
}

/// How long any one-time code is kept at least: on a database GoTrue used, its email links
/// (GOTRUE_MAILER_OTP_EXP, a day by default) share the table with saoma's SMS codes, and must
/// not be swept at an SMS code's lifetime.
const CODES_KEPT_AT_LEAST_SECONDS: i64 = 86_400;

/// How long one-time codes are kept: the longer of the SMS codes' and the emailed codes'
/// lifetimes, and at least a day.
pub fn code_lifetime(config: &Config) -> chrono::Duration {
    let longest = config
        .sms
        .otp_exp
        .max(config.mailer.otp_exp)
        .max(CODES_KEPT_AT_LEAST_SECONDS);
    chrono::Duration::seconds(longest)
}

/// One run, now.
pub async fn sweep_once(state: &SharedState) -> StoreResult<Swept> {
    let plan = plan(state.clock.now(), code_lifetime(&state.config));
    state.store.sweep(&plan).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_email_link_flows_are_kept_as_long_as_the_longest_code_lives() {
        let mut config = Config::default();
        assert_eq!(code_lifetime(&config), chrono::Duration::days(1));
        config.mailer.otp_exp = 3 * 86_400;
        assert_eq!(code_lifetime(&config), chrono::Duration::days(3));
        config.sms.otp_exp = 4 * 86_400;
        assert_eq!(code_lifetime(&config), chrono::Duration::days(4));

        // A PKCE link followed two hours after it was mailed still finds its flow.
        let now = Utc::now();
        let plan = plan(now, chrono::Duration::days(1));
        assert!(plan.flows_before <= now - chrono::Duration::days(1));
        assert!(plan.one_time_tokens_before <= now - chrono::Duration::days(1));
        // Without long-lived codes, OAuth flows go after six of their lifetimes.
        let short = super::plan(now, chrono::Duration::seconds(60));
        assert_eq!(short.flows_before, now - FLOW_LIFETIME * 6);
    }

    #[test]
    fn scan_tickets_are_kept_an_hour_past_their_expiry() {
        let now = Utc::now();
        let plan = plan(now, chrono::Duration::seconds(60));
        assert_eq!(plan.scan_tickets_before, now - chrono::Duration::hours(1));
    }
}
