//! The WeChat app access token is one per app for every node (`stable_token`, kept in the
//! database with a lease), and MemFire's `getUnlimitedQRCode` as its SDK sends it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{helpers::*, wechat_helpers::*};

/// Three nodes on one database (Postgres when the suite has one, as production has).
async fn three_nodes() -> (WeChatWorld, TestApp, TestApp) {
    let db = match crate::db::pg_admin_url() {
        Some(_) => TestDb::new(Backend::Postgres).await,
        None => TestDb::new(Backend::Sqlite).await,
    };
    let world = spawn_wechat(APP_ID, Some(db), |_| {}).await;
    let b = world.second_node().await;
    let c = world.second_node().await;
    (world, b, c)
}

/// A signed-in user's access token (any node accepts it: one JWT secret).
async fn signed_in(app: &TestApp) -> String {
    let session = app.post("/auth/v1/signup", json!({})).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    access_token(&session.body).to_owned()
}

/// The body MemFire's mini-program SDK sends for `getUnlimitedQRCode`.
fn memfire_body(scene: &str) -> Value {
    json!({
        "page": "pages/index/index",
        "scene": scene,
        "check_path": true,
        "env_version": "release",
        "width": 430,
        "auto_color": false,
        "line_color": {"r": 0, "g": 0, "b": 0},
        "is_hyaline": false,
    })
}

async fn unlimited(app: &TestApp, token: Option<&str>, body: Value) -> Reply {
    let mut request = app
        .client
        .post(app.url("/auth/v1/wechat_mini/unlimited_qrcode"))
        .header("apikey", "anon-key")
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    into_reply(request.send().await.expect("request")).await
}

/// Every node draws codes at once, each call needing the app's token.
async fn burst(nodes: [&TestApp; 3]) {
    let mut calls = Vec::new();
    for node in nodes {
        // A user per node and burst: each user has a budget of codes per hour.
        let token = signed_in(node).await;
        for i in 0..6 {
            let request = node
                .client
                .post(node.url("/auth/v1/wechat_mini/unlimited_qrcode"))
                .bearer_auth(&token)
                .json(&memfire_body(&format!("id={i}")));
            // Spawned: they race for the token together.
            calls.push(tokio::spawn(async move {
                into_reply(request.send().await.expect("request")).await
            }));
        }
    }
    for call in calls {
        let reply = call.await.expect("call");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

#[tokio::test]
async fn three_nodes_fetch_one_token_per_expiry_and_never_retire_each_other_s() {
    let (world, b, c) = three_nodes().await;
    burst([&world.app, &b, &c]).await;
    let stats = world.sim.token_stats("wx_sim_mini");
    assert_eq!(
        stats.stable_fetches, 1,
        "one fetch for three nodes: {stats:?}"
    );
    assert_eq!(
        stats.token_fetches, 0,
        "cgi-bin/token retires other nodes' tokens"
    );
    assert_eq!(stats.forced_refreshes, 0);

    // WeChat ends the token: every node's next call is refused (42001) and retried once with
    // the token one node fetched; nobody sees an error.
    world.sim.expire_app_tokens("wx_sim_mini");
    burst([&world.app, &b, &c]).await;
    let stats = world.sim.token_stats("wx_sim_mini");
    assert_eq!(stats.stable_fetches, 2, "one more fetch: {stats:?}");
    assert_eq!(stats.forced_refreshes, 0);
}

#[tokio::test]
async fn memfire_get_unlimited_qrcode_answers_a_picture_or_wechat_s_refusal() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let token = signed_in(&world.app).await;

    let drawn = unlimited(&world.app, Some(&token), memfire_body("a=1")).await;
    assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);
    let bytes = base64_decode(drawn.body["imgBase64"].as_str().expect("imgBase64"));
    assert!(bytes.starts_with(b"\x89PNG"), "the simulator's picture");

    // Who may spend the mini-program's quota: signed-in users only.
    let anonymous = unlimited(&world.app, None, memfire_body("a=1")).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "no_authorization");

    // WeChat's refusals, as clear 4xx answers.
    let mut unpublished = memfire_body("a=1");
    unpublished["page"] = json!("pages/not-published/index");
    let refused = unlimited(&world.app, Some(&token), unpublished).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(refused.body["msg"]
        .as_str()
        .unwrap_or_default()
        .contains("41030"));
    let bad_scene = unlimited(&world.app, Some(&token), memfire_body("百分之%")).await;
    assert_error(&bad_scene, StatusCode::BAD_REQUEST, "validation_failed");
    let mut wide = memfire_body("a=1");
    wide["width"] = json!(5000);
    let refused = unlimited(&world.app, Some(&token), wide).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "validation_failed");
    let missing = unlimited(
        &world.app,
        Some(&token),
        json!({"page": "pages/index/index"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);

    let mut faults = world.sim.faults();
    faults.wxacode_rate_limit = 1;
    world.sim.set_faults(faults);
    let limited = unlimited(&world.app, Some(&token), memfire_body("a=1")).await;
    assert_error(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "over_request_rate_limit",
    );
    let again = unlimited(&world.app, Some(&token), memfire_body("a=1")).await;
    assert_eq!(again.status, StatusCode::OK);

    // One user cannot spend the mini-program's WeChat quota, which its logins need.
    let busy_user = signed_in(&world.app).await;
    for _ in 0..30 {
        let drawn = unlimited(&world.app, Some(&busy_user), memfire_body("a=1")).await;
        assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);
    }
    let over = unlimited(&world.app, Some(&busy_user), memfire_body("a=1")).await;
    assert_error(
        &over,
        StatusCode::TOO_MANY_REQUESTS,
        "over_request_rate_limit",
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    STANDARD.decode(text).expect("base64")
}
