//! Configuration: defaults, then `saoma.toml` (when present), then `SAOMA_*` environment
//! variables. Secrets are redacted whenever the configuration is printed.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

mod env;
mod mail;
mod secret;
mod sms;

pub use env::{unknown_env_names, unsupported_gotrue_names, WECHAT_PROVIDERS};
pub use mail::{MailHookConfig, MailTexts, MailerConfig, SmtpConfig, SmtpSecurity};
pub use secret::Secret;
pub use sms::{
    AliyunSmsConfig, SmsConfig, SmsHookConfig, TencentSmsConfig, ALIYUN_SMS_BASE_URL,
    TENCENT_SMS_BASE_URL,
};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `postgres://...` for Postgres; otherwise a SQLite file path.
    pub database_url: String,
    /// SQLite only: answer token checks (`GET /user`...) from memory until the database file
    /// changes. Off only to measure the database path.
    pub sqlite_read_cache: bool,
    /// How long `serve` keeps trying to reach the database at start (seconds) before it gives
    /// up: a database that starts after saoma (compose, a restart) is waited for.
    pub database_wait_seconds: u64,
    /// Where users land after OAuth flows and email links when no valid redirect_to is given.
    pub site_url: String,
    /// Globs that redirect_to may match besides the site URL (GoTrue's URI_ALLOW_LIST).
    pub uri_allow_list: Vec<String>,
    /// The URL clients reach saoma at (GoTrue's API_EXTERNAL_URL).
    pub external_url: String,
    pub disable_signup: bool,
    /// Lets WeChat providers talk to base URLs other than WeChat's own (the simulator).
    /// `saoma dev` sets it; `saoma serve` refuses such URLs without it.
    pub wechat_simulator_allowed: bool,
    pub jwt: JwtConfig,
    pub security: SecurityConfig,
    pub mailer: MailerConfig,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
    pub password: PasswordConfig,
    pub rate_limit: RateLimitConfig,
    pub external: ExternalConfig,
    pub server: ServerConfig,
    pub metrics: MetricsConfig,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    pub secret: String,
    /// Access-token lifetime in seconds.
    pub exp: i64,
    pub aud: String,
    /// `iss` claim; defaults to `external_url` + `/auth/v1`.
    pub issuer: Option<String>,
    /// PEM file of an ES256 (P-256) or RS256 private key that signs access tokens.
    pub signing_key_file: Option<String>,
    /// `kid` for that key; defaults to its RFC 7638 thumbprint.
    pub kid: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub refresh_token_rotation_enabled: bool,
    /// Seconds during which a rotated refresh token may still be used.
    pub refresh_token_reuse_interval: i64,
    /// Lets signed-in users link and unlink identities (GoTrue's manual linking).
    pub manual_linking_enabled: bool,
    /// A password change needs a fresh code (`GET /reauthenticate`, then `nonce`) when the
    /// session is older than 24 hours (GoTrue's UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION).
    pub update_password_require_reauthentication: bool,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    pub min_length: usize,
    pub bcrypt_cost: u32,
}

/// The login methods. Each external provider has its section here (`[external.<name>]`, read
/// from `SAOMA_EXTERNAL_<NAME>_*` too) and its line in the providers' registry
/// (`providers::registry`), which builds it when enabled. A section name that is not here is
/// a configuration error (`deny_unknown_fields`), never a provider silently left out.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalConfig {
    pub email: ProviderToggle,
    pub anonymous_users: ProviderToggle,
    /// Phone sign-in; it also needs a gateway (`sms.provider`) or test numbers to work.
    pub phone: ProviderToggle,
    /// WeChat website QR login (网站应用, scope snsapi_login).
    pub wechat_qr: WeChatAppConfig,
    /// In-WeChat browser login through a 公众号 (snsapi_userinfo / snsapi_base).
    pub wechat_mp: WeChatAppConfig,
    /// Mini-program login (`wx.login()` codes, jscode2session).
    pub wechat_mini: WeChatAppConfig,
    /// Mobile-app login (codes from the WeChat SDK).
    pub wechat_app: WeChatAppConfig,
    /// Website login by scanning a mini-program code (小程序码): the mini-program's AppID and
    /// secret, and `page`, the mini-program page that confirms the login.
    pub wechat_mini_qr: WeChatAppConfig,
    /// Website login by scanning a 公众号's QR code and following it (关注公众号登录): a
    /// verified 服务号 or the free 公众平台测试号, its `push_token` and `encoding_aes_key`.
    pub wechat_mp_qr: WeChatAppConfig,
}

impl ExternalConfig {
    /// The WeChat app configured for `provider` (one of [`WECHAT_PROVIDERS`]).
    pub fn wechat(&self, provider: &str) -> Option<&WeChatAppConfig> {
        match provider {
            "wechat_qr" => Some(&self.wechat_qr),
            "wechat_mp" => Some(&self.wechat_mp),
            "wechat_mini" => Some(&self.wechat_mini),
            "wechat_app" => Some(&self.wechat_app),
            "wechat_mini_qr" => Some(&self.wechat_mini_qr),
            "wechat_mp_qr" => Some(&self.wechat_mp_qr),
            _ => None,
        }
    }

    /// The WeChat app configured for `provider`, to change it (tests, `saoma dev`).
    pub fn wechat_mut(&mut self, provider: &str) -> Option<&mut WeChatAppConfig> {
        match provider {
            "wechat_qr" => Some(&mut self.wechat_qr),
            "wechat_mp" => Some(&mut self.wechat_mp),
            "wechat_mini" => Some(&mut self.wechat_mini),
            "wechat_app" => Some(&mut self.wechat_app),
            "wechat_mini_qr" => Some(&mut self.wechat_mini_qr),
            "wechat_mp_qr" => Some(&mut self.wechat_mp_qr),
            _ => None,
        }
    }
}

/// One WeChat app's credentials and where to reach WeChat.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct WeChatAppConfig {
    pub enabled: bool,
    pub app_id: String,
    /// The AppSecret: redacted whenever the configuration is printed.
    pub secret: Secret,
    /// The callback WeChat redirects to; defaults to `external_url` + `/callback`. Its host is
    /// what you register as the app's 授权回调域.
    pub redirect_uri: Option<String>,
    pub open_base_url: String,
    pub api_base_url: String,
    /// `wechat_mini_qr`: the mini-program page a scanned code opens (no leading `/`), which
    /// confirms the login (examples/wechat-mini-program).
    pub page: String,
    /// `wechat_mini_qr`: which version of the mini-program the code opens (`release`,
    /// `trial`, `develop`); an unpublished page needs `trial` or `develop`.
    pub env_version: String,
    /// `wechat_mp_qr`: the Token of the 公众号's server configuration (基本配置 → 服务器配置),
    /// which signs its event pushes to `/wechat_mp/notify`.
    pub push_token: Secret,
    /// `wechat_mp_qr`: the EncodingAESKey (43 characters), for 安全模式 pushes; empty for
    /// 明文模式 only.
    pub encoding_aes_key: Secret,
    /// `wechat_mp_qr`: the EncodingAESKey before the last change, still accepted while WeChat
    /// switches over.
    pub previous_encoding_aes_key: Secret,
}

/// The mini-program page of examples/wechat-mini-program.
pub const DEFAULT_SCAN_LOGIN_PAGE: &str = "pages/scan-login/index";

pub const WECHAT_OPEN_BASE_URL: &str = "https://open.weixin.qq.com";
pub const WECHAT_API_BASE_URL: &str = "https://api.weixin.qq.com";

impl Default for WeChatAppConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            app_id: String::new(),
            secret: Secret::default(),
            redirect_uri: None,
            open_base_url: WECHAT_OPEN_BASE_URL.into(),
            api_base_url: WECHAT_API_BASE_URL.into(),
            page: DEFAULT_SCAN_LOGIN_PAGE.into(),
            env_version: "release".into(),
            push_token: Secret::default(),
            encoding_aes_key: Secret::default(),
            previous_encoding_aes_key: Secret::default(),
        }
    }
}

impl WeChatAppConfig {
    /// The scan logins' own fields, checked at start rather than at a user's first scan.
    fn validate_scan_login(&self, provider: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if provider == "wechat_mini_qr" {
            if self.page.is_empty() || self.page.starts_with('/') || self.page.contains('?') {
                return invalid(format!(
                    "external.wechat_mini_qr.page must be a mini-program page such as {DEFAULT_SCAN_LOGIN_PAGE} (no leading / and no query), got {:?}",
                    self.page
                ));
            }
            if !matches!(self.env_version.as_str(), "release" | "trial" | "develop") {
                return invalid(format!(
                    "external.wechat_mini_qr.env_version must be release, trial or develop, got {:?}",
                    self.env_version
                ));
            }
        }
        if provider == "wechat_mp_qr" && self.push_token.is_empty() {
            return invalid(
                "external.wechat_mp_qr needs push_token: the Token of the 公众号's server configuration, which signs its pushes to /wechat_mp/notify".into(),
            );
        }
        Ok(())
    }

    fn uses_official_urls(&self) -> bool {
        self.open_base_url.trim_end_matches('/') == WECHAT_OPEN_BASE_URL
            && self.api_base_url.trim_end_matches('/') == WECHAT_API_BASE_URL
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderToggle {
    pub enabled: bool,
}

impl Default for ProviderToggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 9999,
            database_url: "saoma.db".into(),
            sqlite_read_cache: true,
            database_wait_seconds: 30,
            site_url: "http://localhost:3000".into(),
            uri_allow_list: Vec::new(),
            external_url: "http://localhost:9999".into(),
            disable_signup: false,
            jwt: JwtConfig::default(),
            security: SecurityConfig::default(),
            mailer: MailerConfig::default(),
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
            password: PasswordConfig::default(),
            rate_limit: RateLimitConfig::default(),
            server: ServerConfig::default(),
            metrics: MetricsConfig::default(),
            wechat_simulator_allowed: false,
            external: ExternalConfig {
                email: ProviderToggle { enabled: true },
                anonymous_users: ProviderToggle { enabled: false },
                phone: ProviderToggle { enabled: true },
                wechat_qr: WeChatAppConfig::default(),
                wechat_mini_qr: WeChatAppConfig::default(),
                wechat_mp_qr: WeChatAppConfig::default(),
                wechat_mp: WeChatAppConfig::default(),
                wechat_mini: WeChatAppConfig::default(),
                wechat_app: WeChatAppConfig::default(),
            },
        }
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            secret: String::new(),
            exp: 3600,
            aud: "authenticated".into(),
            issuer: None,
            signing_key_file: None,
            kid: None,
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            refresh_token_rotation_enabled: true,
            refresh_token_reuse_interval: 10,
            manual_linking_enabled: false,
            update_password_require_reauthentication: false,
        }
    }
}

/// GoTrue's rate limits and defaults: token buckets per client IP, shared by every saoma
/// process on the same database (the limit is the cluster's). As in GoTrue they apply only
/// when `header` is set: without a proxy naming the client, saoma cannot tell clients apart.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Header carrying the client IP behind a proxy, e.g. `X-Forwarded-For`. Unset: no limits.
    pub header: Option<String>,
    /// How many proxies of yours append to `header`: the client is the address the outermost
    /// of them appended, this many entries from the right. Entries further left are whatever
    /// the client sent, so they are never trusted.
    pub trusted_proxy_hops: usize,
    /// `GET /authorize`: flows started per 5 minutes.
    pub authorize: f64,
    /// `POST /token`, all grants: requests per 5 minutes.
    pub token_refresh: f64,
    /// `/verify`: requests per 5 minutes.
    pub verify: f64,
    /// `/signup`, `PUT /user` (and the OTP family): requests per 5 minutes.
    pub otp: f64,
    /// Anonymous sign-ins per hour.
    pub anonymous_users: f64,
    /// Text messages sent per hour by the whole deployment, whoever asks (GoTrue's
    /// `GOTRUE_RATE_LIMIT_SMS_SENT`); not per client, so it holds without `header` too.
    pub sms_sent: f64,
    /// Emails sent per hour by the whole deployment (GoTrue's `GOTRUE_RATE_LIMIT_EMAIL_SENT`).
    pub email_sent: f64,
    /// Bucket size: how many requests may come at once.
    pub burst: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            header: None,
            trusted_proxy_hops: 1,
            authorize: 150.0,
            token_refresh: 150.0,
            verify: 30.0,
            otp: 30.0,
            anonymous_users: 30.0,
            sms_sent: 30.0,
            email_sent: 30.0,
            burst: 30.0,
        }
    }
}

impl RateLimitConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.trusted_proxy_hops == 0 {
            return Err(ConfigError::Invalid(
                "rate_limit.trusted_proxy_hops must be at least 1 (the proxy that sets the header)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// What one connection may take from the process: slow or oversized requests end with an error
/// instead of holding a connection (and its memory) open.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client has to send a request's headers, counted from the end of the previous
    /// response on a kept-alive connection: it is also how long an idle connection stays open.
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's body once its headers are in: 408 after.
    pub body_read_timeout: u64,
    /// Seconds a response write may make no progress (a client that does not read) before the
    /// connection is closed: without it such a client holds its connection slot forever.
    pub write_timeout: u64,
    /// Seconds graceful shutdown waits for in-flight connections before dropping them.
    pub shutdown_grace: u64,
    /// Connections served at once; beyond it new ones wait (unaccepted, in the kernel's
    /// backlog) until one closes. Keep it below the open-files limit (`ulimit -n`).
    pub max_connections: usize,
    /// Total size of a request's header fields: 431 beyond it.
    pub max_header_bytes: usize,
    /// Length of a request's path and query: 414 beyond it.
    pub max_uri_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: 10,
            body_read_timeout: 30,
            write_timeout: 30,
            shutdown_grace: 30,
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
            max_uri_bytes: 16 * 1024,
        }
    }
}

/// Prometheus metrics, on a listener of their own: never on the public API port.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 9100,
        }
    }
}

/// The longest path and query saoma can be configured to accept: hyper itself answers 414
/// (in plain text) beyond 65534 bytes.
pub const MAX_URI_BYTES_LIMIT: usize = 60 * 1024;

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            min_length: 6,
            bcrypt_cost: 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads `file` (if it exists) over the defaults, then the environment over that.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut table = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(path) = file.filter(|p| p.exists()) {
            let display = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: display.clone(),
                source,
            })?;
            let overlay: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        path: display.clone(),
                        message: e.to_string(),
                    })?;
            merge(&mut table, overlay);
        }
        // GoTrue's names first, so an existing deployment's environment works; saoma's own
        // names win where both are set.
        for var in env::gotrue_vars().into_iter().chain(env::env_vars()) {
            if let Some(raw) = env.get(&var.name) {
                let value = env::parse_env(&var, raw)?;
                env::set_path(&mut table, &var.path, value);
            }
        }
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: "configuration".into(),
                    message: e.to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.rate_limit.validate()?;
        if self.jwt.exp <= 0 {
            return Err(ConfigError::Invalid("jwt.exp must be positive".into()));
        }
        if self.security.refresh_token_reuse_interval < 0 {
            return Err(ConfigError::Invalid(
                "security.refresh_token_reuse_interval must be >= 0".into(),
            ));
        }
        self.validate_server()?;
        for provider in WECHAT_PROVIDERS {
            let Some(wechat) = self.external.wechat(provider).filter(|w| w.enabled) else {
                continue;
            };
            if wechat.app_id.is_empty() || wechat.secret.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "external.{provider} needs app_id and secret"
                )));
            }
            wechat.validate_scan_login(provider)?;
            if !wechat.uses_official_urls() && !self.wechat_simulator_allowed {
                return Err(ConfigError::Invalid(format!(
                    "external.{provider} points at {} / {} instead of WeChat; set wechat_simulator_allowed = true \
                     (SAOMA_WECHAT_SIMULATOR_ALLOWED) only if that is the simulator on purpose",
                    wechat.open_base_url, wechat.api_base_url
                )));
            }
        }
        for (name, url) in [
            ("site_url", &self.site_url),
            ("external_url", &self.external_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be an http(s) URL, got {url:?}"
                )));
            }
        }
        Ok(())
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.header_read_timeout == 0
            || server.body_read_timeout == 0
            || server.write_timeout == 0
        {
            return Err(ConfigError::Invalid(
                "server.header_read_timeout, server.body_read_timeout and server.write_timeout \
                 must be positive"
                    .into(),
            ));
        }
        if server.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "server.max_connections must be positive".into(),
            ));
        }
        if server.max_header_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "server.max_header_bytes must be at least 1024".into(),
            ));
        }
        if !(256..=MAX_URI_BYTES_LIMIT).contains(&server.max_uri_bytes) {
            return Err(ConfigError::Invalid(format!(
                "server.max_uri_bytes must be between 256 and {MAX_URI_BYTES_LIMIT}"
            )));
        }
        Ok(())
    }

    /// The `iss` claim of access tokens.
    pub fn issuer(&self) -> String {
        let base = self.external_url.trim_end_matches('/');
        self.jwt.issuer.clone().unwrap_or_else(|| {
            // GoTrue deployments often set API_EXTERNAL_URL with the /auth/v1 already in it.
            if base.ends_with("/auth/v1") {
                base.to_owned()
            } else {
                format!("{base}/auth/v1")
            }
        })
    }

    /// Where WeChat sends the browser back to.
    pub fn wechat_qr_redirect_uri(&self) -> String {
        self.wechat_redirect_uri(&self.external.wechat_qr)
    }

    /// A WeChat app's callback: its own setting, else `external_url` + `/callback`.
    pub fn wechat_redirect_uri(&self, app: &WeChatAppConfig) -> String {
        app.redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{}/callback", self.external_url.trim_end_matches('/')))
    }

    /// The database URL with any password replaced, for logs.
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &self.redacted_database_url())
            .field("sqlite_read_cache", &self.sqlite_read_cache)
            .field("site_url", &self.site_url)
            .field("uri_allow_list", &self.uri_allow_list)
            .field("external_url", &self.external_url)
            .field("disable_signup", &self.disable_signup)
            .field(
                "jwt.secret",
                &if self.jwt.secret.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .field("jwt.exp", &self.jwt.exp)
            .field("jwt.signing_key_file", &self.jwt.signing_key_file)
            .field(
                "security.refresh_token_reuse_interval",
                &self.security.refresh_token_reuse_interval,
            )
            .field("mailer", &self.mailer)
            .field("smtp", &self.smtp)
            .field("sms", &self.sms)
            .field("external", &self.external)
            .field("server", &self.server)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(incoming)) => {
                merge(existing, incoming)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("saoma.toml");
        std::fs::write(
            &file,
            "port = 8000\n[jwt]\nexp = 60\n[external.anonymous_users]\nenabled = true\n",
        )
        .expect("write");
        let config = Config::load(
            Some(&file),
            &env(&[("SAOMA_JWT_EXP", "120"), ("SAOMA_URI_ALLOW_LIST", "a, b")]),
        )
        .expect("load");
        assert_eq!(config.port, 8000);
        assert_eq!(config.jwt.exp, 120);
        assert!(config.external.anonymous_users.enabled);
        assert_eq!(
            config.uri_allow_list,
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(config.security.refresh_token_reuse_interval, 10);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_errors() {
        assert!(Config::load(None, &env(&[("SAOMA_PORT", "eighty")])).is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("saoma.toml");
        std::fs::write(&file, "prot = 1\n").expect("write");
        assert!(Config::load(Some(&file), &BTreeMap::new()).is_err());
    }

    #[test]
    fn an_unknown_provider_is_an_error_not_a_silent_omission() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("saoma.toml");
        std::fs::write(
            &file,
            "[external.github]\nenabled = true\napp_id = \"x\"\nsecret = \"y\"\n",
        )
        .expect("write");
        let refused = Config::load(Some(&file), &BTreeMap::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("github"), "{refused}");
        assert_eq!(
            unknown_env_names(&env(&[("SAOMA_EXTERNAL_GITHUB_ENABLED", "true")])),
            vec!["SAOMA_EXTERNAL_GITHUB_ENABLED".to_string()]
        );
    }

    #[test]
    fn misspelt_names_are_reported() {
        let names = unknown_env_names(&env(&[
            ("SAOMA_JWT_SECRT", "x"),
            ("SAOMA_PORT", "1"),
            ("HOME", "/"),
        ]));
        assert_eq!(names, vec!["SAOMA_JWT_SECRT".to_string()]);
    }

    #[test]
    fn simulator_urls_need_explicit_permission() {
        let wechat = [
            ("SAOMA_EXTERNAL_WECHAT_QR_ENABLED", "true"),
            ("SAOMA_EXTERNAL_WECHAT_QR_APP_ID", "wx1"),
            ("SAOMA_EXTERNAL_WECHAT_QR_SECRET", "s"),
            (
                "SAOMA_EXTERNAL_WECHAT_QR_OPEN_BASE_URL",
                "http://localhost:9999/wechat-sim",
            ),
            (
                "SAOMA_EXTERNAL_WECHAT_QR_API_BASE_URL",
                "http://localhost:9999/wechat-sim",
            ),
        ];
        let refused = Config::load(None, &env(&wechat))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("wechat_simulator_allowed"), "{refused}");
        let mut allowed = wechat.to_vec();
        allowed.push(("SAOMA_WECHAT_SIMULATOR_ALLOWED", "true"));
        assert!(Config::load(None, &env(&allowed)).is_ok());
        // WeChat's own URLs need no permission.
        assert!(Config::load(None, &env(&wechat[..3])).is_ok());
    }

    #[test]
    fn a_gotrue_environment_works_and_saoma_names_win() {
        let vars = env(&[
            (
                "GOTRUE_JWT_SECRET",
                "gotrue-secret-that-is-long-enough-0123456789",
            ),
            ("GOTRUE_JWT_EXP", "600"),
            ("GOTRUE_SITE_URL", "https://app.example.com"),
            (
                "GOTRUE_URI_ALLOW_LIST",
                "https://*.example.com/**,myapp://cb",
            ),
            ("API_EXTERNAL_URL", "https://auth.example.com/auth/v1"),
            ("GOTRUE_DISABLE_SIGNUP", "true"),
            ("GOTRUE_MAILER_AUTOCONFIRM", "true"),
            ("GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL", "5"),
            ("GOTRUE_RATE_LIMIT_HEADER", "X-Forwarded-For"),
            ("GOTRUE_EXTERNAL_WECHAT_QR_ENABLED", "true"),
            ("GOTRUE_EXTERNAL_WECHAT_QR_CLIENT_ID", "wx123"),
            ("GOTRUE_EXTERNAL_WECHAT_QR_SECRET", "s"),
            ("GOTRUE_SAML_ENABLED", "true"),
            ("GOTRUE_SMTP_HOST", "smtp.exmail.qq.com"),
            ("GOTRUE_SMTP_PORT", "465"),
            ("GOTRUE_SMTP_ADMIN_EMAIL", "noreply@example.cn"),
            ("GOTRUE_SMTP_MAX_FREQUENCY", "1m30s"),
            ("GOTRUE_MAILER_OTP_LENGTH", "8"),
            ("GOTRUE_MAILER_SUBJECTS_MAGIC_LINK", "Your link"),
            (
                "GOTRUE_MAILER_TEMPLATES_RECOVERY",
                "/etc/saoma/recovery.html",
            ),
            ("GOTRUE_HOOK_SEND_EMAIL_ENABLED", "false"),
            ("GOTRUE_RATE_LIMIT_EMAIL_SENT", "100"),
            (
                "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION",
                "true",
            ),
            ("PORT", "8081"),
            ("SAOMA_JWT_EXP", "900"),
        ]);
        let config = Config::load(None, &vars).expect("load");
        assert_eq!(
            config.jwt.secret,
            "gotrue-secret-that-is-long-enough-0123456789"
        );
        assert_eq!(config.jwt.exp, 900, "SAOMA_* wins over GOTRUE_*");
        assert_eq!(config.site_url, "https://app.example.com");
        assert_eq!(
            config.uri_allow_list,
            vec![
                "https://*.example.com/**".to_string(),
                "myapp://cb".to_string()
            ]
        );
        assert_eq!(
            config.issuer(),
            "https://auth.example.com/auth/v1",
            "API_EXTERNAL_URL is the external URL"
        );
        assert!(config.disable_signup && config.mailer.autoconfirm);
        assert_eq!(config.security.refresh_token_reuse_interval, 5);
        assert_eq!(config.rate_limit.header.as_deref(), Some("X-Forwarded-For"));
        assert_eq!(config.external.wechat_qr.app_id, "wx123");
        assert_eq!(config.port, 8081);
        assert_eq!(config.smtp.host, "smtp.exmail.qq.com");
        assert_eq!(config.smtp.port, 465);
        assert_eq!(config.smtp.admin_email, "noreply@example.cn");
        assert_eq!(config.smtp.max_frequency, 90);
        assert_eq!(config.mailer.otp_length, 8);
        assert_eq!(config.mailer.subjects.magic_link, "Your link");
        assert_eq!(config.mailer.templates.recovery, "/etc/saoma/recovery.html");
        assert_eq!(config.rate_limit.email_sent, 100.0);
        assert!(config.security.update_password_require_reauthentication);
        assert_eq!(
            unsupported_gotrue_names(&vars),
            vec!["GOTRUE_SAML_ENABLED".to_string()]
        );
    }

    #[test]
    fn trusted_proxy_hops_is_at_least_one() {
        let config = Config::load(None, &env(&[("SAOMA_RATE_LIMIT_TRUSTED_PROXY_HOPS", "2")]))
            .expect("load");
        assert_eq!(config.rate_limit.trusted_proxy_hops, 2);
        let refused = Config::load(None, &env(&[("SAOMA_RATE_LIMIT_TRUSTED_PROXY_HOPS", "0")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("trusted_proxy_hops"), "{refused}");
    }

    #[test]
    fn secrets_never_print() {
        let mut config = Config::default();
        config.jwt.secret = "topsecretvalue".into();
        config.database_url = "postgres://app:hunter2@db/auth".into();
        config.external.wechat_qr.app_id = "wx-visible-app-id".into();
        config.external.wechat_qr.secret = "wechat-app-secret".into();
        // A test number's fixed code signs anyone in as that number's user.
        config.sms.test_otp = "8613800000000:424242".into();
        config.smtp.pass = "smtp-password-value".into();
        config.mailer.hook.secrets = "v1,whsec_bWFpbGhvb2s=".into();
        let printed = format!("{config:?}");
        for secret in [
            "topsecretvalue",
            "hunter2",
            "wechat-app-secret",
            "424242",
            "smtp-password-value",
            "whsec_",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        // The providers' sections are printed (an operator sees what is set up), bar secrets.
        assert!(printed.contains("wx-visible-app-id"), "{printed}");
    }
}
