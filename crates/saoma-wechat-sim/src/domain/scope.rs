//! What a code or token lets its holder do.

/// The `scope` of a code and of the access token bought with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Website QR login; the token reads userinfo.
    Login,
    /// 公众号 `snsapi_userinfo` and mobile-app logins; the token reads userinfo.
    Userinfo,
    /// 公众号 `snsapi_base`: the openid only; userinfo answers 48001. Mini-program and
    /// phone-number codes carry it too (they never become `sns` tokens).
    Base,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Login => "snsapi_login",
            Scope::Userinfo => "snsapi_userinfo",
            Scope::Base => "snsapi_base",
        }
    }

    /// The scopes of a 公众号's web authorization.
    pub fn parse_official_account(scope: &str) -> Option<Scope> {
        match scope {
            "snsapi_userinfo" => Some(Scope::Userinfo),
            "snsapi_base" => Some(Scope::Base),
            _ => None,
        }
    }

    pub fn reads_userinfo(self) -> bool {
        matches!(self, Scope::Login | Scope::Userinfo)
    }
}
