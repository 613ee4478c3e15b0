//! The simulator handle: configuration plus in-memory state, shared by every route.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::config::{AppKind, PushConfig, SimConfig};
use crate::domain::app_tokens::TokenStats;
use crate::domain::State;
use crate::faults::Faults;
use crate::push::PushAttempt;
use crate::{http, ids};

/// A running simulator's state; cheap to clone (all clones share it).
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub config: SimConfig,
    state: Mutex<State>,
    /// What the simulator calls apps' servers with (pushes, the mini-program's requests).
    pub http: reqwest::Client,
}

impl Shared {
    /// The state; a panic while it was held leaves it usable (it is only maps and counters).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An absolute URL of one of the simulator's routes; `path` starts with '/'.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.public_url)
    }
}

impl Simulator {
    pub fn new(mut config: SimConfig) -> Self {
        // URLs are built as public_url + "/path"; a trailing slash would double it.
        let trimmed = config.public_url.trim_end_matches('/').len();
        config.public_url.truncate(trimmed);
        let mut state = State::default();
        for app in &config.apps {
            if let Some(url) = &app.server_url {
                state.server_urls.insert(app.appid.clone(), url.clone());
            }
            if let Some(push) = &app.push {
                state.push_configs.insert(app.appid.clone(), push.clone());
            }
        }
        // The servers are the developer's own: proxies from the environment would only get
        // in the way of reaching localhost.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let shared = Shared {
            config,
            state: Mutex::new(state),
            http,
        };
        Simulator {
            shared: Arc::new(shared),
        }
    }

    /// Every route, relative to wherever the router is mounted.
    pub fn router(&self) -> axum::Router {
        http::router(self.shared.clone())
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// The openid `persona` has at `appid`; `None` if either is not configured.
    pub fn openid(&self, appid: &str, persona_id: &str) -> Option<String> {
        let config = &self.shared.config;
        config.app(appid)?;
        config.persona(persona_id)?;
        Some(ids::openid(appid, persona_id))
    }

    /// The unionid `persona` has through `appid`; `None` when the app has no open platform.
    pub fn unionid(&self, appid: &str, persona_id: &str) -> Option<String> {
        let config = &self.shared.config;
        let platform = config.app(appid)?.open_platform.as_deref()?;
        config.persona(persona_id)?;
        Some(ids::unionid(platform, persona_id))
    }

    /// Counters of the app's `cgi-bin/token` and `cgi-bin/stable_token` calls.
    pub fn token_stats(&self, appid: &str) -> TokenStats {
        self.shared.lock().app_tokens.stats(appid)
    }

    /// Every live access token of `appid` (both families) expires now: its next use
    /// answers 42001.
    pub fn expire_app_tokens(&self, appid: &str) {
        self.shared
            .lock()
            .app_tokens
            .expire_app(appid, Instant::now());
    }

    /// Where the mini-program `appid` sends its requests (its request domain, e.g. saoma's
    /// `http://localhost:9999/auth/v1`); `false` if `appid` is not a mini-program.
    pub fn set_server_url(&self, appid: &str, url: &str) -> bool {
        set_server_url(&self.shared, appid, url)
    }

    /// The 公众号 `appid`'s push configuration; `false` if `appid` is not a 公众号.
    pub fn set_push(&self, appid: &str, push: PushConfig) -> bool {
        set_push(&self.shared, appid, push)
    }

    /// Makes `persona` follow (or unfollow) the 公众号 `appid`, without any push; `false`
    /// if either is unknown or `appid` is not a 公众号.
    pub fn set_following(&self, appid: &str, persona: &str, following: bool) -> bool {
        set_following(&self.shared, appid, persona, following)
    }

    /// Whether `persona` follows the 公众号 `appid`.
    pub fn is_following(&self, appid: &str, persona: &str) -> bool {
        self.shared.lock().official_accounts.follows(appid, persona)
    }

    /// The live `qrcode/create` ticket of the 公众号 `appid` for `scene`.
    pub fn qr_ticket_for_scene(&self, appid: &str, scene: &str) -> Option<String> {
        self.shared
            .lock()
            .official_accounts
            .ticket_for_scene(appid, scene, Instant::now())
            .map(str::to_owned)
    }

    /// Every push attempt to `appid`'s server, oldest first.
    pub fn push_log(&self, appid: &str) -> Vec<PushAttempt> {
        self.shared
            .lock()
            .push_log
            .get(appid)
            .cloned()
            .unwrap_or_default()
    }
}

/// The shared halves of [`Simulator`]'s setters, for the `/sim/apps/…` routes too.
pub(crate) fn set_server_url(shared: &Shared, appid: &str, url: &str) -> bool {
    let is_mini = shared
        .config
        .app(appid)
        .is_some_and(|app| app.kind == AppKind::MiniProgram);
    if is_mini {
        let url = url.trim_end_matches('/').to_owned();
        shared.lock().server_urls.insert(appid.to_owned(), url);
    }
    is_mini
}

pub(crate) fn set_push(shared: &Shared, appid: &str, push: PushConfig) -> bool {
    let is_mp = is_official_account(shared, appid);
    if is_mp {
        shared.lock().push_configs.insert(appid.to_owned(), push);
    }
    is_mp
}

pub(crate) fn set_following(shared: &Shared, appid: &str, persona: &str, following: bool) -> bool {
    let known = is_official_account(shared, appid) && shared.config.persona(persona).is_some();
    if known {
        shared.lock().official_accounts.set_following(
            appid,
            persona,
            following,
            crate::domain::unix_now(),
        );
    }
    known
}

fn is_official_account(shared: &Shared, appid: &str) -> bool {
    shared
        .config
        .app(appid)
        .is_some_and(|app| app.kind == AppKind::OfficialAccount)
}
