//! `saoma-wechat-sim`: the WeChat simulator on its own port, with the demo apps and personas.

use std::io::IsTerminal;

use clap::Parser;
use saoma_wechat_sim::{SimConfig, Simulator};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Simulates WeChat login (website QR, 公众号, mini-program, mobile app) for local development"
)]
struct Args {
    #[arg(long, env = "SAOMA_SIM_HOST", default_value = "127.0.0.1")]
    host: String,
    #[arg(long, env = "SAOMA_SIM_PORT", default_value_t = 9998)]
    port: u16,
    /// Where browsers reach the simulator; default http://<host>:<port>.
    #[arg(long, env = "SAOMA_SIM_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Colour codes only for a person at a terminal, not in logs captured by tests.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let address = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{}:{}", args.host, address.port()));
    let simulator = Simulator::new(SimConfig::demo(public_url));
    log_config(simulator.config(), &address.to_string());
    axum::serve(listener, simulator.router())
        .with_graceful_shutdown(shutdown())
        .await
}

fn log_config(config: &SimConfig, address: &str) {
    let public_url = &config.public_url;
    tracing::info!(%address, %public_url, "WeChat simulator listening; index at {public_url}/sim");
    for app in &config.apps {
        tracing::info!(
            appid = %app.appid,
            kind = ?app.kind,
            secret = %app.secret,
            callback_host = %app.callback_host,
            open_platform = app.open_platform.as_deref().unwrap_or("-"),
            "app"
        );
    }
    tracing::info!(
        "QR login: {public_url}/connect/qrconnect?appid=wx_sim_website&redirect_uri=...&response_type=code&scope=snsapi_login&state=..."
    );
    tracing::info!(
        "公众号 web authorization: {public_url}/connect/oauth2/authorize?appid=wx_sim_mp&redirect_uri=...&response_type=code&scope=snsapi_userinfo&state=..."
    );
    tracing::info!(
        "mini-program: POST {public_url}/sim/mini/login and /sim/mini/phone {{\"appid\":\"wx_sim_mini\",\"persona\":\"xiaoming\"}}; mobile app: POST {public_url}/sim/app/authorize"
    );
    tracing::info!("token API: {public_url}/sns/oauth2/access_token, {public_url}/sns/userinfo, {public_url}/sns/jscode2session, {public_url}/cgi-bin/token, {public_url}/cgi-bin/stable_token, {public_url}/wxa/business/getuserphonenumber, {public_url}/wxa/getwxacodeunlimit, {public_url}/cgi-bin/qrcode/create, {public_url}/cgi-bin/user/info");
    let sms = &config.sms;
    tracing::info!(
        access_key_id = %sms.aliyun.access_key_id,
        access_key_secret = %sms.aliyun.access_key_secret,
        "Aliyun SMS: base URL {public_url}/aliyun-sms"
    );
    tracing::info!(
        secret_id = %sms.tencent.secret_id,
        secret_key = %sms.tencent.secret_key,
        sdk_app_id = %sms.tencent.sdk_app_id,
        "Tencent SMS: base URL {public_url}/tencent-sms"
    );
    tracing::info!("SMS inboxes: {public_url}/sim/sms (JSON: {public_url}/sim/sms/inbox/<number>)");
}

async fn shutdown() {
    // Without a signal handler we simply run until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
