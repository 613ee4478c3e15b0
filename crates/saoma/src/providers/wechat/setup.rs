//! The registry's constructors for WeChat's four kinds of app: each reads its own
//! `external.<name>` section and builds nothing when that section is disabled.

use std::sync::Arc;

use super::{
    code_login::MiniProgram,
    code_login::MobileApp,
    scan::{MiniProgramScan, OfficialAccountScan},
    WeChatWeb, WebKind,
};
use crate::{
    config::WeChatAppConfig,
    providers::{Capabilities, Setup},
};

/// The enabled section of `setup.name`, its base URLs replaced by any outbound override.
pub fn app_config(setup: &Setup<'_>) -> Option<WeChatAppConfig> {
    let section = setup
        .config
        .external
        .wechat(setup.name)
        .filter(|s| s.enabled)?;
    let mut app = section.clone();
    if let Some(base_url) = setup.outbound.base_url(setup.name) {
        app.open_base_url = base_url.to_owned();
        app.api_base_url = base_url.to_owned();
    }
    Some(app)
}

/// `wechat_qr`: a website app's QR login.
pub fn qr(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    browser(setup, WebKind::Qr)
}

/// `wechat_mp`: a 公众号's login in WeChat's own browser.
pub fn official_account(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    browser(setup, WebKind::OfficialAccount)
}

fn browser(setup: &Setup<'_>, kind: WebKind) -> anyhow::Result<Option<Capabilities>> {
    let Some(app) = app_config(setup) else {
        return Ok(None);
    };
    let redirect_uri = setup.config.wechat_redirect_uri(&app);
    Ok(Some(Capabilities {
        browser: Some(Arc::new(WeChatWeb::new(
            kind,
            &app,
            redirect_uri,
            setup.app_tokens.clone(),
        )?)),
        ..Capabilities::default()
    }))
}

/// `wechat_mini`: `wx.login()` codes, and phone numbers from the `getPhoneNumber` button.
pub fn mini_program(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    let Some(app) = app_config(setup) else {
        return Ok(None);
    };
    let mini = Arc::new(MiniProgram::new(&app, setup.app_tokens.clone())?);
    Ok(Some(Capabilities {
        code_login: Some(mini.clone()),
        phone_numbers: Some(mini.clone()),
        mini_program_codes: Some(mini),
        ..Capabilities::default()
    }))
}

/// `wechat_app`: codes from the WeChat SDK in a mobile app.
pub fn mobile_app(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    let Some(app) = app_config(setup) else {
        return Ok(None);
    };
    Ok(Some(Capabilities {
        code_login: Some(Arc::new(MobileApp::new(&app, setup.app_tokens.clone())?)),
        ..Capabilities::default()
    }))
}

/// `wechat_mini_qr`: a website login by scanning a mini-program code.
pub fn mini_program_scan(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    let Some(app) = app_config(setup) else {
        return Ok(None);
    };
    Ok(Some(Capabilities {
        scan_login: Some(Arc::new(MiniProgramScan::new(
            &app,
            setup.app_tokens.clone(),
        )?)),
        ..Capabilities::default()
    }))
}

/// `wechat_mp_qr`: a website login by scanning a 公众号's code and following it.
pub fn official_account_scan(setup: &Setup<'_>) -> anyhow::Result<Option<Capabilities>> {
    let Some(app) = app_config(setup) else {
        return Ok(None);
    };
    Ok(Some(Capabilities {
        scan_login: Some(Arc::new(OfficialAccountScan::new(
            &app,
            setup.app_tokens.clone(),
        )?)),
        ..Capabilities::default()
    }))
}
