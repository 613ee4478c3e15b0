//! What the simulator pretends is registered at WeChat: apps (AppID, secret, 授权回调域,
//! open-platform binding) and the WeChat users ("personas") a tester can log in as.

use serde::{Deserialize, Serialize};

/// Everything the simulator serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// Where the simulator's routes are reachable from a browser, without a trailing slash,
    /// e.g. `http://localhost:9999/wechat-sim`. Every URL the simulator emits starts with it.
    pub public_url: String,
    pub apps: Vec<SimApp>,
    pub personas: Vec<Persona>,
}

/// An application registered on the WeChat Open Platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimApp {
    pub appid: String,
    pub secret: String,
    /// Shown on the QR page as 「name」, like WeChat does.
    pub name: String,
    pub kind: AppKind,
    /// The 授权回调域: a bare host. A `redirect_uri` on any other host is refused.
    pub callback_host: String,
    /// The open-platform account the app is bound to; it scopes unionids. `None`: no unionid.
    pub open_platform: Option<String>,
}

/// The kind of WeChat application; it decides which login scopes the app may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AppKind {
    /// 网站应用: QR-code login with `scope=snsapi_login`.
    Website,
}

impl AppKind {
    /// Whether WeChat lets this kind of app ask for `scope` on the QR login page.
    pub fn allows_scope(self, scope: &str) -> bool {
        match self {
            AppKind::Website => scope == "snsapi_login",
        }
    }
}

/// A WeChat user the tester can pick on the simulated phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persona {
    pub id: String,
    pub nickname: String,
    /// CSS hex colour of the avatar, e.g. `#07c160`.
    pub avatar_color: String,
}

impl SimConfig {
    /// Three apps (two bound to one open platform, one unbound) and three personas, all with
    /// callback host `localhost`, so a local saoma works with it out of the box.
    pub fn demo(public_url: impl Into<String>) -> Self {
        let app = |appid: &str, secret: &str, name: &str, open_platform: Option<&str>| SimApp {
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            name: name.to_owned(),
            kind: AppKind::Website,
            callback_host: "localhost".to_owned(),
            open_platform: open_platform.map(str::to_owned),
        };
        let persona = |id: &str, nickname: &str, avatar_color: &str| Persona {
            id: id.to_owned(),
            nickname: nickname.to_owned(),
            avatar_color: avatar_color.to_owned(),
        };
        SimConfig {
            public_url: public_url.into(),
            apps: vec![
                app(
                    "wx_sim_website",
                    "sim-website-secret",
                    "saoma 演示网站",
                    Some("sim-open-platform"),
                ),
                app(
                    "wx_sim_website_b",
                    "sim-website-b-secret",
                    "saoma 演示网站 B",
                    Some("sim-open-platform"),
                ),
                app(
                    "wx_sim_unbound",
                    "sim-unbound-secret",
                    "未绑定开放平台的网站",
                    None,
                ),
            ],
            personas: vec![
                persona("xiaoming", "小明", "#07c160"),
                persona("xiaohong", "小红", "#fa5151"),
                persona("laowang", "老王", "#10aeff"),
            ],
        }
    }

    pub fn app(&self, appid: &str) -> Option<&SimApp> {
        self.apps.iter().find(|app| app.appid == appid)
    }

    pub fn persona(&self, id: &str) -> Option<&Persona> {
        self.personas.iter().find(|persona| persona.id == id)
    }
}
