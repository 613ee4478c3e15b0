//! App access tokens (`grant_type=client_credential`), in WeChat's two isolated families:
//! - `cgi-bin/token` ("classic"): every call issues a new token and retires the previous one
//!   after five minutes, which is why WeChat says "invalid or not latest" and why servers
//!   must share one token; 2000 calls a day per app.
//! - `cgi-bin/stable_token`: the same token while it is valid, renewed in its last five
//!   minutes (old and new overlap); `force_refresh` kills the current one at once, at most
//!   once per 30 s and 20 times a day.
//!
//! Neither family ever retires the other's tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::grants::ACCESS_TOKEN_LIFETIME;
use super::WxError;
use crate::ids;

/// How long the previous token keeps working after a new one is issued; also how early a
/// stable token is renewed.
pub const OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Expired tokens are remembered this long, so they answer 42001 rather than 40001.
const MEMORY: Duration = Duration::from_secs(24 * 3600);
/// Daily quotas count over windows of this length, from the window's first call.
const DAY: Duration = Duration::from_secs(24 * 3600);
/// `force_refresh` at most once per this interval (45011)…
const FORCE_INTERVAL: Duration = Duration::from_secs(30);
/// …and this often a day (45009).
const FORCES_PER_DAY: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Classic,
    Stable,
}

#[derive(Debug)]
struct AppToken {
    appid: String,
    family: Family,
    /// Past it the token answers "expired" (42001), or "not latest" (40001) if it was
    /// retired by a newer one.
    deadline: Instant,
    retired: bool,
}

/// What a test can read about an app's token fetches (only successful ones count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenStats {
    /// `cgi-bin/token` calls that issued a token.
    pub token_fetches: u32,
    /// `cgi-bin/stable_token` calls in normal mode.
    pub stable_fetches: u32,
    /// `cgi-bin/stable_token` calls with `force_refresh: true` that issued a token.
    pub forced_refreshes: u32,
}

/// Calls counted since `start`; a call a day or more later opens a new window.
#[derive(Debug, Clone, Copy)]
struct DailyCount {
    start: Instant,
    count: u32,
}

impl DailyCount {
    /// Counts one call unless `limit` calls were already made this window.
    fn take(slot: &mut Option<DailyCount>, limit: u32, now: Instant) -> Result<(), WxError> {
        let window = match slot {
            Some(window) if now.saturating_duration_since(window.start) < DAY => window,
            _ => slot.insert(DailyCount {
                start: now,
                count: 0,
            }),
        };
        if window.count >= limit {
            return Err(WxError::DailyQuota);
        }
        window.count += 1;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct AppLedger {
    stats: TokenStats,
    classic_today: Option<DailyCount>,
    forces_today: Option<DailyCount>,
    last_force: Option<Instant>,
    /// The stable token normal mode hands out.
    stable_current: Option<String>,
}

/// A token and its remaining life, as `expires_in` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Default)]
pub struct AppTokens {
    tokens: HashMap<String, AppToken>,
    ledgers: HashMap<String, AppLedger>,
}

impl AppTokens {
    /// `cgi-bin/token`: a new classic token for `appid`; the app's older classic tokens die
    /// within [`OVERLAP`]. 45009 past `daily_quota` calls.
    pub fn issue(
        &mut self,
        appid: &str,
        daily_quota: u32,
        now: Instant,
    ) -> Result<String, WxError> {
        let ledger = self.ledgers.entry(appid.to_owned()).or_default();
        DailyCount::take(&mut ledger.classic_today, daily_quota, now)?;
        ledger.stats.token_fetches += 1;
        self.retire(appid, Family::Classic, now + OVERLAP, now);
        Ok(self.insert(appid, Family::Classic, now))
    }

    /// `cgi-bin/stable_token`. Normal mode: the current stable token, or a new one when it
    /// is in its last [`OVERLAP`] or gone. Forced: a new one that kills the current one now.
    pub fn stable(&mut self, appid: &str, force: bool, now: Instant) -> Result<Issued, WxError> {
        let ledger = self.ledgers.entry(appid.to_owned()).or_default();
        if force {
            let too_soon = ledger
                .last_force
                .is_some_and(|last| now.saturating_duration_since(last) < FORCE_INTERVAL);
            if too_soon {
                return Err(WxError::MinuteQuota);
            }
            DailyCount::take(&mut ledger.forces_today, FORCES_PER_DAY, now)?;
            ledger.last_force = Some(now);
            ledger.stats.forced_refreshes += 1;
            self.retire(appid, Family::Stable, now, now);
        } else {
            ledger.stats.stable_fetches += 1;
            let current = ledger
                .stable_current
                .as_ref()
                .and_then(|value| Some((value, self.tokens.get(value)?)))
                .filter(|(_, token)| !token.retired && now + OVERLAP < token.deadline);
            if let Some((value, token)) = current {
                return Ok(Issued {
                    access_token: value.clone(),
                    expires_in: remaining(token.deadline, now),
                });
            }
        }
        let value = self.insert(appid, Family::Stable, now);
        if let Some(ledger) = self.ledgers.get_mut(appid) {
            ledger.stable_current = Some(value.clone());
        }
        Ok(Issued {
            access_token: value,
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        })
    }

    /// Every live token of `appid`, of both families, expires now: the next use answers
    /// 42001 and the next `stable_token` call issues a new one.
    pub fn expire_app(&mut self, appid: &str, now: Instant) {
        for token in self.tokens.values_mut() {
            if token.appid == appid {
                token.deadline = token.deadline.min(now);
            }
        }
    }

    pub fn stats(&self, appid: &str) -> TokenStats {
        self.ledgers
            .get(appid)
            .map(|ledger| ledger.stats)
            .unwrap_or_default()
    }

    /// The appid `access_token` speaks for.
    pub fn check(&self, access_token: &str, now: Instant) -> Result<&str, WxError> {
        let token = self
            .tokens
            .get(access_token)
            .ok_or(WxError::StaleAppAccessToken)?;
        if now < token.deadline {
            Ok(&token.appid)
        } else if token.retired {
            Err(WxError::StaleAppAccessToken)
        } else {
            Err(WxError::AccessTokenExpired)
        }
    }

    /// Retires the app's live tokens of `family`; they die at `until` at the latest.
    fn retire(&mut self, appid: &str, family: Family, until: Instant, now: Instant) {
        self.tokens.retain(|_, token| token.deadline + MEMORY > now);
        for token in self.tokens.values_mut() {
            if token.appid == appid && token.family == family && !token.retired {
                token.retired = true;
                token.deadline = token.deadline.min(until);
            }
        }
    }

    fn insert(&mut self, appid: &str, family: Family, now: Instant) -> String {
        let value = ids::random(136);
        let token = AppToken {
            appid: appid.to_owned(),
            family,
            deadline: now + ACCESS_TOKEN_LIFETIME,
            retired: false,
        };
        self.tokens.insert(value.clone(), token);
        value
    }
}

/// Whole seconds left, as `expires_in`.
fn remaining(deadline: Instant, now: Instant) -> u64 {
    deadline.saturating_duration_since(now).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: u32 = 2000;

    #[test]
    fn a_new_token_retires_the_old_one_after_five_minutes() {
        let now = Instant::now();
        let mut tokens = AppTokens::default();
        let old = tokens.issue("app", QUOTA, now).unwrap();
        let other_app = tokens.issue("other", QUOTA, now).unwrap();
        let new = tokens.issue("app", QUOTA, now).unwrap();
        assert_eq!(tokens.check(&old, now), Ok("app"));
        assert_eq!(tokens.check(&new, now + OVERLAP), Ok("app"));
        assert_eq!(
            tokens.check(&old, now + OVERLAP),
            Err(WxError::StaleAppAccessToken)
        );
        assert_eq!(tokens.check(&other_app, now + OVERLAP), Ok("other"));
        assert_eq!(
            tokens.check(&new, now + ACCESS_TOKEN_LIFETIME),
            Err(WxError::AccessTokenExpired)
        );
        assert_eq!(tokens.check("nope", now), Err(WxError::StaleAppAccessToken));
    }

    #[test]
    fn the_stable_token_is_renewed_in_its_last_five_minutes_and_overlaps() {
        let now = Instant::now();
        let mut tokens = AppTokens::default();
        let first = tokens.stable("app", false, now).unwrap();
        assert_eq!(first.expires_in, 7200);
        let later = now + Duration::from_secs(1000);
        let same = tokens.stable("app", false, later).unwrap();
        assert_eq!(same.access_token, first.access_token);
        assert_eq!(same.expires_in, 6200);
        let near_end = now + ACCESS_TOKEN_LIFETIME - Duration::from_secs(299);
        let renewed = tokens.stable("app", false, near_end).unwrap();
        assert_ne!(renewed.access_token, first.access_token);
        assert_eq!(renewed.expires_in, 7200);
        assert_eq!(tokens.check(&first.access_token, near_end), Ok("app"));
        assert_eq!(tokens.check(&renewed.access_token, near_end), Ok("app"));
        let past = now + ACCESS_TOKEN_LIFETIME;
        assert_eq!(
            tokens.check(&first.access_token, past),
            Err(WxError::AccessTokenExpired)
        );
        assert_eq!(tokens.stats("app").stable_fetches, 3);
    }

    #[test]
    fn a_day_later_the_quotas_start_over() {
        let now = Instant::now();
        let mut tokens = AppTokens::default();
        tokens.issue("app", 1, now).unwrap();
        assert_eq!(tokens.issue("app", 1, now), Err(WxError::DailyQuota));
        assert!(tokens.issue("app", 1, now + DAY).is_ok());
        for minute in 0..20 {
            let at = now + Duration::from_secs(60 * minute);
            assert!(tokens.stable("app", true, at).is_ok());
        }
        let at = now + Duration::from_secs(60 * 20);
        assert_eq!(tokens.stable("app", true, at), Err(WxError::DailyQuota));
        assert!(tokens.stable("app", true, now + DAY).is_ok());
    }
}
