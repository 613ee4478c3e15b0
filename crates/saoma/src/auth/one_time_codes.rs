//! Checking one-time codes, for text messages and email alike: a code typed by a person
//! (`{phone|email, token}`) and a link's hash (`token_hash`), each consumed exactly once.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{
    auth::{AuthError, AuthResult},
    domain::one_time_token::{LinkKey, OneTimeToken, TokenType},
    state::AppState,
};

/// How long codes live, how many wrong guesses one survives, and the key their hashes were
/// made with (emailed codes; text messages keep GoTrue's unkeyed hash).
#[derive(Clone)]
pub struct CodeRules {
    pub lifetime: Duration,
    pub max_attempts: u32,
    pub key: Option<LinkKey>,
}

impl CodeRules {
    pub fn sms(state: &AppState) -> Self {
        let sms = &state.config.sms;
        Self {
            lifetime: Duration::seconds(sms.otp_exp.max(0)),
            max_attempts: sms.max_attempts.max(1),
            key: None,
        }
    }

    pub fn email(state: &AppState) -> Self {
        let mailer = &state.config.mailer;
        Self {
            lifetime: Duration::seconds(mailer.otp_exp.max(0)),
            max_attempts: mailer.max_attempts.max(1),
            key: Some(state.link_key.clone()),
        }
    }
}

/// Whole seconds (rounded up, at least 1) still to wait before another code of `kind` may go
/// to `user_id`, whose last one was issued less than `interval` before `now`; `None` when one
/// may go now. The answer for the caller; the lock that holds against a burst is
/// `issue_one_time_token_unless_sent_after`.
pub async fn seconds_until_next(
    state: &AppState,
    user_id: Uuid,
    kind: TokenType,
    interval: Duration,
    now: DateTime<Utc>,
) -> AuthResult<Option<i64>> {
    let Some(last) = state.store.one_time_token_of(user_id, kind).await? else {
        return Ok(None);
    };
    let next = last.created_at + interval;
    // Rounded up: waiting what the message says is always enough.
    Ok((now < next).then(|| {
        ((next - now).num_milliseconds() + 999)
            .div_euclid(1000)
            .max(1)
    }))
}

/// GoTrue's words for another code asked for inside the resend interval.
pub fn too_soon_message(wait_seconds: i64) -> String {
    format!("For security purposes, you can only request this after {wait_seconds} seconds.")
}

/// The live code of `types` sent to `relates_to` that `code` is, consumed. Every guess counts
/// against every live code it could be meant for, and is counted before it is checked: a
/// code that has had its `max_attempts` tries is dead, however many arrive at once.
pub async fn consume_matching(
    state: &AppState,
    relates_to: &str,
    types: &[TokenType],
    code: &str,
    rules: CodeRules,
) -> AuthResult<OneTimeToken> {
    let now = state.clock.now();
    let live = state
        .store
        .one_time_tokens_for(relates_to, types)
        .await?
        .into_iter()
        .filter(|t| now < t.created_at + rules.lifetime);
    let mut tried = Vec::new();
    for token in live {
        if state.store.take_guess(token.id, rules.max_attempts).await? {
            tried.push(token);
        }
    }
    let token = tried
        .into_iter()
        .find(|t| t.matches(code, rules.key.as_ref()))
        .ok_or(AuthError::OtpExpired)?;
    consume(state, token, AuthError::OtpExpired).await
}

/// The live code of `types` whose stored hash is `token_hash` (an emailed link), consumed. The
/// hash is keyed with the server's secret ([`LinkKey`]): nobody without the mail can compute
/// it, so guesses at it need not be counted.
pub async fn consume_link(
    state: &AppState,
    token_hash: &str,
    types: &[TokenType],
    rules: CodeRules,
) -> AuthResult<OneTimeToken> {
    let now = state.clock.now();
    let token = state
        .store
        .one_time_tokens_by_hash(token_hash, types)
        .await?
        .into_iter()
        .find(|t| now < t.created_at + rules.lifetime)
        .ok_or(AuthError::EmailLinkInvalid)?;
    consume(state, token, AuthError::EmailLinkInvalid).await
}

/// Of concurrent right answers, only the one whose delete lands gets the token.
async fn consume(
    state: &AppState,
    token: OneTimeToken,
    lost: AuthError,
) -> AuthResult<OneTimeToken> {
    if state
        .store
        .consume_one_time_token(token.id, &token.token_hash)
        .await?
    {
        Ok(token)
    } else {
        Err(lost)
    }
}
