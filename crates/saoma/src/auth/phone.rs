//! Phone sign-in with one-time codes (GoTrue's `/otp`, `/verify`, `/resend` for `sms` and
//! `phone_change`): sending a code, checking one, and the rules around both.
//!
//! A code is stored only as its hash, lives `sms.otp_exp` seconds, is consumed by the first
//! right answer (of two at once, one wins), dies after `sms.max_attempts` wrong guesses, and
//! another may be asked for only after `sms.max_frequency` seconds. Test numbers
//! (`sms.test_otp`) get their fixed code and never reach a gateway.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    auth::{
        accounts,
        one_time_codes::{self, CodeRules},
        rate_limit::{self, Bucket},
        sign_in, tokens, user, AuthError, AuthResult, Client,
    },
    domain::{
        one_time_token::{self, OneTimeToken, TokenType},
        phone, Identity, User, UserChanges,
    },
    sms::{OtpMessage, SmsError},
    state::AppState,
    store::StoreError,
};

/// The `amr` method of a sign-in by code, as GoTrue records it.
pub const OTP: &str = "otp";

/// What a code confirms, as `/verify` and `/resend` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Sign-in or sign-up by text message (`type: "sms"`).
    Sms,
    /// A new number for a signed-in user (`type: "phone_change"`).
    PhoneChange,
}

impl CodeKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sms" => Some(Self::Sms),
            "phone_change" => Some(Self::PhoneChange),
            _ => None,
        }
    }

    fn token_types(self) -> &'static [TokenType] {
        match self {
            Self::Sms => &[TokenType::Confirmation, TokenType::Recovery],
            Self::PhoneChange => &[TokenType::PhoneChange],
        }
    }
}

/// Phone sign-in works when it is switched on (`external.phone`, on by default) and a
/// gateway can send codes or test numbers are configured (`GET /settings` shows the result
/// as `external.phone`).
pub fn enabled(state: &AppState) -> bool {
    state.config.external.phone.enabled
        && (state.sms.is_some() || !test_numbers(state.config.sms.test_otp.expose()).is_empty())
}

/// Refuses with `phone_provider_disabled` (saying `what`) when phone sign-in is off.
pub fn require_enabled(state: &AppState, what: &'static str) -> AuthResult<()> {
    if enabled(state) {
        Ok(())
    } else {
        Err(AuthError::PhoneProviderDisabled(what))
    }
}

/// `raw` as GoTrue stores numbers, with this server's default country.
pub fn normalize(state: &AppState, raw: &str) -> AuthResult<String> {
    phone::normalize(raw, &state.config.sms.default_country).map_err(AuthError::validation)
}

/// The configured test numbers and their codes (`number:code,...`), numbers normalised.
fn test_numbers(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|pair| pair.split_once(':'))
        .filter_map(|(number, code)| {
            let number = phone::normalize(number, "").ok()?;
            let code = code.trim();
            (!code.is_empty()).then(|| (number, code.to_owned()))
        })
        .collect()
}

/// The fixed code of test number `phone`, while test numbers are valid.
fn test_code(state: &AppState, phone: &str, now: DateTime<Utc>) -> Option<String> {
    let sms = &state.config.sms;
    if let Some(until) = sms
        .test_otp_valid_until
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        match DateTime::parse_from_rfc3339(until) {
            Ok(until) if now < until => {}
            _ => return None,
        }
    }
    test_numbers(sms.test_otp.expose())
        .into_iter()
        .find(|(number, _)| number == phone)
        .map(|(_, code)| code)
}

/// `POST /otp {phone}`: a code to sign in with, creating the (unconfirmed) account when the
/// number has none and `create_user` allows. Known and unknown numbers get the same answer.
pub async fn send_otp(
    state: &AppState,
    client: &Client,
    raw_phone: &str,
    create_user: bool,
    data: Map<String, Value>,
) -> AuthResult<Value> {
    require_enabled(state, "Unsupported phone provider")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    let phone = normalize(state, raw_phone)?;
    let (user, created) = match state.store.user_by_phone(&phone).await? {
        Some(user) => (user, false),
        None if !create_user => return Err(AuthError::OtpSignupsDisabled),
        None => {
            if state.config.disable_signup {
                return Err(AuthError::SignupDisabled);
            }
            match create_unconfirmed(state, &phone, None, Value::Object(data), client).await? {
                Ok(user) => (user, true),
                // Lost a race with a concurrent sign-up for the number: that account it is.
                Err(existing) => (existing, false),
            }
        }
    };
    // An unconfirmed account's password was set by someone who never proved they hold the
    // number (anyone may sign a number up): once the number's holder signs in by code it
    // must not open their account, so a sign-in by code takes it away before any code goes
    // out. The holder can set a password of their own afterwards.
    let user = if user.phone_confirmed_at.is_none() && user.encrypted_password.is_some() {
        let changes = UserChanges {
            encrypted_password: Some(None),
            ..Default::default()
        };
        state
            .store
            .change_user(user.id, &changes, state.clock.now())
            .await?
            .ok_or(AuthError::OtpExpired)?
    } else {
        user
    };
    let kind = if user.phone_confirmed_at.is_some() {
        TokenType::Recovery
    } else {
        TokenType::Confirmation
    };
    if let Err(err) = send_code(state, &user, &phone, kind).await {
        if created {
            // No code reached the number: leave no account it could never confirm.
            state.store.delete_user(user.id).await?;
        }
        return Err(err);
    }
    Ok(json!({}))
}

/// `POST /signup {phone, password}`: signed in at once with `sms.autoconfirm`, else the user,
/// unconfirmed until the code sent to the number comes back through `/verify`.
pub async fn sign_up(
    state: &AppState,
    client: &Client,
    raw_phone: &str,
    password: String,
    metadata: Value,
) -> AuthResult<Value> {
    let config = &state.config;
    if config.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    require_enabled(state, "Phone signups are disabled")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    if password.is_empty() {
        return Err(AuthError::validation("Signup requires a valid password"));
    }
    user::check_password_strength(config, &password)?;
    let phone = normalize(state, raw_phone)?;
    let hash = crate::domain::password::hash(password, config.password.bcrypt_cost)
        .await
        .map_err(AuthError::internal)?;

    let existing = match state.store.user_by_phone(&phone).await? {
        Some(existing) => Some(existing),
        None if config.sms.autoconfirm => {
            let now = state.clock.now();
            let mut user = new_phone_user(state, &phone, Some(hash), metadata, now);
            user.phone_confirmed_at = Some(now);
            let identities = [Identity::phone(user.id, &phone, now)];
            match accounts::create(state, &user, &identities, "phone", Some("password"), client)
                .await
            {
                Ok(Some(session)) => return tokens::issued(state, &user, &identities, &session),
                Ok(None) => return Err(AuthError::internal("phone sign-up without a session")),
                Err(StoreError::Conflict(_)) => state.store.user_by_phone(&phone).await?,
                Err(other) => return Err(other.into()),
            }
        }
        None => match create_unconfirmed(state, &phone, Some(hash), metadata, client).await? {
            Ok(user) => {
                if let Err(err) = send_code(state, &user, &phone, TokenType::Confirmation).await {
                    // No code reached the number: leave no account it could never confirm.
                    state.store.delete_user(user.id).await?;
                    return Err(err);
                }
                return user::user_json(state, &user).await;
            }
            Err(existing) => Some(existing),
        },
    };
    // GoTrue's answer for a number that has an account: an error once it is confirmed (the
    // caller would otherwise learn nothing new), else another code for the unconfirmed one.
    let existing = existing.ok_or_else(|| AuthError::internal("user vanished"))?;
    if existing.phone_confirmed_at.is_some() {
        return Err(AuthError::UserAlreadyExists);
    }
    send_code(state, &existing, &phone, TokenType::Confirmation).await?;
    user::user_json(state, &existing).await
}

fn new_phone_user(
    state: &AppState,
    phone: &str,
    password_hash: Option<String>,
    metadata: Value,
    now: DateTime<Utc>,
) -> User {
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, "phone", now);
    user.phone = Some(phone.to_owned());
    user.encrypted_password = password_hash;
    user.user_metadata = metadata;
    user
}

/// A new unconfirmed phone account with its `phone` identity, its confirmation code about to
/// be sent; `Err(existing)` when another request created the number's account first.
async fn create_unconfirmed(
    state: &AppState,
    phone: &str,
    password_hash: Option<String>,
    metadata: Value,
    client: &Client,
) -> AuthResult<Result<User, User>> {
    let now = state.clock.now();
    let mut user = new_phone_user(state, phone, password_hash, metadata, now);
    user.confirmation_sent_at = Some(now);
    let identities = [Identity::phone(user.id, phone, now)];
    accounts::create_unless_taken(state, user, &identities, "phone", client, || {
        state.store.user_by_phone(phone)
    })
    .await
}

/// `POST /resend {type, phone}`: another code for a sign-up not yet confirmed, or for a
/// pending number change. Numbers with nothing to resend get the same answer.
pub async fn resend(
    state: &AppState,
    client: &Client,
    kind: CodeKind,
    raw_phone: &str,
) -> AuthResult<Value> {
    require_enabled(state, "Unsupported phone provider")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    let phone = normalize(state, raw_phone)?;
    match kind {
        CodeKind::Sms => {
            let user = state.store.user_by_phone(&phone).await?;
            if let Some(user) = user.filter(|u| u.phone_confirmed_at.is_none()) {
                send_code(state, &user, &phone, TokenType::Confirmation).await?;
            }
        }
        CodeKind::PhoneChange => {
            let pending = state
                .store
                .one_time_tokens_for(&phone, &[TokenType::PhoneChange])
                .await?;
            for token in pending {
                if let Some(user) = state.store.user_by_id(token.user_id).await? {
                    send_code(state, &user, &phone, TokenType::PhoneChange).await?;
                }
            }
        }
    }
    Ok(json!({}))
}

/// Sends `user` a new code of `kind` for `phone`, replacing any earlier one; refused inside
/// `sms.max_frequency` of the last, or past the deployment's hourly budget.
pub async fn send_code(
    state: &AppState,
    user: &User,
    phone: &str,
    kind: TokenType,
) -> AuthResult<()> {
    let sms = &state.config.sms;
    let now = state.clock.now();
    let interval = Duration::seconds(sms.max_frequency.max(0));
    if let Some(wait) =
        one_time_codes::seconds_until_next(state, user.id, kind, interval, now).await?
    {
        return Err(too_soon(wait));
    }
    let test = test_code(state, phone, now);
    let gateway = match (&test, &state.sms) {
        (Some(_), _) => None,
        (None, Some(gateway)) => Some(gateway),
        (None, None) => {
            return Err(SmsError::Misconfigured("no SMS gateway is configured".into()).into())
        }
    };
    if gateway.is_some() {
        rate_limit::take_sms(state).await?;
    }
    let otp = test.unwrap_or_else(|| one_time_token::generate(sms.otp_length.clamp(6, 10)));
    let token = OneTimeToken::new(user.id, kind, phone, &otp, now);
    // The check above answers with the time left; this one is the lock that holds when
    // several requests for one number arrive at once: exactly one issues (and texts).
    let not_before = now - interval;
    if !state
        .store
        .issue_one_time_token_unless_sent_after(&token, not_before)
        .await?
    {
        return Err(too_soon(sms.max_frequency.max(1)));
    }
    if let Some(gateway) = gateway {
        let message = OtpMessage {
            phone,
            otp: &otp,
            user,
        };
        if let Err(err) = gateway.send_otp(&message).await {
            // The code never arrived: withdraw it, so that asking again is not refused.
            state
                .store
                .consume_one_time_token(token.id, &token.token_hash)
                .await?;
            return Err(err.into());
        }
    }
    Ok(())
}

/// GoTrue's refusal of another code inside the resend interval.
fn too_soon(wait_seconds: i64) -> AuthError {
    AuthError::OverSmsSendRateLimit(one_time_codes::too_soon_message(wait_seconds))
}

/// `POST /verify {type, phone, token}`: the code's user, signed in; a new number becomes the
/// user's. Any failure is one answer, `otp_expired`.
pub async fn verify(
    state: &AppState,
    client: &Client,
    kind: CodeKind,
    raw_phone: &str,
    code: &str,
) -> AuthResult<Value> {
    require_enabled(state, "Unsupported phone provider")?;
    rate_limit::check(state, Bucket::Verify, client).await?;
    let phone = normalize(state, raw_phone)?;
    let rules = CodeRules::sms(state);
    let token =
        one_time_codes::consume_matching(state, &phone, kind.token_types(), code.trim(), rules)
            .await?;
    let user = state
        .store
        .user_by_id(token.user_id)
        .await?
        .ok_or(AuthError::OtpExpired)?;
    let user = match kind {
        CodeKind::Sms => confirm_phone(state, user, &phone).await?,
        CodeKind::PhoneChange => change_phone(state, &user, &phone).await?,
    };
    sign_in::complete(state, &user, OTP, client).await
}

/// An `sms` code proves the number is the user's: confirm it (a sign-up completes).
async fn confirm_phone(state: &AppState, user: User, phone: &str) -> AuthResult<User> {
    if user.phone.as_deref() != Some(phone) {
        // The number changed hands since the code was sent.
        return Err(AuthError::OtpExpired);
    }
    if user.phone_confirmed_at.is_some() {
        return Ok(user);
    }
    let now = state.clock.now();
    let changes = UserChanges {
        phone_confirmed_at: Some(Some(now)),
        ..Default::default()
    };
    state
        .store
        .change_user(user.id, &changes, now)
        .await?
        .ok_or(AuthError::OtpExpired)
}

/// A `phone_change` code proves the new number: it becomes the user's, confirmed, no longer
/// pending, and the user's `phone` identity follows it. `phone_change_sent_at` stays, as
/// GoTrue's `ConfirmPhoneChange` leaves it.
async fn change_phone(state: &AppState, user: &User, phone: &str) -> AuthResult<User> {
    let now = state.clock.now();
    let changes = UserChanges {
        phone: Some(Some(phone.to_owned())),
        phone_confirmed_at: Some(Some(now)),
        phone_change: Some(None),
        ..Default::default()
    };
    let user = match state.store.change_user(user.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(AuthError::PhoneExists),
        other => other?.ok_or(AuthError::OtpExpired)?,
    };
    set_phone_identity(state, &user, phone).await?;
    Ok(user)
}

/// Points the user's `phone` identity at `phone`, creating it when the user has none.
pub async fn set_phone_identity(state: &AppState, user: &User, phone: &str) -> AuthResult<()> {
    let now = state.clock.now();
    let identities = state.store.identities_of(user.id).await?;
    match identities.into_iter().find(|i| i.provider == "phone") {
        Some(mut identity) => {
            if let Value::Object(data) = &mut identity.identity_data {
                data.insert("phone".into(), json!(phone));
            }
            identity.updated_at = now;
            state.store.update_identity(&identity).await?;
        }
        None => match state
            .store
            .add_identity(&Identity::phone(user.id, phone, now))
            .await
        {
            Err(StoreError::Conflict(_)) => return Err(AuthError::IdentityAlreadyExists),
            other => other?,
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_numbers_are_read_as_gotrue_writes_them() {
        assert_eq!(
            test_numbers("8613800000000:123456, +86 139 0000 0000:654321,bad,:1,x:"),
            vec![
                ("8613800000000".to_owned(), "123456".to_owned()),
                ("8613900000000".to_owned(), "654321".to_owned()),
            ]
        );
        assert!(test_numbers("").is_empty());
    }

    #[test]
    fn code_kinds_are_gotrues_verify_types() {
        assert_eq!(CodeKind::parse("sms"), Some(CodeKind::Sms));
        assert_eq!(CodeKind::parse("phone_change"), Some(CodeKind::PhoneChange));
        assert_eq!(CodeKind::parse("signup"), None);
    }
}
