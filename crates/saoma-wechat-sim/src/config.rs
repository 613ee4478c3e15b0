//! What the simulator pretends is registered at WeChat: apps (AppID, secret, 授权回调域,
//! open-platform binding) and the WeChat users ("personas") a tester can log in as.

mod demo;
pub mod sms;

use serde::{Deserialize, Serialize};

/// Everything the simulator serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Where the simulator's routes are reachable from a browser, without a trailing slash,
    /// e.g. `http://localhost:9999/wechat-sim`. Every URL the simulator emits starts with it.
    pub public_url: String,
    pub apps: Vec<SimApp>,
    pub personas: Vec<Persona>,
    /// The Aliyun and Tencent SMS accounts; absent: the demo ones.
    #[serde(default)]
    pub sms: sms::SmsAccounts,
    /// `cgi-bin/token` calls each app may make per day (WeChat: 2000); past it, 45009.
    #[serde(default = "default_token_daily_quota")]
    pub token_daily_quota: u32,
    /// How long one push attempt waits for the app's server before WeChat gives up on it
    /// and retries (WeChat: 5 s). Tests set it small.
    #[serde(default = "default_push_timeout_ms")]
    pub push_timeout_ms: u64,
}

fn default_token_daily_quota() -> u32 {
    2000
}

fn default_push_timeout_ms() -> u64 {
    5000
}

/// An application registered on the WeChat Open Platform (or, for 公众号 and mini-programs,
/// the 公众平台).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimApp {
    pub appid: String,
    pub secret: String,
    /// Shown on the login pages as 「name」, like WeChat does.
    pub name: String,
    pub kind: AppKind,
    /// The 授权回调域 (网页授权域名 for a 公众号): a bare host. A `redirect_uri` on any other
    /// host is refused. Mini-programs and mobile apps have no redirects and ignore it.
    pub callback_host: String,
    /// The open-platform account the app is bound to; it scopes unionids. `None`: no unionid.
    pub open_platform: Option<String>,
    /// Mini-programs: the pages of the published version, e.g. `pages/index/index`;
    /// `getwxacodeunlimit` with `check_path` refuses others (41030).
    #[serde(default)]
    pub pages: Vec<String>,
    /// Mini-programs: the request domain (`wx.request` target) the simulated mini-program
    /// calls, e.g. `http://localhost:9999/auth/v1`; `None` until set.
    #[serde(default)]
    pub server_url: Option<String>,
    /// 公众号: where WeChat pushes events (服务器配置); `None`: events are not pushed.
    #[serde(default)]
    pub push: Option<PushConfig>,
}

/// A 公众号's 服务器配置: where and how WeChat pushes event messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushConfig {
    /// The app server's URL; pushes are `POST {url}?signature=&timestamp=&nonce=…`. `None`:
    /// token and key are known, but nothing is pushed.
    #[serde(default)]
    pub url: Option<String>,
    /// The Token of the signatures.
    pub token: String,
    /// 43 characters of `[A-Za-z0-9]`; the AES key is its base64 decoding (with "=").
    #[serde(default)]
    pub encoding_aes_key: String,
    #[serde(default)]
    pub mode: PushMode,
}

/// 消息加解密方式.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    /// 明文模式: the event XML as is, signed with `signature`.
    #[default]
    Plain,
    /// 安全模式: the XML AES-encrypted in `<Encrypt>`, signed with `msg_signature` too.
    Safe,
}

/// The kind of WeChat application; it decides which logins the app may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AppKind {
    /// 网站应用: QR-code login (`/connect/qrconnect`, `scope=snsapi_login`).
    Website,
    /// 公众号 (服务号): web authorization in WeChat's browser (`/connect/oauth2/authorize`,
    /// `snsapi_base` / `snsapi_userinfo`); has a `cgi-bin/token`.
    OfficialAccount,
    /// 小程序: `wx.login()` codes for `sns/jscode2session`, phone-number codes; has a
    /// `cgi-bin/token`.
    MiniProgram,
    /// 移动应用: the native SDK hands the app a code (`snsapi_userinfo`) for
    /// `sns/oauth2/access_token`.
    MobileApp,
}

impl AppKind {
    /// Whether WeChat lets this kind of app ask for `scope` on its browser login page
    /// (the QR page for a website, the in-WeChat authorization page for a 公众号).
    pub fn allows_scope(self, scope: &str) -> bool {
        match self {
            AppKind::Website => scope == "snsapi_login",
            AppKind::OfficialAccount => matches!(scope, "snsapi_base" | "snsapi_userinfo"),
            AppKind::MiniProgram | AppKind::MobileApp => false,
        }
    }

    /// Whether the app can fetch an app access token at `cgi-bin/token`.
    pub fn has_client_credential(self) -> bool {
        matches!(self, AppKind::OfficialAccount | AppKind::MiniProgram)
    }
}

/// A WeChat user the tester can pick on the simulated phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persona {
    pub id: String,
    pub nickname: String,
    /// CSS hex colour of the avatar, e.g. `#07c160`.
    pub avatar_color: String,
    /// The phone number bound to the WeChat account, E.164-style: `+8613800000001`.
    pub phone: String,
}

impl Persona {
    /// (country code, number without it), e.g. ("86", "13800000001"), as
    /// `getuserphonenumber` splits it. Country codes are told apart by a small table of
    /// common ones; an unknown prefix keeps the whole number with an empty country code.
    pub fn phone_parts(&self) -> (&str, &str) {
        const COUNTRY_CODES: [&str; 14] = [
            "852", "853", "886", "86", "1", "7", "44", "49", "60", "61", "65", "66", "81", "82",
        ];
        let digits = self.phone.trim_start_matches('+');
        COUNTRY_CODES
            .iter()
            .find_map(|code| digits.strip_prefix(code).map(|rest| (*code, rest)))
            .unwrap_or(("", digits))
    }
}

impl SimConfig {
    pub fn app(&self, appid: &str) -> Option<&SimApp> {
        self.apps.iter().find(|app| app.appid == appid)
    }

    pub fn persona(&self, id: &str) -> Option<&Persona> {
        self.personas.iter().find(|persona| persona.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_split_into_country_code_and_rest() {
        let config = SimConfig::demo("http://localhost");
        let xiaoming = config.persona("xiaoming").unwrap();
        assert_eq!(xiaoming.phone, "+8613800000001");
        assert_eq!(xiaoming.phone_parts(), ("86", "13800000001"));
        let mut hk = xiaoming.clone();
        hk.phone = "+85291234567".into();
        assert_eq!(hk.phone_parts(), ("852", "91234567"));
    }

    #[test]
    fn scopes_per_kind() {
        assert!(AppKind::Website.allows_scope("snsapi_login"));
        assert!(!AppKind::Website.allows_scope("snsapi_userinfo"));
        assert!(AppKind::OfficialAccount.allows_scope("snsapi_base"));
        assert!(!AppKind::OfficialAccount.allows_scope("snsapi_login"));
        assert!(!AppKind::MiniProgram.allows_scope("snsapi_login"));
    }
}
