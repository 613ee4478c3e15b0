//! Alibaba Cloud SMS `SendSms` (dysmsapi, 2017-05-25): V3 (`ACS3-HMAC-SHA256` in
//! `Authorization`) and V2 (HMAC-SHA1 `Signature` parameter) signatures checked as the service
//! does, the business rules (signature, template, number) and the default flow control
//! (1/min, 5/h, 10/day per signature and number).

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use rand::Rng;
use ring::hmac;
use serde_json::{json, Value};

use super::crypto::{hmac_matches, parse_utc, percent_encode, sha256_hex, unhex};
use super::{normalize_phone, Delivery, SmsState};
use crate::config::sms::{AliyunAccount, SmsTemplate};
use crate::faults::SmsFaults;

/// Both signature versions' tolerance for clock skew (the gateway error table's 15 minutes).
const MAX_SKEW_SECONDS: i64 = 15 * 60;
const V3: &str = "ACS3-HMAC-SHA256";

/// What reached the endpoint.
pub struct Request<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The HTTP answer: a status and the fields of Alibaba's JSON (or XML, for V2 callers that
/// asked for `Format=XML`, the V2 default).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub xml: bool,
}

impl Answer {
    /// The body as the caller asked for it.
    pub fn render(&self) -> (String, &'static str) {
        if !self.xml {
            return (self.body.to_string(), "application/json;charset=utf-8");
        }
        let root = if self.body["Code"] == "OK" {
            "SendSmsResponse"
        } else {
            "Error"
        };
        let fields: String = self
            .body
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                format!("<{name}>{}</{name}>", xml_escape(&text))
            })
            .collect();
        (
            format!("<?xml version='1.0' encoding='UTF-8'?><{root}>{fields}</{root}>"),
            "text/xml;charset=utf-8",
        )
    }
}

/// A refusal: Alibaba's status, code and message.
struct Refusal(u16, &'static str, String);

/// Handles one `SendSms` call.
pub fn send_sms(
    state: &mut SmsState,
    faults: &mut SmsFaults,
    account: &AliyunAccount,
    request: &Request<'_>,
    now: i64,
) -> Answer {
    let params = parameters(request);
    // V2 answers in XML unless asked for JSON; V3 always in JSON.
    let xml = request.headers.get("authorization").is_none()
        && params
            .get("Format")
            .is_none_or(|format| !format.eq_ignore_ascii_case("JSON"));
    let request_id = request_id();
    let outcome = verify(state, account, request, &params, now)
        .and_then(|()| send(state, faults, account, &params, now));
    let body = match outcome {
        Ok(biz_id) => json!({
            "Message": "OK",
            "RequestId": request_id,
            "BizId": biz_id,
            "Code": "OK",
        }),
        Err(Refusal(status, code, message)) => {
            let mut body = json!({ "RequestId": request_id, "Code": code, "Message": message });
            if status != 200 {
                body["HostId"] = json!("dysmsapi.aliyuncs.com");
            }
            return Answer { status, body, xml };
        }
    };
    Answer {
        status: 200,
        body,
        xml,
    }
}

/// The query's parameters and, for a form body, the body's (the V2 SDK may POST a form).
fn parameters(request: &Request<'_>) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> =
        url::form_urlencoded::parse(request.query.as_bytes())
            .into_owned()
            .collect();
    let form = request
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if form {
        params.extend(url::form_urlencoded::parse(request.body).into_owned());
    }
    params
}

fn verify(
    state: &mut SmsState,
    account: &AliyunAccount,
    request: &Request<'_>,
    params: &BTreeMap<String, String>,
    now: i64,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let (access_key_id, date, nonce, action, version, signed) = match header("authorization") {
        Some(authorization) => {
            let signed = verify_v3(account, request, authorization)?;
            (
                signed.access_key_id,
                header("x-acs-date").unwrap_or_default().to_owned(),
                header("x-acs-signature-nonce")
                    .unwrap_or_default()
                    .to_owned(),
                header("x-acs-action").unwrap_or_default().to_owned(),
                header("x-acs-version").unwrap_or_default().to_owned(),
                signed.matches,
            )
        }
        None => {
            let param = |name: &str| params.get(name).cloned().unwrap_or_default();
            if !params.contains_key("Signature") {
                return Err(Refusal(
                    400,
                    "MissingSignature",
                    "Signature is mandatory for this action.".into(),
                ));
            }
            if param("SignatureMethod") != "HMAC-SHA1" {
                return Err(Refusal(
                    400,
                    "InvalidSignatureMethod",
                    "Specified signature method is not valid.".into(),
                ));
            }
            (
                param("AccessKeyId"),
                param("Timestamp"),
                param("SignatureNonce"),
                param("Action"),
                param("Version"),
                verify_v2(account, request.method, params),
            )
        }
    };
    if access_key_id != account.access_key_id {
        return Err(Refusal(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.".into(),
        ));
    }
    let Some(timestamp) = parse_utc(&date) else {
        return Err(Refusal(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.".into(),
        ));
    };
    if (now - timestamp).abs() > MAX_SKEW_SECONDS {
        return Err(Refusal(
            400,
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired. The timestamp {date} differs from the server time by more than 15 minutes."),
        ));
    }
    if !signed {
        return Err(Refusal(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.".into(),
        ));
    }
    if nonce.is_empty() || !state.fresh_nonce(&nonce, now) {
        return Err(Refusal(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.".into(),
        ));
    }
    if action != "SendSms" {
        return Err(Refusal(
            404,
            "InvalidAction.NotFound",
            format!("Specified api is not found, please check your url and method. ({action})"),
        ));
    }
    if version != "2017-05-25" {
        return Err(Refusal(
            400,
            "InvalidVersion",
            format!("Specified parameter Version is not valid. ({version})"),
        ));
    }
    Ok(())
}

struct V3Signature {
    access_key_id: String,
    matches: bool,
}

/// V3: rebuilds the canonical request from the headers the client says it signed.
fn verify_v3(
    account: &AliyunAccount,
    request: &Request<'_>,
    authorization: &str,
) -> Result<V3Signature, Refusal> {
    let malformed = || {
        Refusal(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.".into(),
        )
    };
    let fields = authorization.strip_prefix(V3).ok_or_else(malformed)?;
    let field = |name: &str| {
        fields.split(',').find_map(|part| {
            part.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    };
    let access_key_id = field("Credential").ok_or_else(malformed)?.to_owned();
    let signed_headers = field("SignedHeaders").ok_or_else(malformed)?;
    let signature = field("Signature").ok_or_else(malformed)?;
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        canonical_headers.push_str(&format!("{}:{}\n", name.to_ascii_lowercase(), value.trim()));
    }
    let canonical_request = format!(
        "{}\n/\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        canonical_query(request.query),
        sha256_hex(request.body)
    );
    let string_to_sign = format!("{V3}\n{}", sha256_hex(canonical_request.as_bytes()));
    let matches = unhex(signature).is_some_and(|claimed| {
        hmac_matches(
            hmac::HMAC_SHA256,
            account.access_key_secret.as_bytes(),
            string_to_sign.as_bytes(),
            &claimed,
        )
    });
    Ok(V3Signature {
        access_key_id,
        matches,
    })
}

/// The raw query's pairs, decoded, re-encoded per RFC 3986 and sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (percent_encode(&name), percent_encode(&value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// V2: `Base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(sorted params)))`.
fn verify_v2(account: &AliyunAccount, method: &str, params: &BTreeMap<String, String>) -> bool {
    use base64::Engine;
    let Some(claimed) = params.get("Signature").and_then(|signature| {
        base64::engine::general_purpose::STANDARD
            .decode(signature)
            .ok()
    }) else {
        return false;
    };
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| *name != "Signature")
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    pairs.sort();
    let canonical = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("{method}&%2F&{}", percent_encode(&canonical));
    hmac_matches(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        format!("{}&", account.access_key_secret).as_bytes(),
        string_to_sign.as_bytes(),
        &claimed,
    )
}

/// The business rules, after the signature was accepted; returns the BizId.
fn send(
    state: &mut SmsState,
    faults: &mut SmsFaults,
    account: &AliyunAccount,
    params: &BTreeMap<String, String>,
    now: i64,
) -> Result<String, Refusal> {
    if faults.busy > 0 {
        faults.busy -= 1;
        return Err(Refusal(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.".into(),
        ));
    }
    let required = |name: &'static str| {
        params
            .get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                Refusal(
                    400,
                    missing_code(name),
                    format!("{name} is mandatory for this action."),
                )
            })
    };
    let numbers = required("PhoneNumbers")?;
    let sign_name = required("SignName")?;
    let template_code = required("TemplateCode")?;
    let business = |code: &'static str, message: &str| Refusal(200, code, message.to_owned());
    if faults.unapproved_signature || !account.sign_names.iter().any(|name| name == sign_name) {
        return Err(business(
            "isv.SMS_SIGNATURE_ILLEGAL",
            "该账号下找不到对应签名",
        ));
    }
    let Some(template) = SmsTemplate::find(&account.templates, template_code) else {
        return Err(business(
            "isv.SMS_TEMPLATE_ILLEGAL",
            "该账号下找不到对应模板",
        ));
    };
    let values: BTreeMap<String, Value> = match params.get("TemplateParam") {
        None => BTreeMap::new(),
        Some(json) => serde_json::from_str(json)
            .map_err(|_| business("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"))?,
    };
    let mut filled = Vec::new();
    for name in variables(&template.text) {
        match values.get(&name) {
            Some(Value::String(value)) => filled.push((name, value.clone())),
            Some(_) => {
                return Err(business(
                    "isv.INVALID_JSON_PARAM",
                    "JSON参数不合法，只接受字符串值",
                ))
            }
            None => {
                return Err(business(
                    "isv.TEMPLATE_MISSING_PARAMETERS",
                    "模板变量缺少对应参数值",
                ))
            }
        }
    }
    let phones = numbers
        .split(',')
        .map(|number| {
            normalize_phone(number)
                .ok_or_else(|| business("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for phone in &phones {
        limit(state, faults, sign_name, phone, now)?;
    }
    let body = filled
        .iter()
        .fold(template.text.clone(), |text, (name, value)| {
            text.replace(&format!("${{{name}}}"), value)
        });
    let values: Vec<String> = filled.into_iter().map(|(_, value)| value).collect();
    for phone in &phones {
        state.deliver(
            Delivery {
                gateway: "aliyun",
                scope: sign_name,
                phone,
                sign_name,
                template: template_code,
                body: &body,
                values: &values,
            },
            now,
        );
    }
    let serial: u64 =
        rand::thread_rng().gen_range(100_000_000_000_000_000..1_000_000_000_000_000_000);
    Ok(format!("{serial}^0"))
}

/// Flow control per signature and number: 1 a minute, 5 an hour, 10 a (rolling) day.
fn limit(
    state: &SmsState,
    faults: &SmsFaults,
    sign_name: &str,
    phone: &str,
    now: i64,
) -> Result<(), Refusal> {
    let refuse = |message: &str| Refusal(200, "isv.BUSINESS_LIMIT_CONTROL", message.to_owned());
    if faults.daily_limit {
        return Err(refuse("触发天级流控Permits:10"));
    }
    for (window, permits, message) in [
        (60, 1, "触发分钟级流控Permits:1"),
        (3600, 5, "触发小时级流控Permits:5"),
        (86_400, 10, "触发天级流控Permits:10"),
    ] {
        if state.count_since("aliyun", sign_name, phone, now - window + 1) >= permits {
            return Err(refuse(message));
        }
    }
    Ok(())
}

/// A missing parameter's gateway code, e.g. `MissingPhoneNumbers`.
fn missing_code(name: &str) -> &'static str {
    match name {
        "PhoneNumbers" => "MissingPhoneNumbers",
        "SignName" => "MissingSignName",
        _ => "MissingTemplateCode",
    }
}

/// The `${name}` variables of a template, in order.
fn variables(template: &str) -> Vec<String> {
    template
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Alibaba's request ids look like UUIDs in upper case.
fn request_id() -> String {
    let digits: String = (0..32)
        .map(|_| char::from(b"0123456789ABCDEF"[rand::thread_rng().gen_range(0..16)]))
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

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba's RPC signature doc's worked example (GET, DescribeRegions).
    #[test]
    fn the_v2_worked_example_verifies() {
        let account = AliyunAccount {
            access_key_id: "testid".into(),
            access_key_secret: "testsecret".into(),
            ..AliyunAccount::default()
        };
        let mut params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("TimeStamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        params.insert("Signature".into(), "CT9X0VtwR86fNWSnsc6v8YGOjuE=".into());
        assert!(verify_v2(&account, "GET", &params));
        params.insert("Signature".into(), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=".into());
        assert!(!verify_v2(&account, "GET", &params));
        let timestamp = params.remove("TimeStamp").unwrap();
        params.insert("Timestamp".into(), timestamp);
        assert!(verify_v2(&account, "GET", &params));
    }

    #[test]
    fn templates_name_their_variables() {
        assert_eq!(
            variables("验证码${code}，${minutes}分钟"),
            ["code", "minutes"]
        );
    }

    #[test]
    fn flow_control_counts_per_signature_and_number() {
        let mut state = SmsState::default();
        let faults = SmsFaults::default();
        let phone = "8613800000000";
        let mut at = 1_000_000;
        for _ in 0..5 {
            assert!(limit(&state, &faults, "签名", phone, at).is_ok());
            state.deliver(delivery(phone), at);
            let Err(Refusal(_, _, message)) = limit(&state, &faults, "签名", phone, at + 59)
            else {
                panic!("a second code within the minute")
            };
            assert_eq!(message, "触发分钟级流控Permits:1");
            at += 61;
        }
        let Err(Refusal(_, code, message)) = limit(&state, &faults, "签名", phone, at) else {
            panic!("a sixth code within the hour")
        };
        assert_eq!(
            (code, message.as_str()),
            ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")
        );
        // Another number, or another signature, has its own budget.
        assert!(limit(&state, &faults, "签名", "8613800000009", at).is_ok());
        assert!(limit(&state, &faults, "别的签名", phone, at).is_ok());
        at += 3600;
        for _ in 0..5 {
            state.deliver(delivery(phone), at);
            at += 61;
        }
        let Err(Refusal(_, _, message)) = limit(&state, &faults, "签名", phone, at + 3600) else {
            panic!("an eleventh code within the day")
        };
        assert_eq!(message, "触发天级流控Permits:10");
        assert!(limit(&state, &faults, "签名", phone, 1_000_000 + 86_400 + 3600).is_ok());
    }

    fn delivery(phone: &str) -> Delivery<'_> {
        Delivery {
            gateway: "aliyun",
            scope: "签名",
            phone,
            sign_name: "签名",
            template: "SMS_1",
            body: "code",
            values: &[],
        }
    }
}
