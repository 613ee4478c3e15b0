//! App access tokens (`cgi-bin/token`, `grant_type=client_credential`): one app-wide token,
//! as WeChat hands out. Fetching a new one retires the previous one after five minutes,
//! which is why WeChat says "invalid or not latest" and why servers must share one token.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::grants::ACCESS_TOKEN_LIFETIME;
use super::WxError;
use crate::ids;

/// How long the previous token keeps working after a new one is issued.
pub const OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Expired tokens are remembered this long, so they answer 42001 rather than 40001.
const MEMORY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug)]
struct AppToken {
    appid: String,
    /// Past it the token answers "expired" (42001), or "not latest" (40001) if it was
    /// retired by a newer one.
    deadline: Instant,
    retired: bool,
}

#[derive(Debug, Default)]
pub struct AppTokens {
    tokens: HashMap<String, AppToken>,
}

impl AppTokens {
    /// A new token for `appid`; the app's older tokens die within [`OVERLAP`].
    pub fn issue(&mut self, appid: &str, now: Instant) -> String {
        self.tokens.retain(|_, token| token.deadline + MEMORY > now);
        for token in self.tokens.values_mut() {
            if token.appid == appid && !token.retired {
                token.retired = true;
                token.deadline = token.deadline.min(now + OVERLAP);
            }
        }
        let value = ids::random(136);
        let token = AppToken {
            appid: appid.to_owned(),
            deadline: now + ACCESS_TOKEN_LIFETIME,
            retired: false,
        };
        self.tokens.insert(value.clone(), token);
        value
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_retires_the_old_one_after_five_minutes() {
        let now = Instant::now();
        let mut tokens = AppTokens::default();
        let old = tokens.issue("app", now);
        let other_app = tokens.issue("other", now);
        let new = tokens.issue("app", now);
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
}
