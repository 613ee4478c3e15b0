//! WeChat: website QR login (`wechat_qr`, 网站应用), in-WeChat browser login through a 公众号
//! (`wechat_mp`), mini-programs (`wechat_mini`) and mobile apps (`wechat_app`).
//!
//! WeChat's ugly parts handled here: `appid`/`secret` instead of client credentials, a
//! mandatory `#wechat_redirect` fragment, no `token_type`, errors as HTTP 200 with an `errcode`
//! and often `Content-Type: text/plain` (parse the body whatever it claims to be), `-1` meaning
//! "busy, try again", and unionid present only for apps bound to an open-platform account.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    push_query, OAuthProvider, ProviderError, ProviderTokens, ProviderUser, UnlimitedCodeRequest,
};
use crate::config::WeChatAppConfig;

pub mod app_tokens;
pub mod code_login;
pub mod push;
pub mod scan;
pub mod setup;

use app_tokens::{AppTokenShelf, Fetched};
use std::sync::Arc;

/// Calls WeChat's server API with one app's credentials.
pub struct WeChatClient {
    app_id: String,
    secret: String,
    api_base_url: String,
    http: reqwest::Client,
    /// The app's access token, shared with every node.
    app_tokens: Arc<AppTokenShelf>,
}

/// WeChat's refusal of a call made with the app's access token.
struct Refusal {
    errcode: i64,
    errmsg: String,
}

impl Refusal {
    /// The errcode as a login error ([`check`]'s table).
    fn into_error(self) -> ProviderError {
        check(self.errcode, &self.errmsg).err().unwrap_or_else(|| {
            ProviderError::Protocol(format!("WeChat refused with errcode {}", self.errcode))
        })
    }
}

/// A call's answer: what was asked for, or WeChat's errcode.
type Answer<T> = Result<Result<T, Refusal>, ProviderError>;

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
    scope: Option<String>,
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

#[derive(Debug, Deserialize)]
struct SessionReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    unionid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PhoneReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    phone_info: Option<PhoneInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    pure_phone_number: String,
    #[serde(default)]
    country_code: String,
}

impl PhoneInfo {
    /// GoTrue's phone format: country code and number, digits only. WeChat's `phoneNumber`
    /// carries the country code only for foreign numbers, so build it from the parts.
    fn e164_digits(&self) -> String {
        if !self.pure_phone_number.is_empty() && !self.country_code.is_empty() {
            return format!(
                "{}{}",
                self.country_code.trim_start_matches('+'),
                self.pure_phone_number
            );
        }
        self.phone_number
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }
}

impl WeChatClient {
    pub fn new(config: &WeChatAppConfig, app_tokens: Arc<AppTokenShelf>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            app_id: config.app_id.clone(),
            secret: config.secret.expose().to_owned(),
            api_base_url: config.api_base_url.trim_end_matches('/').to_owned(),
            http,
            app_tokens,
        })
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let response = request.send().await.map_err(|e| {
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
        // WeChat often says text/plain; the body is JSON all the same.
        serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Protocol(format!("unreadable WeChat answer: {e}")))
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.api_base_url);
        push_query(&mut url, query);
        url
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        self.send(self.http.get(self.url(path, query))).await
    }

    /// GETs, retrying once when WeChat says it is busy (`-1`), as its docs ask.
    async fn get_retrying<T: for<'de> Deserialize<'de> + HasErrcode>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        let reply: T = self.get(path, query).await?;
        if reply.errcode() == -1 {
            return self.get(path, query).await;
        }
        Ok(reply)
    }

    /// A web, 公众号 or mobile-app code → tokens and the user's profile. `snsapi_base` codes give
    /// only an openid, so no userinfo is asked for.
    pub async fn oauth_profile(
        &self,
        code: &str,
    ) -> Result<(ProviderTokens, ProviderUser), ProviderError> {
        let query = [
            ("appid", self.app_id.as_str()),
            ("secret", self.secret.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
        ];
        let token: TokenReply = self
            .get_retrying("/sns/oauth2/access_token", &query)
            .await?;
        check(token.errcode, &token.errmsg)?;
        let (Some(access_token), Some(openid)) = (token.access_token, token.openid) else {
            return Err(ProviderError::Protocol(
                "WeChat's token answer has no access_token or openid".into(),
            ));
        };
        let tokens = ProviderTokens {
            access_token: access_token.clone(),
            refresh_token: token.refresh_token,
        };
        if token.scope.as_deref() == Some("snsapi_base") {
            let unionid = token.unionid.filter(|u| !u.is_empty());
            return Ok((
                tokens,
                profile(&openid, unionid.as_deref(), None, &self.api_base_url),
            ));
        }
        let info: UserInfoReply = self
            .get(
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
            Some((&info.nickname, &info.headimgurl)),
            &self.api_base_url,
        );
        Ok((tokens, user))
    }

    /// A mini-program's `wx.login()` code → who it is (openid, unionid; WeChat gives no profile).
    pub async fn mini_program_profile(&self, code: &str) -> Result<ProviderUser, ProviderError> {
        let query = [
            ("appid", self.app_id.as_str()),
            ("secret", self.secret.as_str()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        let reply: SessionReply = self.get_retrying("/sns/jscode2session", &query).await?;
        check(reply.errcode, &reply.errmsg)?;
        let openid = reply
            .openid
            .ok_or_else(|| ProviderError::Protocol("jscode2session answered no openid".into()))?;
        let unionid = reply.unionid.filter(|u| !u.is_empty());
        Ok(profile(
            &openid,
            unionid.as_deref(),
            None,
            &self.api_base_url,
        ))
    }

    /// A `getPhoneNumber` code → the user's verified phone number, as GoTrue stores phones
    /// (country code and number, digits only).
    pub async fn phone_number(&self, code: &str) -> Result<String, ProviderError> {
        let reply: PhoneReply = self
            .with_app_token(|token| async move {
                let url = self.url(
                    "/wxa/business/getuserphonenumber",
                    &[("access_token", &token)],
                );
                let reply: PhoneReply = self
                    .send(self.http.post(url).json(&json!({ "code": code })))
                    .await?;
                Ok(refused_or(reply.errcode, reply.errmsg.clone(), reply))
            })
            .await?;
        reply
            .phone_info
            .map(|info| info.e164_digits())
            .ok_or_else(|| {
                ProviderError::Protocol("getuserphonenumber answered no phone_info".into())
            })
    }

    /// A mini-program code (`wxa/getwxacodeunlimit`): the picture's bytes.
    pub async fn unlimited_code(
        &self,
        request: &UnlimitedCodeRequest,
    ) -> Result<Vec<u8>, ProviderError> {
        self.with_app_token(|token| async move {
            let url = self.url("/wxa/getwxacodeunlimit", &[("access_token", &token)]);
            let response = self
                .http
                .post(url)
                .json(request)
                .send()
                .await
                .map_err(|e| {
                    ProviderError::Unavailable(format!("WeChat unreachable: {}", e.without_url()))
                })?;
            if !response.status().is_success() {
                return Err(ProviderError::Unavailable(format!(
                    "WeChat answered HTTP {}",
                    response.status()
                )));
            }
            let body = response.bytes().await.map_err(|e| {
                ProviderError::Unavailable(format!("WeChat answer cut short: {}", e.without_url()))
            })?;
            // An image on success, JSON on failure, whatever the Content-Type says.
            if body.first() == Some(&b'{') {
                let reply: ErrcodeReply = serde_json::from_slice(&body).map_err(|e| {
                    ProviderError::Protocol(format!("unreadable WeChat answer: {e}"))
                })?;
                return Ok(Err(Refusal {
                    errcode: reply.errcode,
                    errmsg: reply.errmsg,
                }));
            }
            if body.is_empty() {
                return Err(ProviderError::Protocol(
                    "getwxacodeunlimit answered an empty body".into(),
                ));
            }
            Ok(Ok(body.to_vec()))
        })
        .await
    }

    /// A 公众号's temporary parametric QR code (`cgi-bin/qrcode/create`, `QR_STR_SCENE`):
    /// what the code must contain.
    pub async fn temporary_qr_code(
        &self,
        scene: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, ProviderError> {
        #[derive(Deserialize)]
        struct QrReply {
            #[serde(default)]
            errcode: i64,
            #[serde(default)]
            errmsg: String,
            url: Option<String>,
        }
        let body = json!({
            "expire_seconds": lifetime.as_secs().max(60),
            "action_name": "QR_STR_SCENE",
            "action_info": { "scene": { "scene_str": scene } },
        });
        let reply: QrReply = self
            .with_app_token(|token| {
                let body = body.clone();
                async move {
                    let url = self.url("/cgi-bin/qrcode/create", &[("access_token", &token)]);
                    let reply: QrReply = self.send(self.http.post(url).json(&body)).await?;
                    Ok(refused_or(reply.errcode, reply.errmsg.clone(), reply))
                }
            })
            .await?;
        reply
            .url
            .filter(|url| !url.is_empty())
            .ok_or_else(|| ProviderError::Protocol("qrcode/create answered no url".into()))
    }

    /// A 公众号 follower's openid → the person (`cgi-bin/user/info`: unionid when the account
    /// is bound to an open platform; WeChat no longer gives nicknames or avatars here).
    pub async fn follower(&self, openid: &str) -> Result<ProviderUser, ProviderError> {
        #[derive(Deserialize)]
        struct InfoReply {
            #[serde(default)]
            errcode: i64,
            #[serde(default)]
            errmsg: String,
            #[serde(default)]
            subscribe: i64,
            openid: Option<String>,
            unionid: Option<String>,
        }
        let reply: InfoReply = self
            .with_app_token(|token| async move {
                let reply: InfoReply = self
                    .get(
                        "/cgi-bin/user/info",
                        &[
                            ("access_token", &token),
                            ("openid", openid),
                            ("lang", "zh_CN"),
                        ],
                    )
                    .await?;
                Ok(refused_or(reply.errcode, reply.errmsg.clone(), reply))
            })
            .await?;
        if reply.openid.as_deref().is_some_and(|o| o != openid) {
            return Err(ProviderError::Protocol(
                "WeChat's user/info names another openid".into(),
            ));
        }
        // Whoever scanned a 公众号's code follows it; a push naming anyone else is not real.
        if reply.subscribe != 1 {
            return Err(ProviderError::InvalidCode(
                "The WeChat user named by the push does not follow the official account".into(),
            ));
        }
        let unionid = reply.unionid.filter(|u| !u.is_empty());
        Ok(profile(
            openid,
            unionid.as_deref(),
            None,
            &self.api_base_url,
        ))
    }

    /// Runs `call` with the app's shared access token; when WeChat calls that token stale
    /// (40001: another fetch retired it) or expired (42001), once more with a replacement.
    async fn with_app_token<'a, T, F, Fut>(&'a self, call: F) -> Result<T, ProviderError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Answer<T>> + 'a,
    {
        let token = self
            .app_tokens
            .token(&self.app_id, |force| self.fetch_stable_token(force))
            .await?;
        let refusal = match call(token.clone()).await? {
            Ok(answer) => return Ok(answer),
            Err(refusal) => refusal,
        };
        if !matches!(refusal.errcode, 40001 | 42001) {
            return Err(refusal.into_error());
        }
        let token = self
            .app_tokens
            .replace(&self.app_id, &token, |force| self.fetch_stable_token(force))
            .await?;
        call(token).await?.map_err(Refusal::into_error)
    }

    /// `cgi-bin/stable_token`: in normal mode WeChat hands every caller the same token while
    /// it is valid, so nodes never retire each other's; `force` replaces it (rationed).
    async fn fetch_stable_token(&self, force: bool) -> Result<Fetched, ProviderError> {
        #[derive(Deserialize)]
        struct StableToken {
            #[serde(default)]
            errcode: i64,
            #[serde(default)]
            errmsg: String,
            access_token: Option<String>,
            #[serde(default)]
            expires_in: i64,
        }
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.secret,
            "force_refresh": force,
        });
        let url = format!("{}/cgi-bin/stable_token", self.api_base_url);
        let reply: StableToken = self.send(self.http.post(url).json(&body)).await?;
        check(reply.errcode, &reply.errmsg)?;
        let access_token = reply
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ProviderError::Protocol("cgi-bin/stable_token answered no token".into())
            })?;
        Ok(Fetched {
            access_token,
            expires_in: reply.expires_in,
        })
    }
}

#[derive(Deserialize)]
struct ErrcodeReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// `reply` when WeChat's errcode says success, else the refusal.
fn refused_or<T>(errcode: i64, errmsg: String, reply: T) -> Result<T, Refusal> {
    if errcode == 0 {
        Ok(reply)
    } else {
        Err(Refusal { errcode, errmsg })
    }
}

trait HasErrcode {
    fn errcode(&self) -> i64;
}

impl HasErrcode for TokenReply {
    fn errcode(&self) -> i64 {
        self.errcode
    }
}

impl HasErrcode for SessionReply {
    fn errcode(&self) -> i64 {
        self.errcode
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
        45009 => Err(ProviderError::RateLimited(detail(
            "WeChat's rate limit for this app was reached, please try again later",
        ))),
        41030 => Err(ProviderError::BadRequest(detail(
            "The mini-program page does not exist in the published version (publish it, or ask for env_version trial/develop with check_path false)",
        ))),
        40129 | 40169 => Err(ProviderError::BadRequest(detail(
            "The scene must be at most 32 characters of 0-9A-Za-z and !#$&'()*+,/:;=?@-._~",
        ))),
        40097 | 47001 => Err(ProviderError::BadRequest(detail(
            "WeChat refused the request's arguments",
        ))),
        40001 | 40013 | 40125 | 48001 => Err(ProviderError::Misconfigured(detail(
            "WeChat rejected this server's app credentials",
        ))),
        _ => Err(ProviderError::Protocol(detail("WeChat refused the login"))),
    }
}

/// The browser flows: the QR page of a website app, or a 公众号's authorization in WeChat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebKind {
    Qr,
    OfficialAccount,
}

pub struct WeChatWeb {
    kind: WebKind,
    client: WeChatClient,
    app_id: String,
    redirect_uri: String,
    open_base_url: String,
}

impl WeChatWeb {
    pub fn new(
        kind: WebKind,
        config: &WeChatAppConfig,
        redirect_uri: String,
        app_tokens: Arc<AppTokenShelf>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            kind,
            client: WeChatClient::new(config, app_tokens)?,
            app_id: config.app_id.clone(),
            redirect_uri,
            open_base_url: config.open_base_url.trim_end_matches('/').to_owned(),
        })
    }
}

#[async_trait]
impl OAuthProvider for WeChatWeb {
    fn name(&self) -> &'static str {
        match self.kind {
            WebKind::Qr => "wechat_qr",
            WebKind::OfficialAccount => "wechat_mp",
        }
    }

    fn authorize_url(
        &self,
        state: &str,
        scopes: Option<&str>,
        extra: &[(String, String)],
    ) -> String {
        let asked = scopes.map(str::trim).filter(|s| !s.is_empty());
        let (path, scope) = match self.kind {
            WebKind::Qr => ("/connect/qrconnect", asked.unwrap_or("snsapi_login")),
            // snsapi_base is silent (openid only); anything else asks for the profile.
            WebKind::OfficialAccount => (
                "/connect/oauth2/authorize",
                if asked == Some("snsapi_base") {
                    "snsapi_base"
                } else {
                    "snsapi_userinfo"
                },
            ),
        };
        // WeChat is picky about parameter order and needs the fragment.
        let mut url = format!("{}{path}", self.open_base_url);
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
        self.client.oauth_profile(code).await
    }

    /// A QR code cannot be scanned by the phone that shows it: inside WeChat's browser the
    /// 公众号 login signs the user in instead.
    fn in_app_browser_alternative(&self, user_agent: &str) -> Option<&'static str> {
        (self.kind == WebKind::Qr && user_agent.contains("MicroMessenger")).then_some("wechat_mp")
    }
}

/// One person across a platform's apps is one unionid; without it, the openid (per app).
fn profile(
    openid: &str,
    unionid: Option<&str>,
    info: Option<(&str, &str)>,
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
    if let Some((nickname, avatar)) = info {
        data.insert("name".into(), json!(nickname));
        data.insert("full_name".into(), json!(nickname));
        data.insert("nickname".into(), json!(nickname));
        data.insert("avatar_url".into(), json!(avatar));
        data.insert("picture".into(), json!(avatar));
    }
    data.insert("email_verified".into(), Value::Bool(false));
    data.insert("phone_verified".into(), Value::Bool(false));
    let user_metadata = data.clone();
    ProviderUser {
        subject,
        link_key: unionid.map(str::to_owned),
        identity_data: data,
        user_metadata,
        email: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(kind: WebKind) -> WeChatWeb {
        let config = WeChatAppConfig {
            app_id: "wx123".into(),
            secret: "s".into(),
            ..WeChatAppConfig::default()
        };
        WeChatWeb::new(
            kind,
            &config,
            "https://auth.example.com/auth/v1/callback".into(),
            AppTokenShelf::new(
                crate::clock::ManualClock::new(chrono::Utc::now()),
                b"secret",
            ),
        )
        .expect("client")
    }

    #[test]
    fn authorize_urls_are_what_wechat_expects() {
        let url = web(WebKind::Qr).authorize_url("abc123", None, &[("lang".into(), "en".into())]);
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/qrconnect?appid=wx123\
             &redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%2Fv1%2Fcallback&response_type=code\
             &scope=snsapi_login&state=abc123&lang=en#wechat_redirect"
        );
        let mp = web(WebKind::OfficialAccount);
        assert!(mp
            .authorize_url("s", None, &[])
            .contains("/connect/oauth2/authorize?appid=wx123&"));
        assert!(mp
            .authorize_url("s", None, &[])
            .contains("&scope=snsapi_userinfo&"));
        assert!(mp
            .authorize_url("s", Some("snsapi_base"), &[])
            .contains("&scope=snsapi_base&"));
        assert!(mp
            .authorize_url("s", Some("email"), &[])
            .contains("&scope=snsapi_userinfo&"));
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
            Some(("小明", "http://a/132")),
            "https://api.weixin.qq.com",
        );
        assert_eq!(
            (with.subject.as_str(), with.link_key.as_deref()),
            ("u1", Some("u1"))
        );
        assert_eq!(with.user_metadata["openid"], "o1");
        assert_eq!(with.user_metadata["full_name"], "小明");
        let without = profile("o1", None, None, "https://api.weixin.qq.com");
        assert_eq!(without.subject, "o1");
        assert!(!without.identity_data.contains_key("unionid"));
        assert!(
            !without.user_metadata.contains_key("full_name"),
            "no profile, no made-up name"
        );
        assert_eq!(without.email, None, "no invented email");
    }
}
