//! Codes, access tokens and refresh tokens, with WeChat's lifetimes and single-use rules.

use std::time::{Duration, Instant};

use super::remembered::Remembered;
use super::scope::Scope;
use super::WxError;
use crate::ids;

/// Website-app and mobile-app codes live ten minutes.
pub const LONG_CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// 公众号, mini-program (`wx.login()`) and phone-number codes live five minutes.
pub const SHORT_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// `expires_in: 7200`.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Spent codes are remembered this long, so reuse answers 40163 rather than 40029.
const CODE_MEMORY: Duration = Duration::from_secs(3600);
/// Expired tokens are remembered this long, so they answer "expired" rather than "invalid".
const TOKEN_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Who a grant speaks for (a persona, through one app) and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub appid: String,
    pub persona: String,
    pub scope: Scope,
}

/// Where a code can be spent: a code from one flow is unknown to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `sns/oauth2/access_token`: website, 公众号 and mobile-app codes.
    OAuth,
    /// `sns/jscode2session`: what `wx.login()` gives a mini-program.
    JsCode,
    /// `wxa/business/getuserphonenumber`: the getPhoneNumber button's code.
    PhoneNumber,
}

#[derive(Debug)]
struct Code {
    subject: Subject,
    purpose: Purpose,
    issued: Instant,
    lifetime: Duration,
    used: bool,
}

#[derive(Debug)]
struct Token {
    subject: Subject,
    issued: Instant,
}

impl Token {
    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.issued)
    }
}

#[derive(Debug, Default)]
pub struct Grants {
    codes: Remembered<Code, { CODE_MEMORY.as_secs() }>,
    access_tokens: Remembered<Token, { ACCESS_TOKEN_LIFETIME.as_secs() + TOKEN_MEMORY.as_secs() }>,
    refresh_tokens:
        Remembered<Token, { REFRESH_TOKEN_LIFETIME.as_secs() + TOKEN_MEMORY.as_secs() }>,
}

impl Grants {
    /// A new single-use code for `subject`, redeemable for `purpose` within `lifetime`.
    pub fn issue_code(
        &mut self,
        subject: Subject,
        purpose: Purpose,
        lifetime: Duration,
        now: Instant,
    ) -> String {
        let code = ids::random(32);
        let grant = Code {
            subject,
            purpose,
            issued: now,
            lifetime,
            used: false,
        };
        self.codes.insert(code.clone(), grant, now);
        code
    }

    /// Spends `code` for `appid`: unknown, foreign or other-purpose codes are 40029, spent
    /// ones 40163, late ones 42003 (callers of other endpoints translate). `force_expired` is
    /// the expire_codes fault.
    pub fn redeem_code(
        &mut self,
        appid: &str,
        purpose: Purpose,
        code: &str,
        now: Instant,
        force_expired: bool,
    ) -> Result<Subject, WxError> {
        let grant = match self.codes.get_mut(code) {
            Some(grant) if grant.subject.appid == appid && grant.purpose == purpose => grant,
            _ => return Err(WxError::InvalidCode),
        };
        if grant.used {
            return Err(WxError::CodeBeenUsed);
        }
        if force_expired || now.saturating_duration_since(grant.issued) >= grant.lifetime {
            return Err(WxError::CodeExpired);
        }
        grant.used = true;
        Ok(grant.subject.clone())
    }

    /// A fresh access token and refresh token pair.
    pub fn issue_tokens(&mut self, subject: Subject, now: Instant) -> (String, String) {
        let refresh_token = ids::random(86);
        let token = Token {
            subject: subject.clone(),
            issued: now,
        };
        self.refresh_tokens
            .insert(refresh_token.clone(), token, now);
        (self.issue_access_token(subject, now), refresh_token)
    }

    /// A new access token for the refresh token's subject; the refresh token stays the same.
    pub fn refresh(
        &mut self,
        appid: &str,
        refresh_token: &str,
        now: Instant,
    ) -> Result<(String, Subject), WxError> {
        let subject = match self.refresh_tokens.get(refresh_token) {
            Some(token) if token.subject.appid == appid => {
                if token.age(now) >= REFRESH_TOKEN_LIFETIME {
                    return Err(WxError::RefreshTokenExpired);
                }
                token.subject.clone()
            }
            _ => return Err(WxError::InvalidRefreshToken),
        };
        Ok((self.issue_access_token(subject.clone(), now), subject))
    }

    /// Whom `access_token` speaks for; unknown answers 40014, expired 42001.
    pub fn access(&self, access_token: &str, now: Instant) -> Result<&Subject, WxError> {
        let token = self
            .access_tokens
            .get(access_token)
            .ok_or(WxError::InvalidAccessToken)?;
        if token.age(now) >= ACCESS_TOKEN_LIFETIME {
            return Err(WxError::AccessTokenExpired);
        }
        Ok(&token.subject)
    }

    fn issue_access_token(&mut self, subject: Subject, now: Instant) -> String {
        let access_token = ids::random(86);
        let token = Token {
            subject,
            issued: now,
        };
        self.access_tokens.insert(access_token.clone(), token, now);
        access_token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            appid: "app".into(),
            persona: "xiaoming".into(),
            scope: Scope::Login,
        }
    }

    fn oauth_code(grants: &mut Grants, now: Instant) -> String {
        grants.issue_code(subject(), Purpose::OAuth, LONG_CODE_LIFETIME, now)
    }

    #[test]
    fn code_is_single_use_and_bound_to_its_app_and_purpose() {
        let now = Instant::now();
        let mut grants = Grants::default();
        let code = oauth_code(&mut grants, now);
        let redeem = |grants: &mut Grants, appid: &str, purpose: Purpose| {
            grants.redeem_code(appid, purpose, &code, now, false)
        };
        assert_eq!(
            redeem(&mut grants, "other", Purpose::OAuth),
            Err(WxError::InvalidCode)
        );
        assert_eq!(
            redeem(&mut grants, "app", Purpose::JsCode),
            Err(WxError::InvalidCode)
        );
        assert_eq!(redeem(&mut grants, "app", Purpose::OAuth), Ok(subject()));
        assert_eq!(
            redeem(&mut grants, "app", Purpose::OAuth),
            Err(WxError::CodeBeenUsed)
        );
    }

    #[test]
    fn codes_expire_after_their_lifetime() {
        let now = Instant::now();
        let mut grants = Grants::default();
        let long = oauth_code(&mut grants, now);
        let short = grants.issue_code(subject(), Purpose::OAuth, SHORT_CODE_LIFETIME, now);
        let later = now + SHORT_CODE_LIFETIME;
        assert_eq!(
            grants.redeem_code("app", Purpose::OAuth, &short, later, false),
            Err(WxError::CodeExpired)
        );
        assert!(grants
            .redeem_code("app", Purpose::OAuth, &long, later, false)
            .is_ok());
        let long = oauth_code(&mut grants, now);
        assert_eq!(
            grants.redeem_code(
                "app",
                Purpose::OAuth,
                &long,
                now + LONG_CODE_LIFETIME,
                false
            ),
            Err(WxError::CodeExpired)
        );
    }

    #[test]
    fn access_token_expires_after_7200_seconds_refresh_renews_it() {
        let now = Instant::now();
        let mut grants = Grants::default();
        let (access, refresh) = grants.issue_tokens(subject(), now);
        assert_eq!(grants.access(&access, now), Ok(&subject()));
        let later = now + ACCESS_TOKEN_LIFETIME;
        assert_eq!(
            grants.access(&access, later),
            Err(WxError::AccessTokenExpired)
        );
        assert_eq!(grants.access("nope", now), Err(WxError::InvalidAccessToken));
        let (renewed, _) = grants.refresh("app", &refresh, later).unwrap();
        assert_eq!(grants.access(&renewed, later), Ok(&subject()));
        assert_eq!(
            grants.refresh("other", &refresh, later),
            Err(WxError::InvalidRefreshToken)
        );
        assert_eq!(
            grants.refresh("app", &refresh, now + REFRESH_TOKEN_LIFETIME),
            Err(WxError::RefreshTokenExpired)
        );
    }
}
