//! Alibaba Cloud SMS (dysmsapi `SendSms`, 2017-05-25), signed with ACS3-HMAC-SHA256 (the V3
//! signature, the SDKs' default): every parameter in the query string, an empty body.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::outbound::{self, Attempt};
use super::{OtpMessage, SmsError, SmsSender};
use crate::config::{AliyunSmsConfig, Secret};
use crate::providers::urlencode;

const ACTION: &str = "SendSms";
const VERSION: &str = "2017-05-25";
const ALGORITHM: &str = "ACS3-HMAC-SHA256";
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct AliyunSms {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    access_key_id: String,
    access_key_secret: Secret,
    sign_name: String,
    template_code: String,
    template_param: String,
}

impl AliyunSms {
    pub fn new(config: &AliyunSmsConfig) -> anyhow::Result<Self> {
        for (name, value) in [
            ("access_key_id", config.access_key_id.as_str()),
            ("access_key_secret", config.access_key_secret.expose()),
            ("sign_name", config.sign_name.as_str()),
            ("template_code", config.template_code.as_str()),
            ("template_param", config.template_param.as_str()),
        ] {
            if value.trim().is_empty() {
                anyhow::bail!("sms.provider = \"aliyun\" needs sms.aliyun.{name}");
            }
        }
        let (endpoint, host) = outbound::endpoint(&config.base_url)
            .map_err(|error| anyhow::anyhow!("sms.aliyun.{error}"))?;
        Ok(Self {
            http: outbound::client(TIMEOUT)?,
            endpoint,
            host,
            access_key_id: config.access_key_id.clone(),
            access_key_secret: config.access_key_secret.clone(),
            sign_name: config.sign_name.clone(),
            template_code: config.template_code.clone(),
            template_param: config.template_param.clone(),
        })
    }

    async fn attempt(&self, query: &str) -> Attempt {
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let payload_hash = outbound::sha256_hex(b"");
        // Sorted by name, as the canonical request lists them.
        let signed: [(&str, &str); 6] = [
            ("host", &self.host),
            ("x-acs-action", ACTION),
            ("x-acs-content-sha256", &payload_hash),
            ("x-acs-date", &date),
            ("x-acs-signature-nonce", &nonce),
            ("x-acs-version", VERSION),
        ];
        let authorization = authorization(
            &self.access_key_id,
            self.access_key_secret.expose(),
            query,
            &signed,
            &payload_hash,
        );
        let mut request = self
            .http
            .post(format!("{}?{query}", self.endpoint))
            .header("authorization", authorization);
        // Host is set by the client from the URL, to the value signed above.
        for (name, value) in &signed[1..] {
            request = request.header(*name, *value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return outbound::transport_fault("aliyun", error),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return outbound::transport_fault("aliyun", error),
        };
        let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
            return outbound::unreadable("aliyun", status);
        };
        if status.is_success() && answer.code == "OK" {
            tracing::info!(request_id = %answer.request_id, biz_id = %answer.biz_id, "aliyun SMS sent");
            return Attempt::Done(Ok(()));
        }
        tracing::warn!(
            %status,
            code = %answer.code,
            message = %answer.message,
            request_id = %answer.request_id,
            "aliyun SendSms refused"
        );
        classify(status.as_u16(), &answer.code, &answer.message)
    }
}

#[async_trait]
impl SmsSender for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    async fn send_otp(&self, message: &OtpMessage<'_>) -> Result<(), SmsError> {
        let template_param =
            serde_json::json!({ self.template_param.as_str(): message.otp }).to_string();
        // Digits with country code suit mainland (`86…`) and international numbers alike.
        let query = canonical_query(&[
            ("PhoneNumbers", message.phone),
            ("SignName", &self.sign_name),
            ("TemplateCode", &self.template_code),
            ("TemplateParam", &template_param),
        ]);
        outbound::with_one_retry("aliyun", || self.attempt(&query)).await
    }
}

/// `SendSms`'s answer, success and refusal alike.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Answer {
    code: String,
    message: String,
    biz_id: String,
    request_id: String,
}

/// Parameters sorted by name, names and values RFC 3986-encoded, `k=v` joined with `&`:
/// both the query sent and the one signed.
fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (urlencode(name), urlencode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` header of a POST to `/` with an empty body; `headers` are the signed
/// ones, lower-case and sorted.
fn authorization(
    access_key_id: &str,
    secret: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> String {
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request =
        format!("POST\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        outbound::sha256_hex(canonical_request.as_bytes())
    );
    let signature = outbound::hex(&outbound::hmac_sha256(
        secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
}

/// Alibaba's codes, by what the caller can do about them.
fn classify(status: u16, code: &str, message: &str) -> Attempt {
    let detail = format!("aliyun {code}: {message}");
    match code {
        "isv.BUSINESS_LIMIT_CONTROL" | "isv.DAY_LIMIT_CONTROL" => {
            Attempt::Done(Err(SmsError::TooFrequent(detail)))
        }
        "isv.MOBILE_NUMBER_ILLEGAL"
        | "isv.MOBILE_COUNT_OVER_LIMIT"
        | "isv.BLACK_KEY_CONTROL_LIMIT" => Attempt::Done(Err(SmsError::InvalidNumber(detail))),
        "ServiceUnavailable" | "InternalError" | "isv.SYSTEM_ERROR" => {
            Attempt::Transient(SmsError::Unavailable(detail))
        }
        _ if code.starts_with("Throttling") => Attempt::Transient(SmsError::Unavailable(detail)),
        "SignatureNonceUsed" => Attempt::Transient(SmsError::Unavailable(detail)),
        _ if status >= 500 => Attempt::Transient(SmsError::Unavailable(detail)),
        // Keys, signature, template, balance, clock: an operator must act.
        _ if code.starts_with("isv.")
            || code.starts_with("InvalidAccessKeyId")
            || code.starts_with("Forbidden")
            || code.starts_with("InvalidTimeStamp")
            || code == "SignatureDoesNotMatch"
            || (400..500).contains(&status) =>
        {
            Attempt::Done(Err(SmsError::Misconfigured(detail)))
        }
        _ => Attempt::Done(Err(SmsError::Unavailable(detail))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_sorted_and_rfc3986_encoded() {
        assert_eq!(
            canonical_query(&[
                ("TemplateParam", "{\"code\":\"123456\"}"),
                ("SignName", "阿里云 短信*"),
                ("PhoneNumbers", "8613800000000"),
            ]),
            "PhoneNumbers=8613800000000&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%20%E7%9F%AD%E4%BF%A1%2A\
             &TemplateParam=%7B%22code%22%3A%22123456%22%7D"
        );
    }

    #[test]
    fn codes_map_to_what_the_caller_can_do() {
        let error = |status, code| match classify(status, code, "m") {
            Attempt::Done(Err(error)) => (false, error),
            Attempt::Transient(error) => (true, error),
            Attempt::Done(Ok(())) => panic!("{code} is not a success"),
        };
        assert!(matches!(
            error(200, "isv.BUSINESS_LIMIT_CONTROL"),
            (false, SmsError::TooFrequent(_))
        ));
        assert!(matches!(
            error(200, "isv.MOBILE_NUMBER_ILLEGAL"),
            (false, SmsError::InvalidNumber(_))
        ));
        assert!(matches!(
            error(200, "isv.AMOUNT_NOT_ENOUGH"),
            (false, SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            error(400, "SignatureDoesNotMatch"),
            (false, SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            error(503, "ServiceUnavailable"),
            (true, SmsError::Unavailable(_))
        ));
        assert!(matches!(
            error(400, "Throttling.User"),
            (true, SmsError::Unavailable(_))
        ));
    }
}
