//! Sending text messages: the one-time codes of phone sign-in, through whichever gateway
//! `sms.provider` names. Services see only [`SmsSender`]; tests inject their own.

use std::sync::Arc;

use async_trait::async_trait;

/// A one-time code on its way to a phone.
#[derive(Debug, Clone, Copy)]
pub struct OtpMessage<'a> {
    /// Digits with country code, no `+` (how GoTrue stores numbers), e.g. `8613800000000`.
    pub phone: &'a str,
    pub otp: &'a str,
    /// The user the code is for (GoTrue's Send SMS hook hands the gateway the user).
    pub user: &'a crate::domain::User,
}

/// Why a gateway did not send: each answers the caller differently (see `auth::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The gateway's own limit for this number or account (Aliyun's
    /// `isv.BUSINESS_LIMIT_CONTROL`, Tencent's `LimitExceeded.*`): try later.
    #[error("{0}")]
    TooFrequent(String),
    /// The gateway says the number cannot receive messages.
    #[error("{0}")]
    InvalidNumber(String),
    /// The gateway is down, busy or timed out.
    #[error("{0}")]
    Unavailable(String),
    /// saoma's gateway settings are wrong (keys, signature, template, balance): an operator
    /// must act. The message is for the log and never carries a secret.
    #[error("{0}")]
    Misconfigured(String),
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// The gateway's name, as `GET /settings` shows it in `sms_provider`.
    fn name(&self) -> &'static str;
    async fn send_otp(&self, message: &OtpMessage<'_>) -> Result<(), SmsError>;
}

pub type SharedSmsSender = Arc<dyn SmsSender>;

/// The gateway `config.provider` names; `None` when none is configured.
pub fn from_config(config: &crate::config::SmsConfig) -> anyhow::Result<Option<SharedSmsSender>> {
    match config.provider.as_str() {
        "" => Ok(None),
        other => anyhow::bail!("sms.provider {other:?} is not supported"),
    }
}
