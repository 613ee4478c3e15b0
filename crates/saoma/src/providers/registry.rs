//! The registry: one line per provider, naming its `external.<name>` section and the function
//! that builds it from configuration. A new OAuth2/OIDC provider is a module, its section in
//! `ExternalConfig`, one line in [`REGISTRY`] and its tests; the handlers ask the registry by
//! name and never branch on a provider.

use std::{collections::BTreeMap, sync::Arc};

use super::{
    wechat, AppTokenShelf, CodeLogin, MiniProgramCodes, OAuthProvider, PhoneNumbers, ScanLogin,
};
use crate::{
    clock::SystemClock,
    config::{Config, WECHAT_PROVIDERS},
    store::AppTokenStore,
};

/// What builds one provider: `Ok(None)` when its section is disabled.
type Build = fn(&Setup<'_>) -> anyhow::Result<Option<Capabilities>>;

/// Every provider saoma has, by the name of its configuration section (which is also the
/// `provider=` of `/authorize` and the `provider` of its identities).
const REGISTRY: &[(&str, Build)] = &[
    ("wechat_qr", wechat::setup::qr),
    ("wechat_mp", wechat::setup::official_account),
    ("wechat_mini", wechat::setup::mini_program),
    ("wechat_app", wechat::setup::mobile_app),
    ("wechat_mini_qr", wechat::setup::mini_program_scan),
    ("wechat_mp_qr", wechat::setup::official_account_scan),
];

/// What a provider's constructor is given.
pub struct Setup<'a> {
    /// The registry line's name: the section to read.
    pub name: &'static str,
    pub config: &'a Config,
    pub outbound: &'a Outbound,
    /// App access tokens shared by every node (WeChat's `stable_token`).
    pub app_tokens: &'a Arc<AppTokenShelf>,
}

/// What one enabled provider offers; a provider fills in the parts it has.
#[derive(Default)]
pub struct Capabilities {
    /// A browser flow: `/authorize`, then `/callback`.
    pub browser: Option<Arc<dyn OAuthProvider>>,
    /// A login from a code the provider's SDK gave an app.
    pub code_login: Option<Arc<dyn CodeLogin>>,
    /// A verified phone number from a consent code.
    pub phone_numbers: Option<Arc<dyn PhoneNumbers>>,
    /// A website login by scanning a code with the provider's app.
    pub scan_login: Option<Arc<dyn ScanLogin>>,
    /// Mini-program codes drawn for the app (`/wechat_mini/unlimited_qrcode`).
    pub mini_program_codes: Option<Arc<dyn MiniProgramCodes>>,
}

/// Where providers' outbound HTTP goes instead of the configured base URLs: tests point a
/// provider at a local fake (the WeChat simulator) without rewriting configuration strings.
#[derive(Clone, Debug, Default)]
pub struct Outbound {
    base_urls: BTreeMap<String, String>,
}

impl Outbound {
    /// Sends `provider`'s calls (for WeChat, its browser pages too) to `base_url`.
    pub fn with_base_url(mut self, provider: &str, base_url: impl Into<String>) -> Self {
        self.base_urls.insert(provider.to_owned(), base_url.into());
        self
    }

    /// Every WeChat provider at one place (the simulator serves all of WeChat's URLs).
    pub fn wechat_at(base_url: &str) -> Self {
        WECHAT_PROVIDERS
            .iter()
            .fold(Self::default(), |outbound, name| {
                outbound.with_base_url(name, base_url)
            })
    }

    /// The base URL that replaces `provider`'s configured ones, if any.
    pub fn base_url(&self, provider: &str) -> Option<&str> {
        self.base_urls.get(provider).map(String::as_str)
    }
}

/// The enabled providers, by name and by what they can do.
#[derive(Clone)]
pub struct Providers {
    browser: BTreeMap<&'static str, Arc<dyn OAuthProvider>>,
    code_login: BTreeMap<&'static str, Arc<dyn CodeLogin>>,
    phone_numbers: BTreeMap<&'static str, Arc<dyn PhoneNumbers>>,
    scan_login: BTreeMap<&'static str, Arc<dyn ScanLogin>>,
    mini_program_codes: BTreeMap<&'static str, Arc<dyn MiniProgramCodes>>,
    enabled: Vec<&'static str>,
    app_tokens: Arc<AppTokenShelf>,
}

impl Default for Providers {
    fn default() -> Self {
        Self::empty(AppTokenShelf::new(Arc::new(SystemClock), b""))
    }
}

impl Providers {
    /// Builds every enabled provider, each reaching the base URLs its section configures.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Self::build(config, &Outbound::default())
    }

    /// Builds every enabled provider, with `outbound`'s base URLs replacing configured ones.
    pub fn build(config: &Config, outbound: &Outbound) -> anyhow::Result<Self> {
        build_from(REGISTRY, config, outbound)
    }

    fn empty(app_tokens: Arc<AppTokenShelf>) -> Self {
        Self {
            browser: BTreeMap::new(),
            code_login: BTreeMap::new(),
            phone_numbers: BTreeMap::new(),
            scan_login: BTreeMap::new(),
            mini_program_codes: BTreeMap::new(),
            enabled: Vec::new(),
            app_tokens,
        }
    }

    /// Gives the providers the database, where app access tokens are shared with the other
    /// nodes (the providers are built before it is open).
    pub fn attach_store(&self, store: Arc<dyn AppTokenStore>) {
        self.app_tokens.attach(store);
    }

    /// Adds a browser provider under its own name (tests add fakes this way).
    pub fn insert(&mut self, provider: Arc<dyn OAuthProvider>) {
        self.register(
            provider.name(),
            Capabilities {
                browser: Some(provider),
                ..Capabilities::default()
            },
        );
    }

    fn register(&mut self, name: &'static str, capabilities: Capabilities) {
        if let Some(browser) = capabilities.browser {
            self.browser.insert(name, browser);
        }
        if let Some(code_login) = capabilities.code_login {
            self.code_login.insert(name, code_login);
        }
        if let Some(phone_numbers) = capabilities.phone_numbers {
            self.phone_numbers.insert(name, phone_numbers);
        }
        if let Some(scan_login) = capabilities.scan_login {
            self.scan_login.insert(name, scan_login);
        }
        if let Some(codes) = capabilities.mini_program_codes {
            self.mini_program_codes.insert(name, codes);
        }
        if !self.enabled.contains(&name) {
            self.enabled.push(name);
        }
    }

    /// The browser provider named `name`, exactly (a callback finishing the flow it started).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn OAuthProvider>> {
        self.browser.get(name)
    }

    /// The provider a browser with this `User-Agent` should use when it asks for `name`:
    /// `name` itself, unless that provider says another one works better in this browser
    /// (WeChat's QR login inside WeChat, where a QR code cannot be scanned) and that one is
    /// enabled. `None` when `name` is not an enabled browser provider.
    pub fn for_browser(
        &self,
        name: &str,
        user_agent: Option<&str>,
    ) -> Option<&Arc<dyn OAuthProvider>> {
        let asked = self.browser.get(name)?;
        let alternative = user_agent
            .and_then(|agent| asked.in_app_browser_alternative(agent))
            .and_then(|other| self.browser.get(other));
        Some(alternative.unwrap_or(asked))
    }

    /// The code-only login named `name` (`wechat_mini`, `wechat_app`), when enabled.
    pub fn code_login(&self, name: &str) -> Option<&Arc<dyn CodeLogin>> {
        self.code_login.get(name)
    }

    /// The phone-number lookup of provider `name` (`wechat_mini`), when enabled.
    pub fn phone_numbers(&self, name: &str) -> Option<&Arc<dyn PhoneNumbers>> {
        self.phone_numbers.get(name)
    }

    /// The scan-to-log-in provider named `name` (`wechat_mini_qr`, `wechat_mp_qr`).
    pub fn scan_login(&self, name: &str) -> Option<&Arc<dyn ScanLogin>> {
        self.scan_login.get(name)
    }

    /// The mini-program whose codes `name` draws (`wechat_mini`).
    pub fn mini_program_codes(&self, name: &str) -> Option<&Arc<dyn MiniProgramCodes>> {
        self.mini_program_codes.get(name)
    }

    /// Every enabled provider's name, for `/settings`.
    pub fn enabled(&self) -> Vec<&'static str> {
        self.enabled.clone()
    }
}

/// Builds the providers of `table` that `config` enables. An enabled section without a line
/// in the table, or an outbound override for a name without one, is an error: a provider that
/// is configured but never built would fail only when a user tries it.
fn build_from(
    table: &[(&'static str, Build)],
    config: &Config,
    outbound: &Outbound,
) -> anyhow::Result<Providers> {
    let registered = |name: &str| table.iter().any(|(line, _)| *line == name);
    for name in WECHAT_PROVIDERS {
        let enabled = config.external.wechat(name).is_some_and(|s| s.enabled);
        if enabled && !registered(name) {
            anyhow::bail!("external.{name} is enabled, but saoma has no provider of that name");
        }
    }
    if let Some(name) = outbound
        .base_urls
        .keys()
        .find(|name| !registered(name.as_str()))
    {
        anyhow::bail!("an outbound base URL names {name:?}, which is no provider");
    }
    // Tokens are the system's time, as WeChat's: a test's manual clock does not age them.
    let app_tokens = AppTokenShelf::new(Arc::new(SystemClock), config.jwt.secret.as_bytes());
    let mut providers = Providers::empty(app_tokens.clone());
    for &(name, build) in table {
        let setup = Setup {
            name,
            config,
            outbound,
            app_tokens: &app_tokens,
        };
        let Some(capabilities) = build(&setup)? else {
            continue;
        };
        let names = [
            capabilities.browser.as_ref().map(|p| p.name()),
            capabilities.code_login.as_ref().map(|p| p.name()),
            capabilities.phone_numbers.as_ref().map(|p| p.name()),
            capabilities.scan_login.as_ref().map(|p| p.name()),
            capabilities.mini_program_codes.as_ref().map(|p| p.name()),
        ];
        if let Some(other) = names.into_iter().flatten().find(|other| *other != name) {
            anyhow::bail!("the registry's {name} line built a provider named {other}");
        }
        providers.register(name, capabilities);
    }
    Ok(providers)
}

#[cfg(test)]
mod tests;
