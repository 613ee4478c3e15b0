//! WeChat website QR login (网站应用, `snsapi_login`), provider `wechat_qr`.
//!
//! WeChat's ugly parts handled here: `appid`/`secret` instead of client credentials, a
//! mandatory `#wechat_redirect` fragment, no `token_type`, errors as HTTP 200 with an `errcode`
//! and often `Content-Type: text/plain` (parse the body whatever it claims to be), `-1` meaning
//! "busy, try again", and unionid present only for apps bound to an open-platform account.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{push_query, OAuthProvider, ProviderError, ProviderTokens, ProviderUser};
use crate::config::WeChatAppConfig;

pub struct WeChatQr {
    app_id: String,
    secret: String,
    redirect_uri: String,
    open_base_url: String,
    api_base_url: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct TokenReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    refresh_token: Option<String>,
    openid: Option<String>,
    unionid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UserInfoReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    headimgurl: String,
    unionid: Option<String>,
}

impl WeChatQr {
    pub fn new(config: &WeChatAppConfig, redirect_uri: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            app_id: config.app_id.clone(),
            secret: config.secret.clone(),
            redirect_uri,
            open_base_url: config.open_base_url.trim_end_matches('/').to_owned(),
            api_base_url: config.api_base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// GETs a WeChat API and reads its JSON whatever the content type says.
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        let mut url = format!("{}{path}", self.api_base_url);
        push_query(&mut url, query);
        let response = self.http.get(&url).send().await.map_err(|e| {
            ProviderError::Unavailable(format!("WeChat unreachable: {}", e.without_url()))
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            ProviderError::Unavailable(format!("WeChat answer cut short: {}", e.without_url()))
        })?;
        if !status.is_success() {
            return Err(ProviderError::Unavailable(format!(
                "WeChat answered HTTP {status}"
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Protocol(format!("unreadable WeChat answer: {e}")))
    }

    async fn access_token(&self, code: &str) -> Result<TokenReply, ProviderError> {
        let query = [
            ("appid", self.app_id.as_str()),
            ("secret", self.secret.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
        ];
        let mut reply: TokenReply = self.call("/sns/oauth2/access_token", &query).await?;
        if reply.errcode == -1 {
            // "System busy": WeChat asks callers to retry, once is enough for a login.
            reply = self.call("/sns/oauth2/access_token", &query).await?;
        }
        check(reply.errcode, &reply.errmsg)?;
        Ok(reply)
    }
}

/// Turns a WeChat errcode into a login error a user (or operator) can act on.
fn check(errcode: i64, errmsg: &str) -> Result<(), ProviderError> {
    let detail = |what: &str| format!("{what} (WeChat errcode {errcode}: {errmsg})");
    match errcode {
        0 => Ok(()),
        40029 => Err(ProviderError::InvalidCode(detail(
            "The WeChat login code is invalid",
        ))),
        40163 => Err(ProviderError::InvalidCode(detail(
            "The WeChat login code was already used",
        ))),
        42003 => Err(ProviderError::InvalidCode(detail(
            "The WeChat login code has expired",
        ))),
        41008 => Err(ProviderError::InvalidCode(detail(
            "WeChat sent no login code",
        ))),
        -1 | 45011 => Err(ProviderError::Unavailable(detail(
            "WeChat is busy, please try again",
        ))),
        40001 | 40013 | 40125 | 48001 => Err(ProviderError::Misconfigured(detail(
            "WeChat rejected this server's app credentials",
        ))),
        _ => Err(ProviderError::Protocol(detail("WeChat refused the login"))),
    }
}

#[async_trait]
impl OAuthProvider for WeChatQr {
    fn name(&self) -> &'static str {
        "wechat_qr"
    }

    fn authorize_url(
        &self,
        state: &str,
        scopes: Option<&str>,
        extra: &[(String, String)],
    ) -> String {
        // WeChat is picky about parameter order and needs the fragment.
        let scope = scopes
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("snsapi_login");
        let mut url = format!("{}/connect/qrconnect", self.open_base_url);
        push_query(
            &mut url,
            &[
                ("appid", &self.app_id),
                ("redirect_uri", &self.redirect_uri),
                ("response_type", "code"),
                ("scope", scope),
                ("state", state),
            ],
        );
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        push_query(&mut url, &extra);
        url.push_str("#wechat_redirect");
        url
    }

    async fn exchange(&self, code: &str) -> Result<(ProviderTokens, ProviderUser), ProviderError> {
        let token = self.access_token(code).await?;
        let (Some(access_token), Some(openid)) = (token.access_token, token.openid) else {
            return Err(ProviderError::Protocol(
                "WeChat's token answer has no access_token or openid".into(),
            ));
        };
        let info: UserInfoReply = self
            .call(
                "/sns/userinfo",
                &[
                    ("access_token", &access_token),
                    ("openid", &openid),
                    ("lang", "zh_CN"),
                ],
            )
            .await?;
        check(info.errcode, &info.errmsg)?;
        if info.openid.as_deref().is_some_and(|o| o != openid) {
            return Err(ProviderError::Protocol(
                "WeChat's userinfo names another openid".into(),
            ));
        }
        let unionid = info.unionid.or(token.unionid).filter(|u| !u.is_empty());
        let user = profile(
            &openid,
            unionid.as_deref(),
            &info.nickname,
            &info.headimgurl,
            &self.api_base_url,
        );
        Ok((
            ProviderTokens {
                access_token,
                refresh_token: token.refresh_token,
            },
            user,
        ))
    }
}

/// One person across a platform's apps is one unionid; without it, the openid (per app).
fn profile(
    openid: &str,
    unionid: Option<&str>,
    nickname: &str,
    avatar: &str,
    issuer: &str,
) -> ProviderUser {
    let subject = unionid.unwrap_or(openid).to_owned();
    let mut data = Map::new();
    data.insert("iss".into(), json!(issuer));
    data.insert("sub".into(), json!(subject));
    data.insert("provider_id".into(), json!(subject));
    data.insert("openid".into(), json!(openid));
    if let Some(unionid) = unionid {
        data.insert("unionid".into(), json!(unionid));
    }
    data.insert("name".into(), json!(nickname));
    data.insert("full_name".into(), json!(nickname));
    data.insert("nickname".into(), json!(nickname));
    data.insert("avatar_url".into(), json!(avatar));
    data.insert("picture".into(), json!(avatar));
    data.insert("email_verified".into(), Value::Bool(false));
    data.insert("phone_verified".into(), Value::Bool(false));
    let user_metadata = data.clone();
    ProviderUser {
        subject,
        identity_data: data,
        user_metadata,
        email: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_is_what_wechat_expects() {
        let config = WeChatAppConfig {
            app_id: "wx123".into(),
            secret: "s".into(),
            ..WeChatAppConfig::default()
        };
        let qr = WeChatQr::new(&config, "https://auth.example.com/auth/v1/callback".into())
            .expect("client");
        let url = qr.authorize_url("abc123", None, &[("lang".into(), "en".into())]);
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/qrconnect?appid=wx123\
             &redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%2Fv1%2Fcallback&response_type=code\
             &scope=snsapi_login&state=abc123&lang=en#wechat_redirect"
        );
    }

    #[test]
    fn errcodes_become_clear_errors() {
        assert!(
            matches!(check(40163, "code been used"), Err(ProviderError::InvalidCode(m)) if m.contains("already used"))
        );
        assert!(matches!(
            check(42003, "code expired"),
            Err(ProviderError::InvalidCode(_))
        ));
        assert!(matches!(
            check(40125, "invalid appsecret"),
            Err(ProviderError::Misconfigured(_))
        ));
        assert!(matches!(
            check(-1, "system error"),
            Err(ProviderError::Unavailable(_))
        ));
        assert_eq!(check(0, "ok"), Ok(()));
    }

    #[test]
    fn identity_keyed_by_unionid_else_openid() {
        let with = profile(
            "o1",
            Some("u1"),
            "小明",
            "http://a/132",
            "https://api.weixin.qq.com",
        );
        assert_eq!(with.subject, "u1");
        assert_eq!(with.user_metadata["openid"], "o1");
        assert_eq!(with.user_metadata["full_name"], "小明");
        let without = profile("o1", None, "小明", "", "https://api.weixin.qq.com");
        assert_eq!(without.subject, "o1");
        assert!(!without.identity_data.contains_key("unionid"));
        assert_eq!(without.email, None, "no invented email");
    }
}
