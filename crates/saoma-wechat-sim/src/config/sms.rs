//! The SMS accounts the simulator pretends exist at Alibaba Cloud and Tencent Cloud: keys,
//! approved signatures (签名) and templates (模板).

use serde::{Deserialize, Serialize};

/// Both gateways' accounts; the default is the demo one `saoma dev` uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsAccounts {
    pub aliyun: AliyunAccount,
    pub tencent: TencentAccount,
}

/// An Alibaba Cloud account with SMS (dysmsapi) enabled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliyunAccount {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// Approved signatures, e.g. `saoma演示`.
    pub sign_names: Vec<String>,
    /// Approved templates; variables are written `${name}`.
    pub templates: Vec<SmsTemplate>,
}

/// A Tencent Cloud account with one SMS application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TencentAccount {
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_names: Vec<String>,
    /// Approved templates; variables are written `{1}`, `{2}`, ...
    pub templates: Vec<SmsTemplate>,
    /// Codes one number may receive per calendar day (Beijing time). Tencent's FAQ
    /// (2025-11-03) gives 2 as the default; the console can raise it.
    pub daily_limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsTemplate {
    pub id: String,
    pub text: String,
}

pub const ALIYUN_ACCESS_KEY_ID: &str = "LTAIsimSmsAccessKeyId";
pub const ALIYUN_ACCESS_KEY_SECRET: &str = "sim-aliyun-access-key-secret";
pub const ALIYUN_TEMPLATE: &str = "SMS_000000001";
pub const TENCENT_SECRET_ID: &str = "AKIDsimSmsSecretId";
pub const TENCENT_SECRET_KEY: &str = "sim-tencent-secret-key";
pub const TENCENT_SDK_APP_ID: &str = "1400000001";
pub const TENCENT_TEMPLATE: &str = "1000001";
/// The approved signature of both demo accounts.
pub const SIGN_NAME: &str = "saoma演示";

impl Default for AliyunAccount {
    fn default() -> Self {
        Self {
            access_key_id: ALIYUN_ACCESS_KEY_ID.into(),
            access_key_secret: ALIYUN_ACCESS_KEY_SECRET.into(),
            sign_names: vec![SIGN_NAME.into()],
            templates: vec![SmsTemplate {
                id: ALIYUN_TEMPLATE.into(),
                text: "您的验证码为：${code}，请勿泄露于他人！".into(),
            }],
        }
    }
}

impl Default for TencentAccount {
    fn default() -> Self {
        Self {
            secret_id: TENCENT_SECRET_ID.into(),
            secret_key: TENCENT_SECRET_KEY.into(),
            sdk_app_id: TENCENT_SDK_APP_ID.into(),
            sign_names: vec![SIGN_NAME.into()],
            templates: vec![SmsTemplate {
                id: TENCENT_TEMPLATE.into(),
                text: "验证码为：{1}，您正在登录，若非本人操作，请勿泄露。".into(),
            }],
            daily_limit: 2,
        }
    }
}

impl SmsTemplate {
    pub fn find<'a>(templates: &'a [SmsTemplate], id: &str) -> Option<&'a SmsTemplate> {
        templates.iter().find(|template| template.id == id)
    }
}
