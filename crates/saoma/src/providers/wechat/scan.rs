//! Website logins by scanning a code with WeChat, for apps without a verified website app
//! (网站应用): a mini-program code (`wechat_mini_qr`) or a 公众号's parametric QR code
//! (`wechat_mp_qr`). saoma shows the code; who scanned comes only from WeChat (a `wx.login()`
//! code resolved at `jscode2session`, or the openid of a signed push), never from a browser.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use super::{app_tokens::AppTokenShelf, push::PushKeys, WeChatClient};
use crate::{
    config::WeChatAppConfig,
    providers::{
        ProviderError, ProviderUser, ScanCode, ScanLogin, ScanProof, UnlimitedCodeRequest,
    },
};

/// `wechat_mini_qr`: a mini-program code that opens the confirming page with the scene.
pub struct MiniProgramScan {
    client: WeChatClient,
    page: String,
    env_version: String,
}

impl MiniProgramScan {
    pub fn new(config: &WeChatAppConfig, app_tokens: Arc<AppTokenShelf>) -> anyhow::Result<Self> {
        Ok(Self {
            client: WeChatClient::new(config, app_tokens)?,
            page: config.page.clone(),
            env_version: config.env_version.clone(),
        })
    }
}

#[async_trait]
impl ScanLogin for MiniProgramScan {
    fn name(&self) -> &'static str {
        "wechat_mini_qr"
    }

    fn proof(&self) -> ScanProof {
        ScanProof::MiniProgramCode
    }

    async fn code(&self, scene: &str, _lifetime: Duration) -> Result<ScanCode, ProviderError> {
        let request = UnlimitedCodeRequest {
            scene: scene.to_owned(),
            page: Some(self.page.clone()),
            // An unpublished page (trial, develop) can only be reached without the check.
            check_path: Some(self.env_version == "release"),
            env_version: Some(self.env_version.clone()),
            width: Some(430),
            auto_color: None,
            line_color: None,
            is_hyaline: None,
        };
        let bytes = self.client.unlimited_code(&request).await?;
        Ok(ScanCode::Image {
            content_type: image_type(&bytes).to_owned(),
            bytes,
        })
    }

    async fn person(&self, proof: &str) -> Result<ProviderUser, ProviderError> {
        self.client.mini_program_profile(proof).await
    }
}

/// `wechat_mp_qr`: a temporary parametric QR code of a 公众号; scanning it and following (or
/// opening, for a follower) makes WeChat push a signed event naming the person.
pub struct OfficialAccountScan {
    client: WeChatClient,
    keys: PushKeys,
}

impl OfficialAccountScan {
    pub fn new(config: &WeChatAppConfig, app_tokens: Arc<AppTokenShelf>) -> anyhow::Result<Self> {
        let aes_keys: Vec<&str> = [&config.encoding_aes_key, &config.previous_encoding_aes_key]
            .into_iter()
            .map(|key| key.expose())
            .filter(|key| !key.is_empty())
            .collect();
        let keys = PushKeys::new(config.push_token.expose(), &aes_keys, &config.app_id)
            .map_err(|e| anyhow::anyhow!("external.wechat_mp_qr: {e}"))?;
        Ok(Self {
            client: WeChatClient::new(config, app_tokens)?,
            keys,
        })
    }
}

#[async_trait]
impl ScanLogin for OfficialAccountScan {
    fn name(&self) -> &'static str {
        "wechat_mp_qr"
    }

    fn proof(&self) -> ScanProof {
        ScanProof::SignedPush
    }

    async fn code(&self, scene: &str, lifetime: Duration) -> Result<ScanCode, ProviderError> {
        let content = self.client.temporary_qr_code(scene, lifetime).await?;
        Ok(ScanCode::Content(content))
    }

    async fn person(&self, openid: &str) -> Result<ProviderUser, ProviderError> {
        self.client.follower(openid).await
    }

    fn push_keys(&self) -> Option<&PushKeys> {
        Some(&self.keys)
    }
}

/// WeChat says `image/jpeg` whatever it sends; the bytes tell.
fn image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    }
}
