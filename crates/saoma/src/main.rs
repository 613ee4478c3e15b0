use std::{collections::BTreeMap, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use saoma::{app, config, jwt::JwtKeys, keys, Application, Config};
use saoma_wechat_sim::{PushConfig, PushMode, SimConfig, Simulator};

/// mimalloc rather than glibc's malloc: a request allocates and frees many small buffers
/// (headers, JSON), which glibc's allocator made a tenth of a `GET /user`'s CPU
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Development only: published with saoma and printed by `saoma dev`, so anyone can sign
/// tokens with it; `saoma serve` refuses it.
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
    for name in config::unsupported_gotrue_names(&env) {
        tracing::warn!("ignoring GoTrue setting {name}: saoma does not support it");
    }
    for name in config::unknown_env_names(&env) {
        tracing::warn!("ignoring unknown environment variable {name}: is it misspelt?");
    }
    let command = cli.command.unwrap_or(Command::Serve);
    let mut config = Config::load(Some(&cli.config), &env)?;
    match command {
        Command::Serve => {
            refuse_unsafe_secret(&config)?;
            refuse_dev_mailbox(&config)?;
            serve(config, None).await
        }
        Command::Dev => {
            let simulator = apply_dev_defaults(&mut config, &env);
            serve(config, Some(simulator)).await
        }
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

/// Where `saoma dev` mounts the WeChat simulator.
const SIMULATOR_PATH: &str = "/wechat-sim";
/// Where `saoma dev` shows the mail it kept instead of sending.
const MAILBOX_PATH: &str = "/mailbox";

/// `saoma serve` sends mail or says it cannot: it never keeps it in a page nobody reads.
fn refuse_dev_mailbox(config: &Config) -> anyhow::Result<()> {
    if config.mailer.dev_mailbox {
        anyhow::bail!(
            "mailer.dev_mailbox is for `saoma dev` only: `saoma serve` would keep mail in memory \
             instead of sending it. Remove it and set [smtp] (GOTRUE_SMTP_HOST...) or the Send \
             Email hook (GOTRUE_HOOK_SEND_EMAIL_URI)"
        );
    }
    Ok(())
}

/// `saoma dev`: everything on one port, WeChat included (the simulator), ready for an app on
/// http://localhost:3000. Returns the simulator to mount, unless a real WeChat app is set up.
fn apply_dev_defaults(config: &mut Config, env: &BTreeMap<String, String>) -> Option<Simulator> {
    if config.jwt.secret.is_empty() {
        config.jwt.secret = DEV_JWT_SECRET.into();
    }
    if !env.contains_key("SAOMA_HOST") {
        config.host = "127.0.0.1".into();
    }
    if !env.contains_key("SAOMA_EXTERNAL_URL") {
        // `localhost`, not 127.0.0.1: the simulator's app registers `localhost` as its
        // callback domain, and supabase-js names its cookies after the host.
        config.external_url = format!("http://localhost:{}", config.port);
    }
    config.mailer.autoconfirm = true;
    // Mail lands in the mailbox page (unless a Send Email hook is set up, which wins).
    config.mailer.dev_mailbox = true;
    config.external.anonymous_users.enabled = true;
    if config.uri_allow_list.is_empty() {
        config.uri_allow_list = vec!["http://localhost:3000/**".into()];
    }
    if config.external.wechat_qr.enabled {
        return None;
    }
    let simulator_url = format!(
        "{}{SIMULATOR_PATH}",
        config.external_url.trim_end_matches('/')
    );
    let simulator = Simulator::new(SimConfig::demo(simulator_url.clone()));
    // One simulated app per login path, all on one open platform: one persona, one user.
    let external = &mut config.external;
    for (wechat, appid) in [
        (&mut external.wechat_qr, "wx_sim_website"),
        (&mut external.wechat_mp, "wx_sim_mp"),
        (&mut external.wechat_mini, "wx_sim_mini"),
        (&mut external.wechat_app, "wx_sim_app"),
        (&mut external.wechat_mini_qr, "wx_sim_mini"),
        (&mut external.wechat_mp_qr, "wx_sim_mp"),
    ] {
        let app = simulator.config().app(appid)?;
        wechat.enabled = true;
        wechat.app_id = app.appid.clone();
        wechat.secret = app.secret.clone().into();
        wechat.open_base_url = simulator_url.clone();
        wechat.api_base_url = simulator_url.clone();
    }
    // The scan logins: the simulated mini-program calls this saoma, and the simulated 公众号
    // pushes its events here, signed with its demo Token and EncodingAESKey (安全模式).
    let api = format!("{}/auth/v1", config.external_url.trim_end_matches('/'));
    simulator.set_server_url("wx_sim_mini", &api);
    let push = simulator.config().app("wx_sim_mp")?.push.clone()?;
    let mp_qr = &mut config.external.wechat_mp_qr;
    mp_qr.push_token = push.token.clone().into();
    mp_qr.encoding_aes_key = push.encoding_aes_key.clone().into();
    simulator.set_push(
        "wx_sim_mp",
        PushConfig {
            url: Some(format!("{api}/wechat_mp/notify")),
            mode: PushMode::Safe,
            ..push
        },
    );
    config.wechat_simulator_allowed = true;
    simulate_sms(config, &simulator, &simulator_url);
    Some(simulator)
}

/// Phone sign-in through the simulator's Aliyun gateway (with its demo keys), unless a
/// gateway is configured: codes land in the simulator's inbox.
fn simulate_sms(config: &mut Config, simulator: &Simulator, simulator_url: &str) {
    let sms = &mut config.sms;
    if !sms.provider.is_empty() || sms.hook.enabled {
        return;
    }
    let account = &simulator.config().sms.aliyun;
    let (Some(sign_name), Some(template)) = (account.sign_names.first(), account.templates.first())
    else {
        return;
    };
    sms.provider = "aliyun".into();
    sms.aliyun = config::AliyunSmsConfig {
        access_key_id: account.access_key_id.clone(),
        access_key_secret: account.access_key_secret.clone().into(),
        sign_name: sign_name.clone(),
        template_code: template.id.clone(),
        template_param: "code".into(),
        base_url: format!("{simulator_url}/aliyun-sms"),
    };
    if sms.default_country.is_empty() {
        sms.default_country = "86".into();
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

/// `saoma serve` only runs with a secret nobody else can know: not the published development
/// secret, and long enough that it cannot be guessed (32 bytes, as GoTrue asks).
fn refuse_unsafe_secret(config: &Config) -> anyhow::Result<()> {
    require_secret(config)?;
    let secret = &config.jwt.secret;
    if secret == DEV_JWT_SECRET {
        anyhow::bail!(
            "the JWT secret is saoma's published development secret: anyone could sign an admin \
             (service_role) token with it. `saoma serve` refuses it; set SAOMA_JWT_SECRET to a random \
             value of at least 32 characters (e.g. `openssl rand -base64 48`), or use `saoma dev`"
        );
    }
    if secret.len() < MIN_SECRET_BYTES {
        anyhow::bail!(
            "the JWT secret is {} bytes long; HS256 needs at least {MIN_SECRET_BYTES} random bytes to \
             resist guessing. Set SAOMA_JWT_SECRET to a longer random value (e.g. `openssl rand -base64 48`)",
            secret.len()
        );
    }
    Ok(())
}

/// The shortest HS256 secret `saoma serve` accepts.
const MIN_SECRET_BYTES: usize = 32;

/// Runs the server; `dev` carries `saoma dev`'s simulator (if WeChat is simulated).
async fn serve(config: Config, dev: Option<Option<Simulator>>) -> anyhow::Result<()> {
    require_secret(&config)?;
    let started = std::time::Instant::now();
    tracing::info!(config = ?config, "starting");
    if let Some(warning) = saoma::auth::rate_limit::off_warning(&config.rate_limit) {
        tracing::warn!("{warning}");
    }
    // Built here rather than by the application, so `saoma dev` can mount the mailbox's pages.
    let mail = saoma::mail::build(&config)?;
    if mail.is_none() && !config.mailer.autoconfirm && config.external.email.enabled {
        tracing::warn!(
            "no mailer is configured ([smtp] host, or the Send Email hook) and mailer.autoconfirm \
             is off: email sign-ups, magic links and password recovery will be refused with \
             email_send_failed until one is"
        );
    }
    let mut builder = Application::builder(config);
    let mut mailbox = None;
    if let Some(mail) = mail {
        builder = builder.mailer(mail.mailer);
        mailbox = mail.mailbox;
    }
    let mut application = builder.build().await.context("starting saoma")?;
    let state = application.state();
    let bound = format!("http://{}:{}", state.config.host, application.port());
    tracing::info!(url = %bound, elapsed_ms = started.elapsed().as_millis() as u64, "listening");
    if let Some(simulator) = dev {
        let url = state.config.external_url.trim_end_matches('/').to_owned();
        let anon = keys::api_key(&state.keys, "anon", chrono::Utc::now())?;
        println!(
            "\nsaoma dev server on {url} (SQLite: {})",
            state.config.database_url
        );
        println!("  supabase URL:   {url}");
        println!("  anon key:       {anon}");
        if let Some(mailbox) = mailbox {
            application = application.mount(MAILBOX_PATH, mailbox.router(MAILBOX_PATH));
            println!("  mail:           kept, not sent; read it at {url}{MAILBOX_PATH} (JSON: {url}{MAILBOX_PATH}/messages?to=<address>)");
        }
        if let Some(simulator) = simulator {
            application = application.mount(SIMULATOR_PATH, simulator.router());
            let echo = format!("{url}{SIMULATOR_PATH}/sim/echo-callback");
            println!("  WeChat:         simulated at {url}{SIMULATOR_PATH}/sim (apps, personas)");
            println!(
                "  try a login:    open {url}/auth/v1/authorize?provider=wechat_qr&redirect_to={}",
                saoma::providers::urlencode(&echo)
            );
            println!("                  then open the phone link under the QR code, pick a persona, 确认登录");
            println!(
                "  scan logins:    provider=wechat_mini_qr (小程序码) and provider=wechat_mp_qr (关注公众号): the same link with that provider"
            );
            println!(
                "                  for a real 公众号 without a verified 服务号, use the free 公众平台测试号: README, \"Trying wechat_mp_qr with the 公众平台测试号\""
            );
            let sim_sms = format!("{url}{SIMULATOR_PATH}/aliyun-sms");
            if state.config.sms.provider == "aliyun" && state.config.sms.aliyun.base_url == sim_sms
            {
                println!("  phone (SMS):    simulated Aliyun SMS; inboxes at {url}{SIMULATOR_PATH}/sim/sms");
                println!(
                    "  try a code:     curl -X POST {url}/auth/v1/otp -H 'apikey: <anon key>' -H 'content-type: application/json' -d '{{\"phone\":\"8613800000000\"}}'"
                );
                println!("                  then open {url}{SIMULATOR_PATH}/sim/sms/phone/8613800000000 and POST the code to /auth/v1/verify");
            }
        }
        println!("  your app:       NEXT_PUBLIC_SUPABASE_URL={url} NEXT_PUBLIC_SUPABASE_ANON_KEY=<anon key>\n");
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
