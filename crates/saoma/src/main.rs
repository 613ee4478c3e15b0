use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};
use saoma::{app, clock::SystemClock, config, jwt::JwtKeys, keys, Application, Config};

#[derive(Parser)]
#[command(
    name = "saoma",
    version,
    about = "GoTrue-compatible auth server with first-class WeChat login"
)]
struct Cli {
    /// Configuration file; read when it exists.
    #[arg(
        long,
        global = true,
        env = "SAOMA_CONFIG",
        default_value = "saoma.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print an anon key and a service_role key for the configured JWT secret.
    Keys,
    /// Run a local development server: SQLite, a fixed development secret, auto-confirmed
    /// sign-ups and anonymous sign-ins, on 127.0.0.1:9999.
    Dev,
}

/// Development only: printed by `saoma dev`, refused by nothing, so never use it elsewhere.
const DEV_JWT_SECRET: &str = "saoma-dev-secret-do-not-use-in-production-0123456789";

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("saoma: {err:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    init_tracing(&env);
    for name in config::unknown_env_names(&env) {
        tracing::warn!("ignoring unknown environment variable {name}: is it misspelt?");
    }
    let command = cli.command.unwrap_or(Command::Serve);
    let mut config = Config::load(Some(&cli.config), &env)?;
    if matches!(command, Command::Dev) {
        apply_dev_defaults(&mut config, &env);
    }
    match command {
        Command::Serve | Command::Dev => serve(config, matches!(command, Command::Dev)).await,
        Command::Migrate => {
            let store = saoma::store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!("migrations applied to {}", config.redacted_database_url());
            Ok(())
        }
        Command::Keys => {
            require_secret(&config)?;
            let jwt = JwtKeys::new(&config.jwt.secret, None)?;
            let now = chrono::Utc::now();
            println!("anon key:         {}", keys::api_key(&jwt, "anon", now)?);
            println!(
                "service_role key: {}",
                keys::api_key(&jwt, "service_role", now)?
            );
            Ok(())
        }
    }
}

fn apply_dev_defaults(config: &mut Config, env: &BTreeMap<String, String>) {
    if config.jwt.secret.is_empty() {
        config.jwt.secret = DEV_JWT_SECRET.into();
    }
    if !env.contains_key("SAOMA_HOST") {
        config.host = "127.0.0.1".into();
    }
    config.mailer.autoconfirm = true;
    config.external.anonymous_users.enabled = true;
    if config.uri_allow_list.is_empty() {
        config.uri_allow_list = vec!["http://localhost:3000/**".into()];
    }
}

fn require_secret(config: &Config) -> anyhow::Result<()> {
    if config.jwt.secret.is_empty() {
        anyhow::bail!(
            "no JWT secret: set SAOMA_JWT_SECRET (at least 32 characters) or jwt.secret in the config file; \
             `saoma dev` runs with a development secret"
        );
    }
    Ok(())
}

async fn serve(config: Config, dev: bool) -> anyhow::Result<()> {
    require_secret(&config)?;
    let started = std::time::Instant::now();
    tracing::info!(config = ?config, "starting");
    let application = Application::build(config, Arc::new(SystemClock))
        .await
        .context("starting saoma")?;
    let state = application.state();
    let url = format!("http://{}:{}", state.config.host, application.port());
    tracing::info!(%url, elapsed_ms = started.elapsed().as_millis() as u64, "listening");
    if dev {
        let anon = keys::api_key(&state.keys, "anon", chrono::Utc::now())?;
        println!(
            "\nsaoma dev server on {url} (SQLite: {})",
            state.config.database_url
        );
        println!("  supabase URL:  {url}");
        println!("  anon key:      {anon}");
        println!("  try it:        curl -s {url}/auth/v1/settings\n");
    }
    application.run_until(app::shutdown_signal()).await
}

fn init_tracing(env: &BTreeMap<String, String>) {
    let filter = env
        .get("SAOMA_LOG")
        .cloned()
        .unwrap_or_else(|| "info,sqlx=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .try_init();
}
