//! The pages of a 公众号's web authorization: WeChat's in-browser 授权 screen (with the
//! simulator's persona choice) and its error pages.

use axum::response::Response;

use super::html::{escape, hidden_inputs, persona_radios, phone_page};
use super::mp::Valid;
use crate::domain::scope::Scope;
use crate::simulator::Shared;

/// Why WeChat's browser refuses to authorize; shown on a page, never redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown or missing appid.
    Appid,
    /// 10005: the appid is not a 公众号 (e.g. a website app's).
    NoScopePermission,
    /// 10003: the redirect_uri is not on the 网页授权域名.
    RedirectUri,
    /// Neither `snsapi_base` nor `snsapi_userinfo`.
    Scope,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::Appid => "参数错误",
            Refusal::NoScopePermission => "此公众号并没有这些scope的权限",
            Refusal::RedirectUri => "redirect_uri域名与后台配置不一致",
            Refusal::Scope => "scope 参数错误或没有 scope 权限",
        }
    }

    fn errcode(self) -> Option<u32> {
        match self {
            Refusal::NoScopePermission => Some(10005),
            Refusal::RedirectUri => Some(10003),
            Refusal::Appid | Refusal::Scope => None,
        }
    }
}

/// WeChat's "Oops! Something went wrong:(" page, with the errcode where WeChat shows one.
pub fn refusal_page(refusal: Refusal) -> Response {
    tracing::info!(?refusal, "公众号 authorization refused");
    let errcode = refusal
        .errcode()
        .map(|code| format!("<p id=\"errcode\" class=\"note\">{code}</p>\n"))
        .unwrap_or_default();
    let body = format!(
        "<div class=\"result\">\n<p class=\"oops\">Oops! Something went wrong:(</p>\n\
         <p id=\"error\">{}</p>\n{errcode}</div>",
        escape(refusal.message())
    );
    phone_page("微信", &body)
}

/// A one-line message (`#result`), for the simulator's own complaints.
pub fn message_page(message: &str) -> Response {
    let body = format!(
        "<div class=\"result\"><p id=\"result\">{}</p></div>",
        escape(message)
    );
    phone_page("微信", &body)
}

/// The 授权 screen: the app, what it asks for, the persona to act as, 允许 and 拒绝.
pub fn authorize_page(shared: &Shared, valid: &Valid<'_>, state: &str) -> Response {
    let app = valid.app;
    let icon = app.name.chars().next().unwrap_or('公');
    let asks = match valid.scope {
        Scope::Base => {
            "<p id=\"silent\" class=\"note\">snsapi_base：真实微信中静默授权，不显示此页，\
             直接带 code 跳转。模拟器没有登录中的微信用户，所以仍请选择一个。</p>"
        }
        _ => "<p>申请获得以下权限：</p><p class=\"note\">获得你的公开信息（昵称、头像等）</p>",
    };
    let personas = persona_radios(shared, |_| String::new());
    let hidden = hidden_inputs(&[
        ("appid", app.appid.as_str()),
        ("redirect_uri", valid.redirect_uri),
        ("scope", valid.scope.as_str()),
        ("state", state),
    ]);
    let body = format!(
        r#"<section class="authorize">
<div class="app-icon">{icon}</div>
<h1 id="app-name">「{name}」</h1>
{asks}
<form method="post" action="{confirm}">
{hidden}<fieldset class="personas"><legend>以哪个微信用户身份（模拟器）</legend>
{personas}</fieldset>
<button id="allow" class="primary" type="submit" name="decision" value="allow">允许</button>
<button id="deny" class="secondary" type="submit" name="decision" value="deny">拒绝</button>
</form>
</section>"#,
        icon = escape(&icon.to_string()),
        name = escape(&app.name),
        confirm = escape(&shared.url("/connect/oauth2/authorize/confirm")),
    );
    phone_page("授权登录", &body)
}
