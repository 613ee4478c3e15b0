//! WeChat's logins without a browser: a mini-program's `wx.login()` code and a mobile app's
//! SDK code, plus the mini-program's verified phone number.

use async_trait::async_trait;

use super::WeChatClient;
use crate::{
    config::WeChatAppConfig,
    providers::{CodeLogin, PhoneNumbers, ProviderError, ProviderUser},
};

/// `wechat_mini`: codes go to `jscode2session`, which names the user but gives no profile.
pub struct MiniProgram {
    client: WeChatClient,
}

impl MiniProgram {
    pub fn new(config: &WeChatAppConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(config)?,
        })
    }
}

#[async_trait]
impl CodeLogin for MiniProgram {
    fn name(&self) -> &'static str {
        "wechat_mini"
    }

    async fn profile(&self, code: &str) -> Result<ProviderUser, ProviderError> {
        self.client.mini_program_profile(code).await
    }
}

#[async_trait]
impl PhoneNumbers for MiniProgram {
    fn name(&self) -> &'static str {
        "wechat_mini"
    }

    async fn phone_number(&self, code: &str) -> Result<String, ProviderError> {
        self.client.phone_number(code).await
    }
}

/// `wechat_app`: codes go through the same OAuth exchange as the browser's; the app gets no
/// provider token from saoma, so only the user is kept.
pub struct MobileApp {
    client: WeChatClient,
}

impl MobileApp {
    pub fn new(config: &WeChatAppConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(config)?,
        })
    }
}

#[async_trait]
impl CodeLogin for MobileApp {
    fn name(&self) -> &'static str {
        "wechat_app"
    }

    async fn profile(&self, code: &str) -> Result<ProviderUser, ProviderError> {
        let (_, user) = self.client.oauth_profile(code).await?;
        Ok(user)
    }
}
