//! External identity providers. One trait fits WeChat's non-standard OAuth (appid/secret in
//! the query, `#wechat_redirect`, errors as HTTP 200 + errcode) and ordinary OAuth2/OIDC
//! providers alike: build the authorize URL, then turn a callback code into tokens and a user.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;

pub mod wechat;

use wechat::{WeChatWeb, WebKind};

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
}

/// The enabled providers, by name, and WeChat's non-browser logins.
#[derive(Clone, Default)]
pub struct Providers {
    web: BTreeMap<&'static str, Arc<dyn OAuthProvider>>,
    /// `wechat_mini`: mini-program codes.
    pub wechat_mini: Option<Arc<wechat::WeChatClient>>,
    /// `wechat_app`: mobile-app codes.
    pub wechat_app: Option<Arc<wechat::WeChatClient>>,
}

impl Providers {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mut providers = Self::default();
        let external = &config.external;
        for (app, kind) in [
            (&external.wechat_qr, WebKind::Qr),
            (&external.wechat_mp, WebKind::OfficialAccount),
        ] {
            if app.enabled {
                providers.insert(Arc::new(WeChatWeb::new(
                    kind,
                    app,
                    config.wechat_redirect_uri(app),
                )?));
            }
        }
        if external.wechat_mini.enabled {
            providers.wechat_mini =
                Some(Arc::new(wechat::WeChatClient::new(&external.wechat_mini)?));
        }
        if external.wechat_app.enabled {
            providers.wechat_app = Some(Arc::new(wechat::WeChatClient::new(&external.wechat_app)?));
        }
        Ok(providers)
    }

    pub fn insert(&mut self, provider: Arc<dyn OAuthProvider>) {
        self.web.insert(provider.name(), provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn OAuthProvider>> {
        self.web.get(name)
    }

    /// Every enabled provider's name, for `/settings`.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.web.keys().copied().collect();
        if self.wechat_mini.is_some() {
            names.push("wechat_mini");
        }
        if self.wechat_app.is_some() {
            names.push("wechat_app");
        }
        names
    }
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
