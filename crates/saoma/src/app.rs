//! Building and running the server: store, keys, router and listener.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    clock::{SharedClock, SystemClock},
    config::Config,
    domain::{one_time_token::LinkKey, refresh::RefreshTokenKey},
    http::{self, serve},
    jwt::JwtKeys,
    mail::SharedMailer,
    providers::{Outbound, Providers},
    sms::SharedSmsSender,
    state::{AppState, SharedState},
    store, sweeper,
};

/// How often expired flows, idle rate-limit buckets and ended sessions are deleted.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Application {
    listener: TcpListener,
    /// Prometheus metrics, apart from the API (`metrics.enabled`).
    metrics_listener: Option<TcpListener>,
    state: SharedState,
    /// Routers served beside the API, by the path they are nested at.
    extra: Vec<(String, axum::Router)>,
}

/// Everything an [`Application`] is built from: the configuration, and what tests replace
/// (time, where outbound HTTP goes, the SMS gateway, the mailer).
pub struct ApplicationBuilder {
    config: Config,
    clock: SharedClock,
    injected: Injected,
    listener: Option<TcpListener>,
}

/// What a builder replaces of what the configuration would build.
#[derive(Default)]
struct Injected {
    outbound: Outbound,
    sms: Option<SharedSmsSender>,
    mailer: Option<SharedMailer>,
}

impl ApplicationBuilder {
    /// The clock every expiry and timestamp reads (default: the system's).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Base URLs that replace the providers' configured ones (default: none).
    pub fn outbound(mut self, outbound: Outbound) -> Self {
        self.injected.outbound = outbound;
        self
    }

    /// The SMS gateway phone sign-in sends codes through (default: the one `sms.provider`
    /// configures).
    pub fn sms_sender(mut self, sender: SharedSmsSender) -> Self {
        self.injected.sms = Some(sender);
        self
    }

    /// What the email flows' mail goes through (default: the one `[smtp]`, the Send Email
    /// hook or the dev mailbox configures).
    pub fn mailer(mut self, mailer: SharedMailer) -> Self {
        self.injected.mailer = Some(mailer);
        self
    }

    /// Serves on a listener bound beforehand (when the configuration needs to know the port,
    /// e.g. for the external URL) instead of binding `host:port`.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Binds the listener (port 0 picks a free one), connects the store, applies migrations
    /// and builds the providers.
    pub async fn build(self) -> anyhow::Result<Application> {
        let listener = match self.listener {
            Some(listener) => listener,
            None => {
                let address = format!("{}:{}", self.config.host, self.config.port);
                TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?
            }
        };
        let metrics_listener = bind_metrics(&self.config).await?;
        let state = build_state_with(self.config, self.clock, self.injected).await?;
        Ok(Application {
            listener,
            metrics_listener,
            state,
            extra: Vec::new(),
        })
    }
}

impl Application {
    /// Starts building an application from `config`, with the system clock and the
    /// configured base URLs unless told otherwise.
    pub fn builder(config: Config) -> ApplicationBuilder {
        ApplicationBuilder {
            config,
            clock: Arc::new(SystemClock),
            injected: Injected::default(),
            listener: None,
        }
    }

    /// Connects the store, applies migrations and binds the listener (port 0 picks a free one).
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        Self::builder(config).clock(clock).build().await
    }

    /// Serves on a listener bound beforehand (when the configuration needs to know the port,
    /// e.g. for the external URL).
    pub async fn with_listener(
        config: Config,
        clock: SharedClock,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        Self::builder(config)
            .clock(clock)
            .listener(listener)
            .build()
            .await
    }

    /// Serves another router beside the API, at `path` (`saoma dev`: the WeChat simulator,
    /// the mailbox); each call adds one.
    pub fn mount(mut self, path: &str, router: axum::Router) -> Self {
        self.extra.push((path.to_owned(), router));
        self
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let _sweeper = sweeper::spawn(self.state.clone(), SWEEP_EVERY);
        let limits = serve::Limits::from_config(&self.state.config.server);
        // The metrics listener stops when the API's is told to.
        let (api_stopped, metrics_stop) = tokio::sync::watch::channel(());
        let metrics = self.metrics_listener.map(|listener| {
            let router = http::metrics_router(self.state.clone());
            let limits = serve::Limits {
                max_connections: METRICS_MAX_CONNECTIONS,
                ..limits.clone()
            };
            let mut stop = metrics_stop;
            tokio::spawn(serve::serve(listener, router, limits, async move {
                let _ = stop.changed().await;
            }))
        });
        let mut router = http::router(self.state);
        for (path, extra) in self.extra {
            router = axum::Router::new().nest(&path, extra).merge(router);
        }
        // Both listeners start their graceful shutdown at the same moment.
        let shutdown = async move {
            shutdown.await;
            drop(api_stopped);
        };
        serve::serve(self.listener, router, limits, shutdown).await;
        if let Some(metrics) = metrics {
            metrics.await?;
        }
        Ok(())
    }
}

/// Scrapers are few: a small bound keeps a flood on this port from costing much.
const METRICS_MAX_CONNECTIONS: usize = 64;

async fn bind_metrics(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    if !config.metrics.enabled {
        return Ok(None);
    }
    let address = format!("{}:{}", config.metrics.host, config.metrics.port);
    // Metrics are an aid, not the service: a taken port (another saoma on this machine) costs
    // the metrics, with a warning, not the start.
    let listener = match TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(
                %address,
                error = %err,
                "metrics not served: cannot bind (set metrics.host / metrics.port, or \
                 metrics.enabled = false)"
            );
            return Ok(None);
        }
    };
    if let Ok(bound) = listener.local_addr() {
        tracing::info!(address = %bound, "metrics at /metrics");
    }
    Ok(Some(listener))
}

/// The shared state, providers reaching their configured base URLs.
pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<SharedState> {
    build_state_with(config, clock, Injected::default()).await
}

async fn build_state_with(
    config: Config,
    clock: SharedClock,
    injected: Injected,
) -> anyhow::Result<SharedState> {
    // Before the database: a provider misconfigured is reported at once, not after the wait.
    let providers = Providers::build(&config, &injected.outbound)?;
    let sms = match injected.sms {
        Some(sender) => Some(sender),
        None => crate::sms::from_config(&config.sms)?,
    };
    let mailer = match injected.mailer {
        Some(mailer) => Some(mailer),
        None => crate::mail::from_config(&config)?,
    };
    let signing_pem = match &config.jwt.signing_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading jwt.signing_key_file {path}"))?,
        ),
        None => None,
    };
    let keys = JwtKeys::new(
        &config.jwt.secret,
        signing_pem
            .as_deref()
            .map(|pem| (pem, config.jwt.kid.as_deref())),
    )?;
    let options = store::StoreOptions {
        sqlite_read_cache: config.sqlite_read_cache,
    };
    let wait = std::time::Duration::from_secs(config.database_wait_seconds);
    let store = store::connect_waiting(&config.database_url, options, wait)
        .await
        .with_context(|| format!("opening database {}", config.redacted_database_url()))?;
    store.migrate().await.context("applying migrations")?;
    providers.attach_store(store.clone());
    let refresh_key = RefreshTokenKey::derive(config.jwt.secret.as_bytes());
    let link_key = LinkKey::derive(config.jwt.secret.as_bytes());
    let issuer = config.issuer();
    Ok(Arc::new(AppState {
        config,
        store,
        keys,
        refresh_key,
        link_key,
        clock,
        issuer,
        providers,
        sms,
        mailer,
        metrics: Default::default(),
    }))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
