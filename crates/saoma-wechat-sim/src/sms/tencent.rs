//! Tencent Cloud SMS `SendSms` (2021-01-11): the TC3-HMAC-SHA256 signature checked from the
//! client's own SignedHeaders, ±5 minutes of clock skew, request-level errors in
//! `Response.Error`, per-number results in `SendStatusSet` with the 30-second and daily limits.
//! Every answer is HTTP 200.

use axum::http::HeaderMap;
use rand::Rng;
use ring::hmac;
use serde::Deserialize;
use serde_json::{json, Value};

use super::crypto::{hmac_matches, hmac_sha256, sha256_hex, unhex, utc_date};
use super::{normalize_phone, Delivery, SmsState};
use crate::config::sms::{SmsTemplate, TencentAccount};
use crate::faults::SmsFaults;

const ALGORITHM: &str = "TC3-HMAC-SHA256";
const MAX_SKEW_SECONDS: i64 = 5 * 60;
const BEIJING_OFFSET_SECONDS: i64 = 8 * 3600;

/// A request-level refusal: `Response.Error`.
struct Refusal(&'static str, String);

fn refusal(code: &'static str, message: &str) -> Refusal {
    Refusal(code, message.to_owned())
}

/// Handles one `SendSms` call; the answer's JSON (always with HTTP 200).
pub fn send_sms(
    state: &mut SmsState,
    faults: &mut SmsFaults,
    account: &TencentAccount,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Value {
    let request_id = uuid_like();
    let outcome =
        verify(account, headers, body, now).and_then(|()| send(state, faults, account, body, now));
    match outcome {
        Ok(statuses) => {
            json!({ "Response": { "SendStatusSet": statuses, "RequestId": request_id } })
        }
        Err(Refusal(code, message)) => json!({
            "Response": { "Error": { "Code": code, "Message": message }, "RequestId": request_id }
        }),
    }
}

fn verify(
    account: &TencentAccount,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
    };
    let malformed = || {
        refusal(
            "AuthFailure.InvalidAuthorization",
            "Authorization 不符合腾讯云标准。",
        )
    };
    let fields = header("authorization")
        .strip_prefix(ALGORITHM)
        .ok_or_else(malformed)?;
    let field = |name: &str| {
        fields.split(',').find_map(|part| {
            part.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    };
    let credential = field("Credential").ok_or_else(malformed)?;
    let signed_headers = field("SignedHeaders").ok_or_else(malformed)?;
    let signature = field("Signature").ok_or_else(malformed)?;
    let mut scope = credential.splitn(2, '/');
    let secret_id = scope.next().unwrap_or_default();
    let scope = scope.next().unwrap_or_default();
    if secret_id != account.secret_id {
        return Err(refusal(
            "AuthFailure.SecretIdNotFound",
            "密钥不存在。请在控制台检查密钥是否已被删除或者禁用，如状态正常，请检查密钥是否填写正确，注意前后不得有空格。",
        ));
    }
    let Ok(timestamp) = header("x-tc-timestamp").parse::<i64>() else {
        return Err(refusal(
            "MissingParameter",
            "缺少参数错误。The request is missing a required header `X-TC-Timestamp`.",
        ));
    };
    if (now - timestamp).abs() > MAX_SKEW_SECONDS {
        return Err(refusal(
            "AuthFailure.SignatureExpire",
            "签名过期。Timestamp 和服务器时间相差不得超过五分钟，请检查本地时间是否和标准时间同步。",
        ));
    }
    let signature_failure = || {
        refusal(
            "AuthFailure.SignatureFailure",
            "请求签名验证失败，请检查您的签名计算是否正确。",
        )
    };
    let date = utc_date(timestamp);
    let names: Vec<&str> = signed_headers.split(';').collect();
    if scope != format!("{date}/sms/tc3_request")
        || !names.contains(&"content-type")
        || !names.contains(&"host")
    {
        return Err(signature_failure());
    }
    let canonical_headers: String = names
        .iter()
        .map(|name| format!("{name}:{}\n", header(name).to_ascii_lowercase()))
        .collect();
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        sha256_hex(body)
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(
        format!("TC3{}", account.secret_key).as_bytes(),
        date.as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, b"sms");
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let matches = unhex(signature).is_some_and(|claimed| {
        hmac_matches(
            hmac::HMAC_SHA256,
            &k_signing,
            string_to_sign.as_bytes(),
            &claimed,
        )
    });
    if !matches {
        return Err(signature_failure());
    }
    if header("x-tc-action") != "SendSms" {
        return Err(refusal("InvalidAction", "接口不存在。"));
    }
    if header("x-tc-version") != "2021-01-11" {
        return Err(refusal("NoSuchVersion", "接口版本不存在。"));
    }
    if header("x-tc-region").is_empty() {
        return Err(refusal(
            "MissingParameter",
            "缺少参数错误。The request is missing a required header `X-TC-Region`.",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendSmsBody {
    phone_number_set: Vec<String>,
    sms_sdk_app_id: String,
    template_id: String,
    #[serde(default)]
    sign_name: String,
    #[serde(default)]
    template_param_set: Vec<String>,
    #[serde(default)]
    session_context: String,
}

fn send(
    state: &mut SmsState,
    faults: &mut SmsFaults,
    account: &TencentAccount,
    body: &[u8],
    now: i64,
) -> Result<Vec<Value>, Refusal> {
    if faults.busy > 0 {
        faults.busy -= 1;
        return Err(refusal("InternalError", "内部错误。"));
    }
    let request: SendSmsBody = serde_json::from_slice(body)
        .map_err(|error| Refusal("InvalidParameter", format!("参数错误。{error}")))?;
    if request.sms_sdk_app_id != account.sdk_app_id {
        return Err(refusal(
            "InvalidParameterValue.SdkAppIdNotExist",
            "SdkAppId 不存在。",
        ));
    }
    if faults.unapproved_signature || !account.sign_names.contains(&request.sign_name) {
        return Err(refusal(
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "签名格式错误或者签名未审批。",
        ));
    }
    let Some(template) = SmsTemplate::find(&account.templates, &request.template_id) else {
        return Err(refusal(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "模板格式错误或者模板未审批。",
        ));
    };
    let variables = (1..)
        .take_while(|index| template.text.contains(&format!("{{{index}}}")))
        .count();
    if request.template_param_set.len() != variables {
        return Err(refusal(
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            "请求内容与审核通过的模板内容不匹配。",
        ));
    }
    let code_template = template.text.contains("验证码");
    let code_like = |value: &String| value.len() <= 6 && value.bytes().all(|b| b.is_ascii_digit());
    if code_template && !request.template_param_set.iter().all(code_like) {
        return Err(refusal(
            "InvalidParameterValue.TemplateParameterFormatError",
            "验证码模板参数格式错误，验证码类模板，模板变量只能传入0 - 6位（包括6位）纯数字。",
        ));
    }
    let text = request
        .template_param_set
        .iter()
        .enumerate()
        .fold(template.text.clone(), |text, (index, value)| {
            text.replace(&format!("{{{}}}", index + 1), value)
        });
    let statuses = request
        .phone_number_set
        .iter()
        .map(|number| {
            let (code, message) = match normalize_phone(number) {
                None => ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误。"),
                Some(phone) => match limit(state, faults, account, &phone, now) {
                    Err(refused) => refused,
                    Ok(()) => {
                        state.deliver(
                            Delivery {
                                gateway: "tencent",
                                scope: &account.sdk_app_id,
                                phone: &phone,
                                sign_name: &request.sign_name,
                                template: &request.template_id,
                                body: &text,
                                values: &request.template_param_set,
                            },
                            now,
                        );
                        ("Ok", "send success")
                    }
                },
            };
            let sent = code == "Ok";
            json!({
                "SerialNo": if sent { format!("2028:{}", rand::thread_rng().gen_range(10_000_000_000_000_000_u64..99_999_999_999_999_999)) } else { String::new() },
                "PhoneNumber": number,
                "Fee": u32::from(sent),
                "SessionContext": request.session_context,
                "Code": code,
                "Message": message,
                "IsoCode": if number.starts_with("+86") || number.len() == 11 { "CN" } else { "" },
            })
        })
        .collect();
    Ok(statuses)
}

/// One code per number every 30 seconds; `daily_limit` per calendar day, Beijing time.
fn limit(
    state: &SmsState,
    faults: &SmsFaults,
    account: &TencentAccount,
    phone: &str,
    now: i64,
) -> Result<(), (&'static str, &'static str)> {
    let daily = (
        "LimitExceeded.PhoneNumberDailyLimit",
        "单个手机号日下发短信条数超过设定的上限，可自行到控制台调整短信频率限制策略。",
    );
    if faults.daily_limit {
        return Err(daily);
    }
    let scope = &account.sdk_app_id;
    if state.count_since("tencent", scope, phone, now - 29) > 0 {
        return Err((
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "单个手机号30秒内下发短信条数超过设定的上限，可自行到控制台调整短信频率限制策略。",
        ));
    }
    let day_start =
        (now + BEIJING_OFFSET_SECONDS).div_euclid(86_400) * 86_400 - BEIJING_OFFSET_SECONDS;
    if state.count_since("tencent", scope, phone, day_start) >= account.daily_limit as usize {
        return Err(daily);
    }
    Ok(())
}

fn uuid_like() -> String {
    let mut rng = rand::thread_rng();
    let digits: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &digits[0..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes of Tencent's signature doc example (CVM DescribeInstances).
    #[test]
    fn the_doc_examples_canonical_request_hashes_match() {
        let body = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(
            sha256_hex(body.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n{}",
            sha256_hex(body.as_bytes())
        );
        assert_eq!(
            sha256_hex(canonical_request.as_bytes()),
            "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
        );
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
    }

    #[test]
    fn thirty_seconds_then_the_calendar_day() {
        let mut state = SmsState::default();
        let faults = SmsFaults::default();
        let account = TencentAccount::default();
        let phone = "8613800000000";
        // 2026-01-01T00:00:00+08:00.
        let midnight = 1_767_196_800;
        assert!(limit(&state, &faults, &account, phone, midnight).is_ok());
        deliver(&mut state, &account, phone, midnight);
        assert_eq!(
            limit(&state, &faults, &account, phone, midnight + 29)
                .unwrap_err()
                .0,
            "LimitExceeded.PhoneNumberThirtySecondLimit"
        );
        assert!(limit(&state, &faults, &account, phone, midnight + 30).is_ok());
        deliver(&mut state, &account, phone, midnight + 30);
        assert_eq!(
            limit(&state, &faults, &account, phone, midnight + 3600)
                .unwrap_err()
                .0,
            "LimitExceeded.PhoneNumberDailyLimit"
        );
        // The next day in Beijing.
        assert!(limit(&state, &faults, &account, phone, midnight + 86_400).is_ok());
    }

    fn deliver(state: &mut SmsState, account: &TencentAccount, phone: &str, at: i64) {
        state.deliver(
            Delivery {
                gateway: "tencent",
                scope: &account.sdk_app_id,
                phone,
                sign_name: "s",
                template: "t",
                body: "b",
                values: &[],
            },
            at,
        );
    }
}
