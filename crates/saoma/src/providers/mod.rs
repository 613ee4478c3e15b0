//! External identity providers. One trait fits WeChat's non-standard OAuth (appid/secret in
//! the query, `#wechat_redirect`, errors as HTTP 200 + errcode) and ordinary OAuth2/OIDC
//! providers alike: build the authorize URL, then turn a callback code into tokens and a user.
//! Logins without a browser (a code from an SDK) and phone-number lookups are traits of their
//! own; the registry ([`Providers`]) builds each enabled provider from configuration.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod registry;
pub mod wechat;

pub use registry::{Capabilities, Outbound, Providers, Setup};
pub use wechat::app_tokens::AppTokenShelf;

/// Tokens from the provider, handed to the app as `provider_token` / `provider_refresh_token`.
#[derive(Clone, PartialEq)]
pub struct ProviderTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderTokens([redacted])")
    }
}

/// Who signed in, as the provider tells it. Serialisable, to wait on a link flow until its
/// code is exchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderUser {
    /// The identity's key (`identities.provider_id`): stable for this person at this provider.
    pub subject: String,
    /// A key that names the same person at sibling providers (WeChat's unionid): an identity
    /// of the same family with this subject belongs to the same user.
    pub link_key: Option<String>,
    pub identity_data: Map<String, Value>,
    /// What goes into the user's `user_metadata` (GoTrue copies identity claims there).
    pub user_metadata: Map<String, Value>,
    /// Only when the provider vouches for it; never invented.
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// The callback's code is unknown, used or expired: the user should try again.
    #[error("{0}")]
    InvalidCode(String),
    /// The provider is down or busy.
    #[error("{0}")]
    Unavailable(String),
    /// saoma's credentials for the provider are wrong.
    #[error("{0}")]
    Misconfigured(String),
    /// The provider answered something we cannot read.
    #[error("{0}")]
    Protocol(String),
    /// The provider refused what the caller asked for (a bad page or scene for a
    /// mini-program code): the caller's to fix.
    #[error("{0}")]
    BadRequest(String),
    /// The provider's rate limit for this app was hit.
    #[error("{0}")]
    RateLimited(String),
}

#[async_trait]
pub trait OAuthProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Where the browser goes to sign in. `extra` are the caller's unknown query parameters,
    /// forwarded as GoTrue does.
    fn authorize_url(
        &self,
        state: &str,
        scopes: Option<&str>,
        extra: &[(String, String)],
    ) -> String;
    /// Exchanges the callback's code for tokens and the user's profile.
    async fn exchange(&self, code: &str) -> Result<(ProviderTokens, ProviderUser), ProviderError>;
    /// The provider that should take over when the browser is another app's own (told by its
    /// `User-Agent`) and this provider's flow cannot work there; used only when it is enabled.
    fn in_app_browser_alternative(&self, _user_agent: &str) -> Option<&'static str> {
        None
    }
}

/// A login without a browser: the provider's client SDK hands the app a code, which the app
/// sends to saoma (WeChat's mini-programs and mobile apps).
#[async_trait]
pub trait CodeLogin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Who the code's user is.
    async fn profile(&self, code: &str) -> Result<ProviderUser, ProviderError>;
}

/// A phone number the provider has verified, handed over with the user's consent as a code.
#[async_trait]
pub trait PhoneNumbers: Send + Sync {
    fn name(&self) -> &'static str;
    /// The number as GoTrue stores phones: country code and number, digits only.
    async fn phone_number(&self, code: &str) -> Result<String, ProviderError>;
}

/// What a person scans to log in to a website with WeChat (`wechat_mini_qr`,
/// `wechat_mp_qr`): a code that carries a ticket's `scene`, shown on saoma's waiting page.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanCode {
    /// A picture WeChat drew (a mini-program code): shown as it is.
    Image {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// What a QR code must contain (a 公众号's parametric code): saoma draws it.
    Content(String),
}

/// How the person who scanned proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanProof {
    /// The mini-program page sends a `wx.login()` code, which only WeChat can resolve.
    MiniProgramCode,
    /// The 公众号 pushes a signed event naming the follower's openid.
    SignedPush,
}

/// A website login by scanning a code with WeChat, for apps without a verified website app:
/// saoma shows the code, WeChat tells saoma who scanned it, and the waiting browser continues.
#[async_trait]
pub trait ScanLogin: Send + Sync {
    fn name(&self) -> &'static str;
    fn proof(&self) -> ScanProof;
    /// A code carrying `scene` that stays scannable for `lifetime`.
    async fn code(
        &self,
        scene: &str,
        lifetime: std::time::Duration,
    ) -> Result<ScanCode, ProviderError>;
    /// Who scanned: `proof` is a `wx.login()` code, or the openid of a verified push.
    async fn person(&self, proof: &str) -> Result<ProviderUser, ProviderError>;
    /// The keys that authenticate the 公众号's pushes (`SignedPush` only).
    fn push_keys(&self) -> Option<&wechat::push::PushKeys> {
        None
    }
}

/// What `wxacode.getUnlimited` draws (MemFire's `getUnlimitedQRCode`), as WeChat names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnlimitedCodeRequest {
    pub scene: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_color: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_color: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_hyaline: Option<bool>,
}

/// A mini-program's codes (小程序码) drawn by WeChat.
#[async_trait]
pub trait MiniProgramCodes: Send + Sync {
    fn name(&self) -> &'static str;
    /// The picture's bytes (WeChat answers JPEG or PNG).
    async fn unlimited_code(
        &self,
        request: &UnlimitedCodeRequest,
    ) -> Result<Vec<u8>, ProviderError>;
}

/// Appends `key=value` pairs, URL-encoded, to a query string under construction.
pub fn push_query(url: &mut String, pairs: &[(&str, &str)]) {
    for (key, value) in pairs {
        let separator = if url.contains('?') { '&' } else { '?' };
        url.push(separator);
        url.push_str(&urlencode(key));
        url.push('=');
        url.push_str(&urlencode(value));
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
