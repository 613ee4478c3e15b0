//! Tencent Cloud SMS (`SendSms`, 2021-01-11), signed with TC3-HMAC-SHA256: a JSON body POSTed
//! to `/`, the action and version in `X-TC-*` headers.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::outbound::{self, Attempt};
use super::{OtpMessage, SmsError, SmsSender};
use crate::config::{Secret, TencentSmsConfig};

const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
const SERVICE: &str = "sms";
const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// Sent and signed as is: Tencent checks the signed content-type byte for byte.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TencentSms {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    secret_id: String,
    secret_key: Secret,
    sdk_app_id: String,
    sign_name: String,
    template_id: String,
    region: String,
}

impl TencentSms {
    pub fn new(config: &TencentSmsConfig) -> anyhow::Result<Self> {
        for (name, value) in [
            ("secret_id", config.secret_id.as_str()),
            ("secret_key", config.secret_key.expose()),
            ("sdk_app_id", config.sdk_app_id.as_str()),
            ("sign_name", config.sign_name.as_str()),
            ("template_id", config.template_id.as_str()),
            ("region", config.region.as_str()),
        ] {
            if value.trim().is_empty() {
                anyhow::bail!("sms.provider = \"tencent\" needs sms.tencent.{name}");
            }
        }
        let (endpoint, host) = outbound::endpoint(&config.base_url)
            .map_err(|error| anyhow::anyhow!("sms.tencent.{error}"))?;
        Ok(Self {
            http: outbound::client(TIMEOUT)?,
            endpoint,
            host,
            secret_id: config.secret_id.clone(),
            secret_key: config.secret_key.clone(),
            sdk_app_id: config.sdk_app_id.clone(),
            sign_name: config.sign_name.clone(),
            template_id: config.template_id.clone(),
            region: config.region.clone(),
        })
    }

    async fn attempt(&self, body: &str) -> Attempt {
        let now = chrono::Utc::now();
        let timestamp = now.timestamp();
        let date = now.format("%Y-%m-%d").to_string();
        let authorization = authorization(
            &self.secret_id,
            self.secret_key.expose(),
            &self.host,
            body,
            timestamp,
            &date,
        );
        let request = self
            .http
            .post(&self.endpoint)
            .header("authorization", authorization)
            .header("content-type", CONTENT_TYPE)
            .header("x-tc-action", ACTION)
            .header("x-tc-version", VERSION)
            .header("x-tc-timestamp", timestamp.to_string())
            .header("x-tc-region", &self.region)
            .body(body.to_owned());
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return outbound::transport_fault("tencent", error),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return outbound::transport_fault("tencent", error),
        };
        // The SDK treats anything but 200 as a network fault.
        if !status.is_success() {
            return outbound::unreadable("tencent", status);
        }
        let Ok(Envelope { response }) = serde_json::from_slice::<Envelope>(&bytes) else {
            return outbound::unreadable("tencent", status);
        };
        let (code, message) = match (response.error, response.send_status_set.first()) {
            (Some(error), _) => (error.code, error.message),
            (None, Some(sent)) if sent.code == "Ok" => {
                tracing::info!(request_id = %response.request_id, serial_no = %sent.serial_no, "tencent SMS sent");
                return Attempt::Done(Ok(()));
            }
            (None, Some(sent)) => (sent.code.clone(), sent.message.clone()),
            (None, None) => ("".to_owned(), "no SendStatusSet in the answer".to_owned()),
        };
        tracing::warn!(%code, %message, request_id = %response.request_id, "tencent SendSms refused");
        classify(&code, &message)
    }
}

#[async_trait]
impl SmsSender for TencentSms {
    fn name(&self) -> &'static str {
        "tencent"
    }

    async fn send_otp(&self, message: &OtpMessage<'_>) -> Result<(), SmsError> {
        let body = serde_json::json!({
            "PhoneNumberSet": [format!("+{}", message.phone)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": self.template_id,
            "TemplateParamSet": [message.otp],
        })
        .to_string();
        outbound::with_one_retry("tencent", || self.attempt(&body)).await
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Answer,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Answer {
    error: Option<ErrorAnswer>,
    send_status_set: Vec<SendStatus>,
    request_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ErrorAnswer {
    code: String,
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SendStatus {
    code: String,
    message: String,
    serial_no: String,
}

/// The `Authorization` header for a POST of `body` to `/`, signing content-type, host and the
/// action (as Tencent's own example does).
fn authorization(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    body: &str,
    timestamp: i64,
    date: &str,
) -> String {
    let signed_headers = "content-type;host;x-tc-action";
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\nx-tc-action:{}\n\n{signed_headers}\n{}",
        host.to_ascii_lowercase(),
        ACTION.to_ascii_lowercase(),
        outbound::sha256_hex(body.as_bytes())
    );
    let scope = format!("{date}/{SERVICE}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        outbound::sha256_hex(canonical_request.as_bytes())
    );
    let k_date = outbound::hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = outbound::hmac_sha256(&k_date, SERVICE.as_bytes());
    let k_signing = outbound::hmac_sha256(&k_service, b"tc3_request");
    let signature = outbound::hex(&outbound::hmac_sha256(
        &k_signing,
        string_to_sign.as_bytes(),
    ));
    format!("{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

/// Tencent's codes, by what the caller can do about them.
fn classify(code: &str, message: &str) -> Attempt {
    let detail = format!("tencent {code}: {message}");
    let done = |error| Attempt::Done(Err(error));
    if code.starts_with("LimitExceeded.") {
        done(SmsError::TooFrequent(detail))
    } else if code == "InvalidParameterValue.IncorrectPhoneNumber"
        || code == "FailedOperation.PhoneNumberInBlacklist"
        || code == "FailedOperation.PhoneNumberParseFail"
    {
        done(SmsError::InvalidNumber(detail))
    } else if code.starts_with("InternalError") || code.starts_with("RequestLimitExceeded") {
        Attempt::Transient(SmsError::Unavailable(detail))
    } else if code.starts_with("AuthFailure")
        || code.starts_with("FailedOperation.")
        || code.starts_with("InvalidParameter")
        || code.starts_with("UnauthorizedOperation")
        || code.starts_with("MissingParameter")
    {
        // Keys, signature, template, balance, clock: an operator must act.
        done(SmsError::Misconfigured(detail))
    } else {
        done(SmsError::Unavailable(detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_caller_can_do() {
        let error = |code| match classify(code, "m") {
            Attempt::Done(Err(error)) => (false, error),
            Attempt::Transient(error) => (true, error),
            Attempt::Done(Ok(())) => panic!("{code} is not a success"),
        };
        assert!(matches!(
            error("LimitExceeded.PhoneNumberDailyLimit"),
            (false, SmsError::TooFrequent(_))
        ));
        assert!(matches!(
            error("InvalidParameterValue.IncorrectPhoneNumber"),
            (false, SmsError::InvalidNumber(_))
        ));
        assert!(matches!(
            error("FailedOperation.SignatureIncorrectOrUnapproved"),
            (false, SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            error("AuthFailure.SignatureFailure"),
            (false, SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            error("InternalError"),
            (true, SmsError::Unavailable(_))
        ));
    }
}
