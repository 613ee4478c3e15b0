//! The simulator handle: configuration plus in-memory state, shared by every route.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::SimConfig;
use crate::domain::State;
use crate::faults::Faults;
use crate::{http, ids};

/// A running simulator's state; cheap to clone (all clones share it).
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub config: SimConfig,
    state: Mutex<State>,
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
        let shared = Shared {
            config,
            state: Mutex::new(State::default()),
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
}
