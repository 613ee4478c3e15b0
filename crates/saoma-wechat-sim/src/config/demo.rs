//! The demo configuration: one app of every kind (most bound to one open platform) and three
//! personas, all with callback host `localhost`, so a local saoma works with it out of the box.

use super::{AppKind, Persona, PushConfig, PushMode, SimApp, SimConfig};

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
    ///
    /// The 公众号 `wx_sim_mp` (follow-to-log-in) has the push Token `sim-push-token` and the
    /// EncodingAESKey `simPushEncodingAesKey0123456789abcdefghijkA` (plain mode); its push
    /// URL is unset until [`crate::Simulator::set_push`] or `PUT /sim/apps/wx_sim_mp/push`.
    /// Both mini-programs publish `pages/index/index` and `pages/scan-login/index`; their
    /// server URL is unset until [`crate::Simulator::set_server_url`].
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
            token_daily_quota: super::default_token_daily_quota(),
            push_timeout_ms: super::default_push_timeout_ms(),
        }
        .with_demo_extras()
    }

    fn with_demo_extras(mut self) -> Self {
        for app in &mut self.apps {
            match app.kind {
                AppKind::MiniProgram => app.pages = DEMO_PAGES.map(str::to_owned).to_vec(),
                AppKind::OfficialAccount => {
                    app.push = Some(PushConfig {
                        url: None,
                        token: DEMO_PUSH_TOKEN.to_owned(),
                        encoding_aes_key: DEMO_ENCODING_AES_KEY.to_owned(),
                        mode: PushMode::Plain,
                    })
                }
                _ => {}
            }
        }
        self
    }
}

const DEMO_PAGES: [&str; 2] = ["pages/index/index", "pages/scan-login/index"];
const DEMO_PUSH_TOKEN: &str = "sim-push-token";
const DEMO_ENCODING_AES_KEY: &str = "simPushEncodingAesKey0123456789abcdefghijkA";

fn app(kind: AppKind, appid: &str, secret: &str, name: &str, platform: Option<&str>) -> SimApp {
    SimApp {
        appid: appid.to_owned(),
        secret: secret.to_owned(),
        name: name.to_owned(),
        kind,
        callback_host: "localhost".to_owned(),
        open_platform: platform.map(str::to_owned),
        pages: Vec::new(),
        server_url: None,
        push: None,
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
