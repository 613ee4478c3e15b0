//! External identity providers. One trait fits WeChat's non-standard OAuth (appid/secret in
//! the query, `#wechat_redirect`, errors as HTTP 200 + errcode) and ordinary OAuth2/OIDC
//! providers alike: build the authorize URL, then turn a callback code into tokens and a user.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::Config;

pub mod wechat;

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

/// Who signed in, as the provider tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderUser {
    /// The identity's key (`identities.provider_id`): stable for this person at this provider.
    pub subject: String,
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

/// The enabled providers, by name.
#[derive(Clone, Default)]
pub struct Providers(BTreeMap<&'static str, Arc<dyn OAuthProvider>>);

impl Providers {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mut providers = Self::default();
        if config.external.wechat_qr.enabled {
            let qr =
                wechat::WeChatQr::new(&config.external.wechat_qr, config.wechat_qr_redirect_uri())?;
            providers.insert(Arc::new(qr));
        }
        Ok(providers)
    }

    pub fn insert(&mut self, provider: Arc<dyn OAuthProvider>) {
        self.0.insert(provider.name(), provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn OAuthProvider>> {
        self.0.get(name)
    }

    pub fn enabled(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.keys().copied()
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
