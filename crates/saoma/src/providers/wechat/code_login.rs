//! WeChat's logins without a browser: a mini-program's `wx.login()` code and a mobile app's
//! SDK code, plus the mini-program's verified phone number.

use std::sync::Arc;

use async_trait::async_trait;

use super::{app_tokens::AppTokenShelf, WeChatClient};
use crate::{
    config::WeChatAppConfig,
    providers::{
        CodeLogin, MiniProgramCodes, PhoneNumbers, ProviderError, ProviderUser,
        UnlimitedCodeRequest,
    },
};

/// `wechat_mini`: codes go to `jscode2session`, which names the user but gives no profile.
pub struct MiniProgram {
    client: WeChatClient,
}

impl MiniProgram {
    pub fn new(config: &WeChatAppConfig, app_tokens: Arc<AppTokenShelf>) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(config, app_tokens)?,
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

#[async_trait]
impl MiniProgramCodes for MiniProgram {
    fn name(&self) -> &'static str {
        "wechat_mini"
    }

    async fn unlimited_code(
        &self,
        request: &UnlimitedCodeRequest,
    ) -> Result<Vec<u8>, ProviderError> {
        self.client.unlimited_code(request).await
    }
}

/// `wechat_app`: codes go through the same OAuth exchange as the browser's; the app gets no
/// provider token from saoma, so only the user is kept.
pub struct MobileApp {
    client: WeChatClient,
}

impl MobileApp {
    pub fn new(config: &WeChatAppConfig, app_tokens: Arc<AppTokenShelf>) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(config, app_tokens)?,
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
