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
    /// GOTRUE_HOOK_SEND_SMS_ENABLED: as in GoTrue, the hook replaces whatever gateway
    /// `provider` names (`provider = "hook"` selects it too).
    pub enabled: bool,
    /// `https://…`; plain `http` only for localhost, 127.0.0.1, ::1 and host.docker.internal.
    pub uri: String,
    /// `v1,whsec_<base64>` entries separated by `|`, as GoTrue takes them.
    pub secrets: Secret,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::{unknown_env_names, unsupported_gotrue_names, Config};

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn gotrue_sms_settings_are_read() {
        let vars = env(&[
            ("GOTRUE_SMS_PROVIDER", "hook"),
            ("GOTRUE_SMS_AUTOCONFIRM", "true"),
            ("GOTRUE_SMS_OTP_EXP", "300"),
            ("GOTRUE_SMS_OTP_LENGTH", "8"),
            ("GOTRUE_SMS_MAX_FREQUENCY", "1m30s"),
            ("GOTRUE_SMS_TEMPLATE", "Code: {{ .Code }}"),
            (
                "GOTRUE_SMS_TEST_OTP",
                "8613800000000:123456,8613800000001:654321",
            ),
            ("GOTRUE_SMS_TEST_OTP_VALID_UNTIL", "2030-01-01T00:00:00Z"),
            ("GOTRUE_HOOK_SEND_SMS_ENABLED", "true"),
            ("GOTRUE_HOOK_SEND_SMS_URI", "https://hooks.example.com/sms"),
            ("GOTRUE_HOOK_SEND_SMS_SECRETS", "v1,whsec_YWJj"),
        ]);
        assert!(unsupported_gotrue_names(&vars).is_empty());
        let sms = Config::load(None, &vars).unwrap().sms;
        assert_eq!(sms.provider, "hook");
        assert!(sms.autoconfirm);
        assert_eq!(sms.otp_exp, 300);
        assert_eq!(sms.otp_length, 8);
        assert_eq!(sms.max_frequency, 90);
        assert_eq!(sms.template, "Code: {{ .Code }}");
        assert_eq!(
            sms.test_otp.expose(),
            "8613800000000:123456,8613800000001:654321"
        );
        assert_eq!(
            sms.test_otp_valid_until.as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert!(sms.hook.enabled);
        assert_eq!(sms.hook.uri, "https://hooks.example.com/sms");
        assert_eq!(sms.hook.secrets.expose(), "v1,whsec_YWJj");

        let bare = Config::load(None, &env(&[("GOTRUE_SMS_MAX_FREQUENCY", "45")])).unwrap();
        assert_eq!(bare.sms.max_frequency, 45);
        assert!(Config::load(None, &env(&[("GOTRUE_SMS_MAX_FREQUENCY", "soon")])).is_err());
    }

    #[test]
    fn saoma_sms_settings_reach_every_gateway() {
        let vars = env(&[
            ("SAOMA_SMS_PROVIDER", "tencent"),
            ("SAOMA_SMS_MAX_ATTEMPTS", "3"),
            ("SAOMA_SMS_DEFAULT_COUNTRY", "86"),
            ("SAOMA_SMS_ALIYUN_ACCESS_KEY_ID", "LTAI5t"),
            ("SAOMA_SMS_ALIYUN_ACCESS_KEY_SECRET", "ali-secret"),
            ("SAOMA_SMS_ALIYUN_SIGN_NAME", "扫码"),
            ("SAOMA_SMS_ALIYUN_TEMPLATE_CODE", "SMS_154950909"),
            ("SAOMA_SMS_ALIYUN_TEMPLATE_PARAM", "otp"),
            ("SAOMA_SMS_ALIYUN_BASE_URL", "http://127.0.0.1:1/aliyun"),
            ("SAOMA_SMS_TENCENT_SECRET_ID", "AKID"),
            ("SAOMA_SMS_TENCENT_SECRET_KEY", "tc-secret"),
            ("SAOMA_SMS_TENCENT_SDK_APP_ID", "1400006666"),
            ("SAOMA_SMS_TENCENT_SIGN_NAME", "扫码"),
            ("SAOMA_SMS_TENCENT_TEMPLATE_ID", "449739"),
            ("SAOMA_SMS_TENCENT_REGION", "ap-beijing"),
            ("SAOMA_SMS_TENCENT_BASE_URL", "http://127.0.0.1:1/tencent"),
            ("SAOMA_SMS_HOOK_URI", "http://localhost:3000/sms"),
        ]);
        assert!(unknown_env_names(&vars).is_empty());
        let config = Config::load(None, &vars).unwrap();
        let sms = &config.sms;
        assert_eq!(sms.provider, "tencent");
        assert_eq!(sms.max_attempts, 3);
        assert_eq!(sms.default_country, "86");
        assert_eq!(sms.aliyun.access_key_secret.expose(), "ali-secret");
        assert_eq!(sms.aliyun.template_param, "otp");
        assert_eq!(sms.aliyun.base_url, "http://127.0.0.1:1/aliyun");
        assert_eq!(sms.tencent.secret_key.expose(), "tc-secret");
        assert_eq!(sms.tencent.sdk_app_id, "1400006666");
        assert_eq!(sms.tencent.region, "ap-beijing");
        assert_eq!(sms.hook.uri, "http://localhost:3000/sms");
        // Printed configuration keeps the keys out of the log.
        let printed = format!("{config:?}");
        assert!(!printed.contains("ali-secret") && !printed.contains("tc-secret"));
    }
}
