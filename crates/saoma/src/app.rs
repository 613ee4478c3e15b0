//! Building and running the server: store, keys, router and listener.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    clock::SharedClock,
    config::Config,
    domain::refresh::RefreshTokenKey,
    http,
    jwt::JwtKeys,
    providers::Providers,
    state::{AppState, SharedState},
    store, sweeper,
};

/// How often expired flows, idle rate-limit buckets and ended sessions are deleted.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Application {
    listener: TcpListener,
    state: SharedState,
    extra: Option<(String, axum::Router)>,
}

impl Application {
    /// Connects the store, applies migrations and binds the listener (port 0 picks a free one).
    pub async fn build(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        Self::with_listener(config, clock, listener).await
    }

    /// Serves on a listener bound beforehand (when the configuration needs to know the port,
    /// e.g. for the external URL).
    pub async fn with_listener(
        config: Config,
        clock: SharedClock,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let state = build_state(config, clock).await?;
        Ok(Self {
            listener,
            state,
            extra: None,
        })
    }

    /// Serves another router beside the API (the WeChat simulator in `saoma dev`).
    pub fn mount(mut self, path: &str, router: axum::Router) -> Self {
        self.extra = Some((path.to_owned(), router));
        self
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
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
        let mut router = http::router(self.state);
        if let Some((path, extra)) = self.extra {
            router = axum::Router::new().nest(&path, extra).merge(router);
        }
        // The peer address is the client IP when no proxy header is configured.
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<SharedState> {
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
    let refresh_key = RefreshTokenKey::derive(config.jwt.secret.as_bytes());
    let issuer = config.issuer();
    let providers = Providers::from_config(&config)?;
    Ok(Arc::new(AppState {
        config,
        store,
        keys,
        refresh_key,
        clock,
        issuer,
        providers,
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
