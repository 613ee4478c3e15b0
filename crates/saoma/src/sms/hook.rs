//! GoTrue's Send SMS hook: saoma makes the code and POSTs `{user, sms: {otp, phone}}` to an
//! endpoint that sends it, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`), so any gateway
//! plugs in.

use std::time::Duration;

use async_trait::async_trait;

use super::outbound::{self, Attempt};
use super::{OtpMessage, SmsError, SmsSender};
use crate::config::SmsHookConfig;
use crate::domain::user::UserView;
use crate::webhook::{self, check_uri, WebhookSigner};

/// GoTrue's hook timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct SendSmsHook {
    http: reqwest::Client,
    uri: String,
    signer: WebhookSigner,
}

impl SendSmsHook {
    pub fn new(config: &SmsHookConfig) -> anyhow::Result<Self> {
        let uri = config.uri.trim();
        if uri.is_empty() {
            anyhow::bail!("the Send SMS hook needs sms.hook.uri (GOTRUE_HOOK_SEND_SMS_URI)");
        }
        check_uri(uri, "sms.hook.uri")?;
        Ok(Self {
            http: outbound::client(TIMEOUT)?,
            uri: uri.to_owned(),
            signer: WebhookSigner::from_secrets(
                config.secrets.expose(),
                "sms.hook.secrets",
                "GOTRUE_HOOK_SEND_SMS_SECRETS",
            )?,
        })
    }

    async fn attempt(&self, body: &str) -> Attempt {
        let mut request = self
            .http
            .post(&self.uri)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in self.signer.headers(body) {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return outbound::transport_fault("send SMS hook", error),
        };
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        if let Some(error) = webhook::refusal(&bytes) {
            tracing::warn!(%status, http_code = error.http_code, message = %error.message, "send SMS hook refused");
            return Attempt::Done(Err(match error.http_code {
                429 => SmsError::TooFrequent(error.message),
                400 => SmsError::InvalidNumber(error.message),
                _ => SmsError::Unavailable(error.message),
            }));
        }
        match status.as_u16() {
            200 | 202 | 204 => Attempt::Done(Ok(())),
            // GoTrue retries these two.
            429 | 503 => Attempt::Transient(SmsError::Unavailable(format!(
                "send SMS hook answered {status}"
            ))),
            401 | 403 => Attempt::Done(Err(SmsError::Misconfigured(format!(
                "send SMS hook answered {status}: do its secret and sms.hook.secrets match?"
            )))),
            _ => Attempt::Done(Err(SmsError::Unavailable(format!(
                "send SMS hook answered {status}"
            )))),
        }
    }
}

#[async_trait]
impl SmsSender for SendSmsHook {
    fn name(&self) -> &'static str {
        "hook"
    }

    async fn send_otp(&self, message: &OtpMessage<'_>) -> Result<(), SmsError> {
        let body = serde_json::json!({
            "user": UserView::new(message.user, &[]),
            "sms": { "otp": message.otp, "phone": message.phone },
        })
        .to_string();
        outbound::with_one_retry("send SMS hook", || self.attempt(&body)).await
    }
}
