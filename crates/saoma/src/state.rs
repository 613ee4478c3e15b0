//! Everything a request handler may touch, built once at start-up and shared.

use std::sync::Arc;

use chrono::Duration;

use crate::{
    clock::SharedClock,
    config::Config,
    domain::{
        one_time_token::LinkKey,
        refresh::{RefreshTokenKey, RotationPolicy},
    },
    jwt::JwtKeys,
    mail::SharedMailer,
    metrics::Metrics,
    providers::Providers,
    sms::SharedSmsSender,
    store::SharedStore,
};

pub struct AppState {
    pub config: Config,
    pub store: SharedStore,
    pub keys: JwtKeys,
    pub refresh_key: RefreshTokenKey,
    /// Keys the hashes of emailed codes (also their links' tokens).
    pub link_key: LinkKey,
    pub clock: SharedClock,
    pub providers: Providers,
    /// The gateway phone sign-in's codes go through; `None` when none is configured.
    pub sms: Option<SharedSmsSender>,
    /// What the email flows' mail goes through; `None` when nothing can send mail.
    pub mailer: Option<SharedMailer>,
    pub metrics: Metrics,
    /// The `iss` claim, computed once.
    pub issuer: String,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn rotation_policy(&self) -> RotationPolicy {
        RotationPolicy {
            rotation_enabled: self.config.security.refresh_token_rotation_enabled,
            reuse_interval: Duration::seconds(self.config.security.refresh_token_reuse_interval),
        }
    }
}
