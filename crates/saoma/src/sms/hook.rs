//! GoTrue's Send SMS hook: saoma makes the code and POSTs `{user, sms: {otp, phone}}` to an
//! endpoint that sends it, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`), so any gateway
//! plugs in.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Deserialize;

use super::outbound::{self, Attempt};
use super::{OtpMessage, SmsError, SmsSender};
use crate::config::SmsHookConfig;
use crate::domain::user::UserView;

/// GoTrue's hook timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct SendSmsHook {
    http: reqwest::Client,
    uri: String,
    /// The HMAC keys: the base64-decoded part after `whsec_` of each secret.
    keys: Vec<Vec<u8>>,
}

impl SendSmsHook {
    pub fn new(config: &SmsHookConfig) -> anyhow::Result<Self> {
        let uri = config.uri.trim();
        if uri.is_empty() {
            anyhow::bail!("the Send SMS hook needs sms.hook.uri (GOTRUE_HOOK_SEND_SMS_URI)");
        }
        check_uri(uri)?;
        Ok(Self {
            http: outbound::client(TIMEOUT)?,
            uri: uri.to_owned(),
            keys: parse_secrets(config.secrets.expose())?,
        })
    }

    async fn attempt(&self, body: &str) -> Attempt {
        let id = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.keys, &id, timestamp, body);
        let request = self
            .http
            .post(&self.uri)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned());
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return outbound::transport_fault("send SMS hook", error),
        };
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let refusal = serde_json::from_slice::<Refusal>(&bytes).ok();
        if let Some(error) = refusal.and_then(|refusal| refusal.error) {
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

/// `{"error": {"http_code", "message"}}`: the hook's refusal, surfaced to the caller.
#[derive(Deserialize)]
struct Refusal {
    error: Option<RefusalError>,
}

#[derive(Deserialize)]
struct RefusalError {
    #[serde(default = "internal_error")]
    http_code: u16,
    #[serde(default)]
    message: String,
}

fn internal_error() -> u16 {
    500
}

/// HTTPS, or plain HTTP to this machine (GoTrue's rule).
fn check_uri(uri: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(uri)
        .map_err(|error| anyhow::anyhow!("sms.hook.uri {uri:?} is not a URL: {error}"))?;
    let local = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "host.docker.internal")
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => anyhow::bail!(
            "sms.hook.uri must be https (plain http only for localhost, 127.0.0.1, ::1 or host.docker.internal)"
        ),
    }
}

/// `v1,whsec_<base64>` entries separated by `|` → their keys. Asymmetric `v1a,` secrets are
/// refused here: GoTrue accepts them but cannot sign with them.
pub(crate) fn parse_secrets(secrets: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let keys = secrets
        .split('|')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .enumerate()
        .map(|(index, secret)| {
            let encoded = secret.strip_prefix("v1,whsec_").ok_or_else(|| {
                anyhow::anyhow!(
                    "sms.hook.secrets entry {} is not of the form v1,whsec_<base64>",
                    index + 1
                )
            })?;
            BASE64.decode(encoded).map_err(|_| {
                anyhow::anyhow!(
                    "sms.hook.secrets entry {}: the part after whsec_ is not base64",
                    index + 1
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        anyhow::bail!("the Send SMS hook needs sms.hook.secrets (GOTRUE_HOOK_SEND_SMS_SECRETS): v1,whsec_<base64>");
    }
    Ok(keys)
}

/// The `webhook-signature` header: one `v1,<base64>` per key, joined with ", ".
fn sign(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{id}.{timestamp}.{body}");
    keys.iter()
        .map(|key| {
            format!(
                "v1,{}",
                BASE64.encode(outbound::hmac_sha256(key, signed.as_bytes()))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The Standard Webhooks reference libraries' test vector.
        let keys = parse_secrets("v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_symmetric_standard_webhooks_secrets() {
        assert_eq!(
            parse_secrets("v1,whsec_YWJj | v1,whsec_ZGVm").unwrap(),
            vec![b"abc".to_vec(), b"def".to_vec()]
        );
        assert!(parse_secrets("").is_err());
        assert!(parse_secrets("whsec_YWJj").is_err());
        assert!(parse_secrets("v1a,whpk_abc:whsk_def").is_err());
        assert!(parse_secrets("v1,whsec_not base64!").is_err());
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(check_uri("https://hooks.example.com/sms").is_ok());
        assert!(check_uri("http://localhost:3000/sms").is_ok());
        assert!(check_uri("http://127.0.0.1/sms").is_ok());
        assert!(check_uri("http://hooks.example.com/sms").is_err());
    }
}
