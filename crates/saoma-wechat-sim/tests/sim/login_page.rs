//! `GET /connect/qrconnect`: the QR page, and WeChat's refusals (HTTP 200, never a redirect).

use crate::helpers::{callback, spawn, uuid_in, Sim, APP};

fn query<'a>(appid: &'a str, redirect_uri: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", appid),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "abc123"),
    ]
}

async fn assert_refused(sim: &Sim, query: &[(&str, &str)], message: &str) {
    let response = sim.qrconnect(query).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("参数错误"), "{page}");
    assert!(page.contains(message), "{message} in {page}");
    assert!(!page.contains("id=\"qr\""), "{page}");
}

#[tokio::test]
async fn shows_the_qr_code_and_the_app_name() {
    let sim = spawn().await;
    let response = sim.qrconnect(&query(APP, callback(), "snsapi_login")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    let uuid = uuid_in(&page);
    assert!(uuid.len() >= 16 && uuid.chars().all(|c| c.is_ascii_alphanumeric()));
    let img = format!("src=\"{}/sim/qr/{uuid}.png\"", sim.base);
    assert!(page.contains("<img id=\"qr\""), "{page}");
    assert!(page.contains(&img), "{page}");
    for text in ["微信登录", "使用微信扫一扫登录", "「saoma 演示网站」"] {
        assert!(page.contains(text), "{text}");
    }
    assert!(page.contains("data-state=\"abc123\""));
    assert!(page.contains("data-self-redirect=\"false\""));
}

#[tokio::test]
async fn every_visit_opens_a_new_ticket() {
    let sim = spawn().await;
    assert_ne!(sim.open_login(APP).await, sim.open_login(APP).await);
}

#[tokio::test]
async fn the_redirect_uri_port_and_path_do_not_matter() {
    let sim = spawn().await;
    let page = sim
        .qrconnect(&query(APP, "http://LOCALHOST:8080/a/b?c=d", "snsapi_login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"qr\""), "{page}");
}

#[tokio::test]
async fn unknown_appid_is_refused() {
    let sim = spawn().await;
    assert_refused(&sim, &query("wx_nope", callback(), "snsapi_login"), "appid").await;
    assert_refused(&sim, &[("scope", "snsapi_login")], "appid").await;
}

#[tokio::test]
async fn a_scope_other_than_snsapi_login_is_refused() {
    let sim = spawn().await;
    for scope in ["snsapi_userinfo", "snsapi_base", ""] {
        assert_refused(
            &sim,
            &query(APP, callback(), scope),
            "Scope 参数错误或没有 Scope 权限",
        )
        .await;
    }
}

#[tokio::test]
async fn a_redirect_uri_off_the_callback_host_is_refused() {
    let sim = spawn().await;
    for redirect_uri in [
        "http://evil.example.com/callback",
        "http://localhost.evil.example.com/callback",
        "http://localhost@evil.example.com/callback",
        "/auth/v1/callback",
        "javascript:alert(1)",
        "",
    ] {
        assert_refused(
            &sim,
            &query(APP, redirect_uri, "snsapi_login"),
            "redirect_uri 参数错误",
        )
        .await;
    }
    let missing = [("appid", APP), ("scope", "snsapi_login")];
    assert_refused(&sim, &missing, "redirect_uri 参数错误").await;
}

#[tokio::test]
async fn the_embedded_variant_follows_wx_login_js_parameters() {
    let sim = spawn().await;
    let mut embedded = query(APP, callback(), "snsapi_login");
    embedded.extend([
        ("login_type", "jssdk"),
        ("self_redirect", "true"),
        ("style", "white"),
        ("href", "https://localhost/qr.css"),
    ]);
    let page = sim.qrconnect(&embedded).await.text().await.unwrap();
    assert!(page.contains("class=\"jssdk light\""), "{page}");
    assert!(page.contains("data-self-redirect=\"true\""));
    assert!(page.contains("<link rel=\"stylesheet\" href=\"https://localhost/qr.css\">"));
}

#[tokio::test]
async fn odd_states_pass_through_escaped() {
    let sim = spawn().await;
    let mut odd = query(APP, callback(), "snsapi_login");
    odd[4] = ("state", "a\"b<c>&d");
    let page = sim.qrconnect(&odd).await.text().await.unwrap();
    assert!(
        page.contains("data-state=\"a&quot;b&lt;c&gt;&amp;d\""),
        "{page}"
    );
}
