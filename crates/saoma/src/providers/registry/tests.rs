use saoma_wechat_sim::{SimConfig, Simulator};

use super::*;
use crate::providers::ProviderError;

const WECHAT_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c)";
const SAFARI_UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

/// A configuration with these WeChat sections enabled, on WeChat's own URLs.
fn config_enabling(names: &[&str]) -> Config {
    let mut config = Config::default();
    for name in names {
        let section = config.external.wechat_mut(name).expect("a WeChat section");
        section.enabled = true;
        section.app_id = format!("wx_{name}");
        section.secret = "app-secret".into();
        section.push_token = "push-token".into();
    }
    config
}

fn build(names: &[&str]) -> Providers {
    Providers::from_config(&config_enabling(names)).expect("providers")
}

fn browser_name(
    providers: &Providers,
    name: &str,
    user_agent: Option<&str>,
) -> Option<&'static str> {
    providers.for_browser(name, user_agent).map(|p| p.name())
}

#[test]
fn each_kind_is_built_with_what_it_can_do() {
    let providers = build(&WECHAT_PROVIDERS);
    let mut enabled = providers.enabled();
    enabled.sort_unstable();
    assert_eq!(
        enabled,
        [
            "wechat_app",
            "wechat_mini",
            "wechat_mini_qr",
            "wechat_mp",
            "wechat_mp_qr",
            "wechat_qr"
        ]
    );
    // Browser flows: the QR page and the 公众号 page, nothing else.
    for name in ["wechat_qr", "wechat_mp"] {
        assert_eq!(providers.get(name).map(|p| p.name()), Some(name));
        assert!(providers.code_login(name).is_none(), "{name}");
    }
    // Code-only logins, which cannot start in a browser.
    for name in ["wechat_mini", "wechat_app"] {
        assert!(providers.get(name).is_none(), "{name}");
        assert!(providers.for_browser(name, None).is_none(), "{name}");
        assert_eq!(providers.code_login(name).map(|p| p.name()), Some(name));
    }
    // Only the mini-program can look up a phone number.
    assert_eq!(
        providers.phone_numbers("wechat_mini").map(|p| p.name()),
        Some("wechat_mini")
    );
    assert!(providers.phone_numbers("wechat_app").is_none());
    // Scan logins: saoma's own page, no provider page, no code login.
    for name in ["wechat_mini_qr", "wechat_mp_qr"] {
        assert_eq!(providers.scan_login(name).map(|p| p.name()), Some(name));
        assert!(providers.get(name).is_none(), "{name}");
        assert!(providers.code_login(name).is_none(), "{name}");
    }
    assert!(providers.scan_login("wechat_qr").is_none());
    assert!(providers
        .scan_login("wechat_mp_qr")
        .is_some_and(|p| p.push_keys().is_some()));
    assert!(providers
        .scan_login("wechat_mini_qr")
        .is_some_and(|p| p.push_keys().is_none()));
    // Only the mini-program draws codes for MemFire's getUnlimitedQRCode.
    assert!(providers.mini_program_codes("wechat_mini").is_some());
    assert!(providers.mini_program_codes("wechat_mini_qr").is_none());
    let qr = providers.get("wechat_qr").expect("wechat_qr");
    assert!(qr
        .authorize_url("state", None, &[])
        .starts_with("https://open.weixin.qq.com/connect/qrconnect?appid=wx_wechat_qr&"));
}

#[test]
fn disabled_providers_are_absent() {
    let none = build(&[]);
    assert!(none.enabled().is_empty());
    assert!(none.for_browser("wechat_qr", Some(WECHAT_UA)).is_none());
    assert!(none.code_login("wechat_mini").is_none());
    assert!(none.phone_numbers("wechat_mini").is_none());
    let mini_only = build(&["wechat_mini"]);
    assert_eq!(mini_only.enabled(), ["wechat_mini"]);
    assert!(mini_only.code_login("wechat_app").is_none());
    assert!(mini_only.get("wechat_qr").is_none());
}

#[test]
fn inside_wechat_the_qr_login_gives_way_to_the_official_account() {
    let both = build(&["wechat_qr", "wechat_mp"]);
    assert_eq!(
        browser_name(&both, "wechat_qr", Some(WECHAT_UA)),
        Some("wechat_mp")
    );
    assert_eq!(
        browser_name(&both, "wechat_qr", Some(SAFARI_UA)),
        Some("wechat_qr")
    );
    assert_eq!(browser_name(&both, "wechat_qr", None), Some("wechat_qr"));
    assert_eq!(
        browser_name(&both, "wechat_mp", Some(WECHAT_UA)),
        Some("wechat_mp")
    );
    assert_eq!(browser_name(&both, "github", Some(WECHAT_UA)), None);
    // Without a 公众号, WeChat's browser keeps the QR page.
    let qr_only = build(&["wechat_qr"]);
    assert_eq!(
        browser_name(&qr_only, "wechat_qr", Some(WECHAT_UA)),
        Some("wechat_qr")
    );
}

#[test]
fn every_configuration_section_has_a_registry_line() {
    let mut lines: Vec<&str> = REGISTRY.iter().map(|(name, _)| *name).collect();
    let mut sections = WECHAT_PROVIDERS.to_vec();
    lines.sort_unstable();
    sections.sort_unstable();
    assert_eq!(lines, sections);
}

#[test]
fn an_enabled_provider_missing_from_the_registry_is_an_error() {
    let without_app: Vec<(&'static str, Build)> = REGISTRY
        .iter()
        .copied()
        .filter(|(name, _)| *name != "wechat_app")
        .collect();
    let config = config_enabling(&["wechat_qr", "wechat_app"]);
    let refused = build_from(&without_app, &config, &Outbound::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("external.wechat_app"), "{refused}");
    // Disabled, the same section is no error.
    let config = config_enabling(&["wechat_qr"]);
    assert!(build_from(&without_app, &config, &Outbound::default()).is_ok());
}

#[test]
fn a_registry_line_must_build_the_provider_it_names() {
    let crossed: [(&'static str, Build); 1] = [("wechat_qr", wechat::setup::official_account)];
    let config = config_enabling(&["wechat_qr"]);
    let refused = build_from(&crossed, &config, &Outbound::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("wechat_mp"), "{refused}");
}

#[test]
fn outbound_base_urls_replace_configured_ones() {
    let config = config_enabling(&["wechat_qr", "wechat_mp"]);
    let outbound = Outbound::default().with_base_url("wechat_qr", "http://127.0.0.1:9/sim");
    let providers = Providers::build(&config, &outbound).expect("providers");
    let url = |name: &str| {
        providers
            .get(name)
            .map(|p| p.authorize_url("state", None, &[]))
            .unwrap_or_default()
    };
    assert!(url("wechat_qr").starts_with("http://127.0.0.1:9/sim/connect/qrconnect?"));
    assert!(url("wechat_mp").starts_with("https://open.weixin.qq.com/"));
    let typo = Outbound::default().with_base_url("wechat_q", "http://127.0.0.1:9");
    assert!(Providers::build(&config, &typo).is_err());
}

/// The simulator on a free port, and a configuration of its demo apps left on WeChat's own
/// URLs: only an outbound override can make them reach it.
async fn simulator_world(names: &[&str]) -> (String, Providers, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let sim = Simulator::new(SimConfig::demo(url.clone()));
    let mut config = Config::default();
    for (name, app_id) in [("wechat_mini", "wx_sim_mini"), ("wechat_app", "wx_sim_app")] {
        if !names.contains(&name) {
            continue;
        }
        let app = sim.config().app(app_id).expect("demo app");
        let section = config.external.wechat_mut(name).expect("section");
        section.enabled = true;
        section.app_id = app.appid.clone();
        section.secret = app.secret.clone().into();
    }
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let providers = Providers::build(&config, &Outbound::wechat_at(&url)).expect("providers");
    // App access tokens are kept in the database, shared by every node.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("saoma.db");
    let store = crate::store::SqliteStore::open(&path.display().to_string(), false)
        .await
        .expect("store");
    crate::store::Housekeeping::migrate(&store)
        .await
        .expect("migrate");
    providers.attach_store(Arc::new(store));
    (url, providers, dir)
}

/// What WeChat's client hands an app, from one of the simulator's control endpoints.
async fn sim_code(sim_url: &str, endpoint: &str, appid: &str, persona: &str) -> String {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{sim_url}{endpoint}"))
        .json(&serde_json::json!({"appid": appid, "persona": persona}))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    body["code"].as_str().expect("code").to_owned()
}

#[tokio::test]
async fn code_logins_and_phone_numbers_reach_the_provider() {
    let (sim, providers, _db) = simulator_world(&["wechat_mini", "wechat_app"]).await;
    let mini = providers.code_login("wechat_mini").expect("wechat_mini");
    let code = sim_code(&sim, "/sim/mini/login", "wx_sim_mini", "xiaohong").await;
    let from_mini = mini.profile(&code).await.expect("mini-program profile");
    assert!(from_mini.identity_data.contains_key("openid"));

    let app = providers.code_login("wechat_app").expect("wechat_app");
    let code = sim_code(&sim, "/sim/app/authorize", "wx_sim_app", "xiaohong").await;
    let from_app = app.profile(&code).await.expect("mobile-app profile");
    assert_eq!(from_app.user_metadata["full_name"], "小红");
    assert_eq!(
        from_app.link_key, from_mini.link_key,
        "one person on one open platform"
    );
    // A code works once.
    assert!(matches!(
        app.profile(&code).await,
        Err(ProviderError::InvalidCode(_))
    ));

    let phones = providers.phone_numbers("wechat_mini").expect("phones");
    let code = sim_code(&sim, "/sim/mini/phone", "wx_sim_mini", "xiaohong").await;
    assert_eq!(
        phones.phone_number(&code).await.expect("phone"),
        "8613800000002"
    );
}
