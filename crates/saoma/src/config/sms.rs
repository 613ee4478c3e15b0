//! `[sms]`: phone sign-in's one-time codes and the gateway that sends them (GoTrue's
//! `GOTRUE_SMS_*` settings, plus the Aliyun and Tencent gateways GoTrue lacks).

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `aliyun`, `tencent` or `hook` (GoTrue's Send SMS hook); empty: no gateway, so phone
    /// sign-in cannot send codes (test numbers still work).
    pub provider: String,
    /// Phone sign-ups are confirmed at once (no code is sent).
    pub autoconfirm: bool,
    /// A code's lifetime in seconds (GoTrue's default 60).
    pub otp_exp: i64,
    /// Digits per code, 6 to 10.
    pub otp_length: usize,
    /// Seconds before another code may be sent to the same number (GoTrue's 60).
    pub max_frequency: i64,
    /// Wrong guesses a code survives; the next one kills it.
    pub max_attempts: u32,
    /// The country code a bare national number is read in (e.g. `86`: `13800000000` is
    /// `8613800000000`); empty: numbers must carry their country code.
    pub default_country: String,
    /// `number:code` pairs that never reach a gateway (GOTRUE_SMS_TEST_OTP), e.g.
    /// `8613800000000:123456,8613800000001:654321`. A [`Secret`]: a fixed code signs anyone
    /// in as that number's user, so it must not reach the log with the configuration.
    pub test_otp: Secret,
    /// RFC 3339 time after which the test numbers stop working (GOTRUE_SMS_TEST_OTP_VALID_UNTIL).
    pub test_otp_valid_until: Option<String>,
    /// The message text for gateways that take free text (the hook); `{{ .Code }}` is the code.
    pub template: String,
    pub aliyun: AliyunSmsConfig,
    pub tencent: TencentSmsConfig,
    pub hook: SmsHookConfig,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: String::new(),
            autoconfirm: false,
            otp_exp: 60,
            otp_length: 6,
            max_frequency: 60,
            max_attempts: 5,
            default_country: String::new(),
            test_otp: Secret::default(),
            test_otp_valid_until: None,
            template: "Your code is {{ .Code }}".into(),
            aliyun: AliyunSmsConfig::default(),
            tencent: TencentSmsConfig::default(),
            hook: SmsHookConfig::default(),
        }
    }
}

/// Alibaba Cloud SMS (dysmsapi `SendSms`).
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct AliyunSmsConfig {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// The approved signature (签名), e.g. `阿里云短信测试`.
    pub sign_name: String,
    /// The approved template (模板), e.g. `SMS_154950909`.
    pub template_code: String,
    /// The template's variable that receives the code (`code` in `${code}`).
    pub template_param: String,
    /// Where `SendSms` is called; tests and the simulator replace it.
    pub base_url: String,
}

pub const ALIYUN_SMS_BASE_URL: &str = "https://dysmsapi.aliyuncs.com";

impl Default for AliyunSmsConfig {
    fn default() -> Self {
        Self {
            access_key_id: String::new(),
            access_key_secret: Secret::default(),
            sign_name: String::new(),
            template_code: String::new(),
            template_param: "code".into(),
            base_url: ALIYUN_SMS_BASE_URL.into(),
        }
    }
}

/// Tencent Cloud SMS (`SendSms`, API version 2021-01-11).
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct TencentSmsConfig {
    pub secret_id: String,
    pub secret_key: Secret,
    /// The SMS application's SdkAppId, e.g. `1400006666`.
    pub sdk_app_id: String,
    pub sign_name: String,
    pub template_id: String,
    /// e.g. `ap-guangzhou`.
    pub region: String,
    /// Where `SendSms` is called; tests and the simulator replace it.
    pub base_url: String,
}

pub const TENCENT_SMS_BASE_URL: &str = "https://sms.tencentcloudapi.com";

impl Default for TencentSmsConfig {
    fn default() -> Self {
        Self {
            secret_id: String::new(),
            secret_key: Secret::default(),
            sdk_app_id: String::new(),
            sign_name: String::new(),
            template_id: String::new(),
            region: "ap-guangzhou".into(),
            base_url: TENCENT_SMS_BASE_URL.into(),
        }
    }
}

/// GoTrue's Send SMS hook (GOTRUE_HOOK_SEND_SMS_URI / _SECRETS): an HTTPS endpoint that
/// receives `{user, sms: {otp}}`, signed per Standard Webhooks.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SmsHookConfig {
    pub uri: String,
    /// `v1,whsec_<base64>` entries separated by `|`, as GoTrue takes them.
    pub secrets: Secret,
}
