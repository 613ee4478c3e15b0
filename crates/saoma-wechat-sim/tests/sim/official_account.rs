//! `GET /connect/oauth2/authorize` and its confirm form: a 公众号's web authorization.

use crate::flows::{location_params, mp_query, param, MP, MP_SECRET};
use crate::helpers::{assert_errcode, callback, spawn, Sim, APP};

async fn assert_refused(sim: &Sim, query: &[(&str, &str)], texts: &[&str]) {
    let response = sim.mp_authorize(query).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    for text in texts {
        assert!(page.contains(text), "{text} in {page}");
    }
    assert!(!page.contains("id=\"allow\""), "{page}");
}

fn form<'a>(redirect_uri: &'a str, decision: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", MP),
        ("redirect_uri", redirect_uri),
        ("scope", "snsapi_userinfo"),
        ("state", "abc123"),
        ("persona", "xiaohong"),
        ("decision", decision),
    ]
}

#[tokio::test]
async fn shows_the_authorization_page() {
    let sim = spawn().await;
    let response = sim
        .mp_authorize(&mp_query(MP, callback(), "snsapi_userinfo"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    for text in [
        "「saoma 演示公众号」",
        "授权登录",
        "<button id=\"allow\"",
        "<button id=\"deny\"",
        "name=\"decision\" value=\"allow\"",
        "name=\"decision\" value=\"deny\"",
        "允许",
        "拒绝",
        "name=\"appid\" value=\"wx_sim_mp\"",
        "name=\"scope\" value=\"snsapi_userinfo\"",
        "name=\"state\" value=\"abc123\"",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
    let action = format!("action=\"{}/connect/oauth2/authorize/confirm\"", sim.base);
    assert!(page.contains(&action), "{page}");
    let redirect = format!("name=\"redirect_uri\" value=\"{}\"", callback());
    assert!(page.contains(&redirect), "{page}");
    for persona in ["xiaoming", "xiaohong", "laowang"] {
        let radio = format!("name=\"persona\" value=\"{persona}\"");
        assert!(page.contains(&radio), "{radio}");
    }
    assert!(!page.contains("id=\"silent\""));
}

#[tokio::test]
async fn snsapi_base_still_asks_for_a_persona_and_says_it_is_silent() {
    let sim = spawn().await;
    let page = sim
        .mp_authorize(&mp_query(MP, callback(), "snsapi_base"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"silent\""), "{page}");
    assert!(page.contains("静默授权"), "{page}");
    assert!(page.contains("name=\"persona\" value=\"xiaoming\""));
    assert!(page.contains("name=\"scope\" value=\"snsapi_base\""));
}

#[tokio::test]
async fn unknown_appid_is_a_parameter_error() {
    let sim = spawn().await;
    let query = mp_query("wx_nope", callback(), "snsapi_userinfo");
    assert_refused(&sim, &query, &["参数错误"]).await;
    assert_refused(&sim, &[("scope", "snsapi_base")], &["参数错误"]).await;
}

#[tokio::test]
async fn a_website_appid_is_10005() {
    let sim = spawn().await;
    for scope in ["snsapi_userinfo", "snsapi_base", "snsapi_login"] {
        let query = mp_query(APP, callback(), scope);
        assert_refused(&sim, &query, &["10005", "此公众号并没有这些scope的权限"]).await;
    }
    let query = mp_query("wx_sim_mini", callback(), "snsapi_userinfo");
    assert_refused(&sim, &query, &["10005"]).await;
}

#[tokio::test]
async fn a_foreign_redirect_host_is_10003() {
    let sim = spawn().await;
    for redirect_uri in [
        "http://evil.example.com/callback",
        "http://localhost.evil.example.com/callback",
        "http://localhost@evil.example.com/callback",
        "/callback",
        "",
    ] {
        let query = mp_query(MP, redirect_uri, "snsapi_userinfo");
        assert_refused(&sim, &query, &["redirect_uri域名与后台配置不一致", "10003"]).await;
    }
}

#[tokio::test]
async fn other_scopes_are_refused() {
    let sim = spawn().await;
    for scope in ["snsapi_login", "snsapi_privateinfo", ""] {
        let query = mp_query(MP, callback(), scope);
        assert_refused(&sim, &query, &["scope 参数错误"]).await;
    }
}

#[tokio::test]
async fn allow_redirects_with_code_and_state() {
    let sim = spawn().await;
    let redirect_uri = "http://localhost:3000/auth/v1/callback?from=mp";
    let response = sim.mp_confirm(&form(redirect_uri, "allow")).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/auth/v1/callback?from=mp&code="),
        "{location}"
    );
    let params = location_params(location);
    assert_eq!(param(&params, "state"), Some("abc123"));
    let code = param(&params, "code").unwrap();
    assert!(code.len() >= 16);

    let tokens = sim.exchange(MP, MP_SECRET, code).await;
    assert_eq!(tokens["scope"], "snsapi_userinfo");
    assert_eq!(
        tokens["openid"].as_str(),
        sim.simulator.openid(MP, "xiaohong").as_deref()
    );
    assert_eq!(
        tokens["unionid"].as_str(),
        sim.simulator.unionid(MP, "xiaohong").as_deref()
    );
    let info = sim.userinfo(&tokens).await;
    assert_eq!(info["nickname"], "小红");
    assert_errcode(
        &sim.exchange(MP, MP_SECRET, code).await,
        40163,
        "code been used",
    );
}

#[tokio::test]
async fn deny_redirects_without_a_code() {
    let sim = spawn().await;
    let response = sim.mp_confirm(&form(callback(), "deny")).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert_eq!(location, format!("{}?state=abc123", callback()));
}

#[tokio::test]
async fn the_confirm_form_is_validated_again() {
    let sim = spawn().await;
    let response = sim
        .mp_confirm(&form("http://evil.example.com/cb", "allow"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("10003"));

    let mut nobody = form(callback(), "allow");
    nobody[4] = ("persona", "nobody");
    assert_eq!(sim.mp_confirm(&nobody).await.status(), 400);
    let mut undecided = form(callback(), "maybe");
    undecided[4] = ("persona", "xiaoming");
    assert_eq!(sim.mp_confirm(&undecided).await.status(), 400);
}

#[tokio::test]
async fn a_snsapi_base_token_cannot_read_userinfo() {
    let sim = spawn().await;
    let location = sim.mp_login("snsapi_base", "laowang", callback()).await;
    let params = location_params(&location);
    let tokens = sim
        .exchange(MP, MP_SECRET, param(&params, "code").unwrap())
        .await;
    assert_eq!(tokens["scope"], "snsapi_base");
    assert_errcode(&sim.userinfo(&tokens).await, 48001, "api unauthorized");
    // The token itself is valid, and refreshing keeps its scope.
    let auth = sim
        .sns(
            "/sns/auth",
            &[
                ("access_token", tokens["access_token"].as_str().unwrap()),
                ("openid", tokens["openid"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(auth["errcode"], 0);
    let refreshed = sim
        .sns(
            "/sns/oauth2/refresh_token",
            &[
                ("appid", MP),
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(refreshed["scope"], "snsapi_base");
}

#[tokio::test]
async fn an_official_account_code_is_bound_to_its_app() {
    let sim = spawn().await;
    let location = sim
        .mp_login("snsapi_userinfo", "xiaoming", callback())
        .await;
    let params = location_params(&location);
    let code = param(&params, "code").unwrap();
    assert_errcode(
        &sim.exchange(APP, "sim-website-secret", code).await,
        40029,
        "invalid code",
    );
    assert!(sim.exchange(MP, MP_SECRET, code).await["access_token"].is_string());
}

#[tokio::test]
async fn qrconnect_refuses_an_official_account_appid() {
    let sim = spawn().await;
    for scope in ["snsapi_login", "snsapi_userinfo"] {
        let query = mp_query(MP, callback(), scope);
        let response = sim.qrconnect(&query).await;
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains("Scope 参数错误或没有 Scope 权限"), "{page}");
        assert!(!page.contains("id=\"qr\""), "{page}");
    }
}
