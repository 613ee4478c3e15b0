//! Sending text messages: the one-time codes of phone sign-in, through whichever gateway
//! `sms.provider` names. Services see only [`SmsSender`]; tests inject their own.

pub mod aliyun;
pub mod hook;
mod outbound;
pub mod tencent;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::SmsConfig;

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

/// What builds one gateway from the `[sms]` section; it refuses missing credentials.
type Build = fn(&SmsConfig) -> anyhow::Result<SharedSmsSender>;

/// Every gateway saoma has, by its `sms.provider` name.
const REGISTRY: &[(&str, Build)] = &[
    ("aliyun", |config| {
        Ok(Arc::new(aliyun::AliyunSms::new(&config.aliyun)?))
    }),
    ("tencent", |config| {
        Ok(Arc::new(tencent::TencentSms::new(&config.tencent)?))
    }),
    ("hook", |config| {
        Ok(Arc::new(hook::SendSmsHook::new(&config.hook)?))
    }),
];

/// The gateway `config.provider` names; `None` when none is configured. As in GoTrue, an
/// enabled Send SMS hook replaces the provider.
pub fn from_config(config: &SmsConfig) -> anyhow::Result<Option<SharedSmsSender>> {
    let name = if config.hook.enabled {
        "hook"
    } else {
        config.provider.trim()
    };
    if name.is_empty() {
        return Ok(None);
    }
    let Some((_, build)) = REGISTRY.iter().find(|(known, _)| *known == name) else {
        let known: Vec<&str> = REGISTRY.iter().map(|(known, _)| *known).collect();
        anyhow::bail!(
            "sms.provider {name:?} is not supported (known: {})",
            known.join(", ")
        );
    };
    build(config).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_picks_the_gateway_and_its_credentials_are_required() {
        let mut config = SmsConfig::default();
        assert!(from_config(&config).unwrap().is_none());

        config.provider = "twilio".into();
        let unknown = from_config(&config).err().unwrap().to_string();
        assert!(
            unknown.contains("twilio") && unknown.contains("aliyun"),
            "{unknown}"
        );

        config.provider = "aliyun".into();
        let missing = from_config(&config).err().unwrap().to_string();
        assert!(missing.contains("sms.aliyun.access_key_id"), "{missing}");
        config.aliyun.access_key_id = "LTAI".into();
        config.aliyun.access_key_secret = "secret".into();
        config.aliyun.sign_name = "saoma".into();
        config.aliyun.template_code = "SMS_1".into();
        assert_eq!(from_config(&config).unwrap().unwrap().name(), "aliyun");

        config.provider = "tencent".into();
        let missing = from_config(&config).err().unwrap().to_string();
        assert!(missing.contains("sms.tencent.secret_id"), "{missing}");

        // An enabled hook wins over the provider, as in GoTrue.
        config.provider = "aliyun".into();
        config.hook.enabled = true;
        assert!(from_config(&config).is_err());
        config.hook.uri = "https://hooks.example.com/sms".into();
        config.hook.secrets = "v1,whsec_YWJj".into();
        assert_eq!(from_config(&config).unwrap().unwrap().name(), "hook");
    }
}
