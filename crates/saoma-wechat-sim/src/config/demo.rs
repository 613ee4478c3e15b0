//! The demo configuration: one app of every kind (most bound to one open platform) and three
//! personas, all with callback host `localhost`, so a local saoma works with it out of the box.

use super::{AppKind, Persona, SimApp, SimConfig};

const OPEN_PLATFORM: &str = "sim-open-platform";

impl SimConfig {
    /// The first app is the website `wx_sim_website` (callers rely on that order):
    ///
    /// | appid | kind | secret | open platform |
    /// |---|---|---|---|
    /// | `wx_sim_website` | website | `sim-website-secret` | sim-open-platform |
    /// | `wx_sim_website_b` | website | `sim-website-b-secret` | sim-open-platform |
    /// | `wx_sim_unbound` | website | `sim-unbound-secret` | — |
    /// | `wx_sim_mp` | 公众号 | `sim-mp-secret` | sim-open-platform |
    /// | `wx_sim_mini` | mini-program | `sim-mini-secret` | sim-open-platform |
    /// | `wx_sim_mini_unbound` | mini-program | `sim-mini-unbound-secret` | — |
    /// | `wx_sim_app` | mobile app | `sim-app-secret` | sim-open-platform |
    pub fn demo(public_url: impl Into<String>) -> Self {
        let bound = Some(OPEN_PLATFORM);
        SimConfig {
            public_url: public_url.into(),
            apps: vec![
                app(
                    AppKind::Website,
                    "wx_sim_website",
                    "sim-website-secret",
                    "saoma 演示网站",
                    bound,
                ),
                app(
                    AppKind::Website,
                    "wx_sim_website_b",
                    "sim-website-b-secret",
                    "saoma 演示网站 B",
                    bound,
                ),
                app(
                    AppKind::Website,
                    "wx_sim_unbound",
                    "sim-unbound-secret",
                    "未绑定开放平台的网站",
                    None,
                ),
                app(
                    AppKind::OfficialAccount,
                    "wx_sim_mp",
                    "sim-mp-secret",
                    "saoma 演示公众号",
                    bound,
                ),
                app(
                    AppKind::MiniProgram,
                    "wx_sim_mini",
                    "sim-mini-secret",
                    "saoma 演示小程序",
                    bound,
                ),
                app(
                    AppKind::MiniProgram,
                    "wx_sim_mini_unbound",
                    "sim-mini-unbound-secret",
                    "未绑定开放平台的小程序",
                    None,
                ),
                app(
                    AppKind::MobileApp,
                    "wx_sim_app",
                    "sim-app-secret",
                    "saoma 演示 App",
                    bound,
                ),
            ],
            personas: vec![
                persona("xiaoming", "小明", "#07c160", "+8613800000001"),
                persona("xiaohong", "小红", "#fa5151", "+8613800000002"),
                persona("laowang", "老王", "#10aeff", "+8613800000003"),
            ],
            sms: super::sms::SmsAccounts::default(),
        }
    }
}

fn app(kind: AppKind, appid: &str, secret: &str, name: &str, platform: Option<&str>) -> SimApp {
    SimApp {
        appid: appid.to_owned(),
        secret: secret.to_owned(),
        name: name.to_owned(),
        kind,
        callback_host: "localhost".to_owned(),
        open_platform: platform.map(str::to_owned),
    }
}

fn persona(id: &str, nickname: &str, avatar_color: &str, phone: &str) -> Persona {
    Persona {
        id: id.to_owned(),
        nickname: nickname.to_owned(),
        avatar_color: avatar_color.to_owned(),
        phone: phone.to_owned(),
    }
}
