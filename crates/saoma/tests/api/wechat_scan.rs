//! Website login by scanning a code with WeChat, end to end against the simulator:
//! `wechat_mini_qr` (a mini-program code; the simulated mini-program page calls saoma's
//! scan/confirm as examples/wechat-mini-program does) and `wechat_mp_qr` (a 公众号's
//! parametric QR code; the simulated WeChat pushes signed events to `/wechat_mp/notify`).

use chrono::Duration;
use reqwest::{header::ACCEPT, StatusCode};
use saoma::clock::Clock;
use saoma::providers::urlencode;
use saoma_wechat_sim::{PushConfig, PushMode};
use serde_json::{json, Value};

use crate::{helpers::*, wechat_helpers::*};

const MINI_PAGE: &str = "pages/scan-login/index";

/// A browser at the waiting page: the flow's state and the ticket it asked for.
struct Waiting {
    state: String,
    ticket: Value,
}

impl Waiting {
    fn scene(&self) -> &str {
        self.ticket["scene"].as_str().expect("scene")
    }
}

/// `/authorize` for `provider`, PKCE unless `implicit`; the waiting page; its ticket.
async fn open_waiting_page(world: &WeChatWorld, provider: &str, implicit: bool) -> Waiting {
    let mut query = format!(
        "provider={provider}&redirect_to={}",
        urlencode(&format!("{SITE}/private"))
    );
    if !implicit {
        query.push_str(&format!(
            "&code_challenge={}&code_challenge_method=s256",
            challenge()
        ));
    }
    let page_url = world.authorize(&query).await;
    assert!(
        page_url.starts_with(&format!("{}/scan_login?state=", world.app.address)),
        "saoma's own waiting page, not a provider's: {page_url}"
    );
    let page = world.follow(&page_url).await;
    assert_eq!(page.status, StatusCode::OK);
    let state = query_param(&page_url, "state").expect("state");
    let ticket = ask_ticket(&world.app, &state).await;
    Waiting { state, ticket }
}

async fn ask_ticket(app: &TestApp, state: &str) -> Value {
    let reply = app
        .post("/auth/v1/scan_login/ticket", json!({ "state": state }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body["image"]
        .as_str()
        .is_some_and(|image| image.starts_with("data:image/")));
    reply.body
}

async fn poll(app: &TestApp, ticket: &Value) -> Value {
    let body = json!({ "scene": ticket["scene"], "secret": ticket["secret"] });
    let reply = app.post("/auth/v1/scan_login/poll", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The simulated phone: what the mini-program page did, and saoma's answer to it.
async fn mini_phone(world: &WeChatWorld, action: &str, scene: &str, persona: &str) -> Value {
    let request = match action {
        "open" => world.app.client.get(format!(
            "{}/sim/mini/open?appid=wx_sim_mini&page={MINI_PAGE}&scene={}",
            world.sim_url,
            urlencode(scene)
        )),
        _ => world
            .app
            .client
            .post(format!("{}/sim/mini/open/{action}", world.sim_url))
            .form(&[
                ("appid", "wx_sim_mini"),
                ("scene", scene),
                ("persona", persona),
            ]),
    };
    let reply = request
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("phone");
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.expect("json")
}

/// The simulated phone scans the 公众号 code of `scene` and follows (or opens) the account;
/// WeChat pushes the event to saoma.
async fn mp_phone(world: &WeChatWorld, scene: &str, persona: &str) -> Value {
    let ticket = world
        .sim
        .qr_ticket_for_scene("wx_sim_mp", scene)
        .expect("qrcode/create was called for this scene");
    let reply = world
        .app
        .client
        .post(format!("{}/sim/mp/scan/{ticket}/confirm", world.sim_url))
        .form(&[("persona", persona)])
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("phone");
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.expect("json")
}

/// From a confirmed poll to the app: `/callback`, then (PKCE) the code exchange. Returns the
/// session and where the browser landed.
async fn finish(world: &WeChatWorld, waiting: &Waiting) -> (Value, String) {
    let answer = poll(&world.app, &waiting.ticket).await;
    assert_eq!(answer["status"], "confirmed", "{answer}");
    let callback = answer["location"].as_str().expect("location").to_owned();
    let landed = location(&world.follow(&callback).await);
    assert!(landed.starts_with(&format!("{SITE}/private")), "{landed}");
    if let Some(code) = query_param(&landed, "code") {
        let session = world.exchange(&code, VERIFIER).await;
        assert_eq!(session.status, StatusCode::OK, "{}", session.body);
        return (session.body, landed);
    }
    let token = fragment_param(&landed, "access_token").expect("session in the fragment");
    let user = world.app.get("/auth/v1/user", Some(&token)).await;
    assert_eq!(user.status, StatusCode::OK);
    (json!({ "access_token": token, "user": user.body }), landed)
}

async fn mini_login(world: &WeChatWorld, persona: &str, implicit: bool) -> Value {
    let waiting = open_waiting_page(world, "wechat_mini_qr", implicit).await;
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "waiting");
    let opened = mini_phone(world, "open", waiting.scene(), persona).await;
    assert_eq!(opened["status"], 200, "{opened}");
    assert_eq!(opened["body"]["site"], "localhost");
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "scanned");
    let confirmed = mini_phone(world, "confirm", waiting.scene(), persona).await;
    assert_eq!(confirmed["status"], 200, "{confirmed}");
    finish(world, &waiting).await.0
}

fn user_id(session: &Value) -> String {
    session["user"]["id"].as_str().expect("user id").to_owned()
}

#[tokio::test]
async fn mini_program_code_login_pkce_and_implicit_same_person_same_user() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let first = mini_login(&world, "xiaoming", false).await;
    let user = &first["user"];
    assert_eq!(user["app_metadata"]["provider"], "wechat_mini_qr");
    let identity = &user["identities"][0];
    assert_eq!(identity["provider"], "wechat_mini_qr");
    assert_eq!(
        identity["identity_data"]["openid"],
        world
            .sim
            .openid("wx_sim_mini", "xiaoming")
            .expect("openid")
            .as_str()
    );
    let again = mini_login(&world, "xiaoming", true).await;
    assert_eq!(user_id(&again), user_id(&first), "second login, same user");
    let other = mini_login(&world, "xiaohong", false).await;
    assert_ne!(user_id(&other), user_id(&first));
}

#[tokio::test]
async fn scan_logins_link_by_unionid_with_the_other_wechat_logins() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let by_website = world.login("laowang").await;
    let by_mini_code = mini_login(&world, "laowang", false).await;
    assert_eq!(user_id(&by_mini_code), user_id(&by_website));
    let by_mini_program = world
        .get_json(
            &format!(
                "/auth/v1/wechat_mini/login?code={}",
                world
                    .sim_code("/sim/mini/login", "wx_sim_mini", "laowang")
                    .await
            ),
            None,
        )
        .await;
    assert_eq!(by_mini_program.status, StatusCode::OK);
    assert_eq!(user_id(&by_mini_program.body), user_id(&by_website));
    let by_follow = mp_login(&world, "laowang").await;
    assert_eq!(user_id(&by_follow), user_id(&by_website));
}

#[tokio::test]
async fn expired_cancelled_and_reused_tickets_are_refused() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;

    // Expired: the page shows a new code; the phone is told.
    let waiting = open_waiting_page(&world, "wechat_mini_qr", false).await;
    world.app.clock.advance(Duration::minutes(6));
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "expired");
    let late = mini_phone(&world, "confirm", waiting.scene(), "xiaoming").await;
    assert_eq!(late["status"], 422, "{late}");
    assert_eq!(late["body"]["error_code"], "flow_state_expired");
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "expired");

    // Cancelled: stays cancelled, a later confirm is refused.
    let waiting = open_waiting_page(&world, "wechat_mini_qr", false).await;
    mini_phone(&world, "open", waiting.scene(), "xiaoming").await;
    let cancelled = mini_phone(&world, "cancel", waiting.scene(), "xiaoming").await;
    assert_eq!(cancelled["status"], 200, "{cancelled}");
    assert_eq!(
        poll(&world.app, &waiting.ticket).await["status"],
        "cancelled"
    );
    let after = mini_phone(&world, "confirm", waiting.scene(), "xiaoming").await;
    assert_eq!(after["body"]["error_code"], "flow_state_already_used");
    // The page asks for a new code, and that one works.
    let fresh = ask_ticket(&world.app, &waiting.state).await;
    assert_ne!(fresh["scene"], waiting.ticket["scene"]);

    // Reused: a confirmed and redeemed ticket cannot be confirmed again or redeemed twice.
    let waiting = open_waiting_page(&world, "wechat_mini_qr", false).await;
    mini_phone(&world, "confirm", waiting.scene(), "xiaoming").await;
    let callback = poll(&world.app, &waiting.ticket).await["location"]
        .as_str()
        .expect("location")
        .to_owned();
    let landed = location(&world.follow(&callback).await);
    assert!(query_param(&landed, "code").is_some());
    assert_eq!(
        poll(&world.app, &waiting.ticket).await["status"],
        "redeemed"
    );
    let again = mini_phone(&world, "confirm", waiting.scene(), "xiaohong").await;
    assert_eq!(again["body"]["error_code"], "flow_state_already_used");
    // The same callback twice soon after is WeChat's duplicate redirect: the same answer.
    assert_eq!(location(&world.follow(&callback).await), landed);
}

#[tokio::test]
async fn only_the_browser_holding_the_secret_continues_its_own_flow() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let victim = open_waiting_page(&world, "wechat_mini_qr", false).await;
    // A bystander who read the scene off the screen learns nothing from polling.
    let peek = world
        .app
        .post(
            "/auth/v1/scan_login/poll",
            json!({ "scene": victim.scene(), "secret": "guess" }),
        )
        .await;
    assert_error(&peek, StatusCode::NOT_FOUND, "flow_state_not_found");
    mini_phone(&world, "confirm", victim.scene(), "xiaoming").await;
    // The attacker's own flow cannot take the victim's confirmed ticket, even with its
    // secret: a ticket belongs to the flow that asked for it.
    let attacker = open_waiting_page(&world, "wechat_mini_qr", true).await;
    let stolen = format!(
        "{}/callback?code={}.{}&state={}",
        world.app.address,
        victim.scene(),
        victim.ticket["secret"].as_str().expect("secret"),
        attacker.state
    );
    let landed = location(&world.follow(&stolen).await);
    assert!(landed.contains("error_code=bad_oauth_callback"), "{landed}");
    assert!(fragment_param(&landed, "access_token").is_none());
    // Nor can anyone guess the secret for the right flow.
    let guessed = format!(
        "{}/callback?code={}.guess&state={}",
        world.app.address,
        victim.scene(),
        victim.state
    );
    assert!(location(&world.follow(&guessed).await).contains("error_code=bad_oauth_callback"));
    // The victim's browser still finishes.
    let (session, _) = finish(&world, &victim).await;
    assert_eq!(
        session["user"]["app_metadata"]["provider"],
        "wechat_mini_qr"
    );
}

async fn mp_login(world: &WeChatWorld, persona: &str) -> Value {
    let waiting = open_waiting_page(world, "wechat_mp_qr", false).await;
    let pushed = mp_phone(world, waiting.scene(), persona).await;
    assert_eq!(pushed["status"], 200, "{pushed}");
    finish(world, &waiting).await.0
}

#[tokio::test]
async fn follow_login_new_follower_then_follower_in_safe_mode() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    world.sim.set_following("wx_sim_mp", "xiaoming", false);
    let first = mp_login(&world, "xiaoming").await;
    assert!(world.sim.is_following("wx_sim_mp", "xiaoming"));
    let log = world.sim.push_log("wx_sim_mp");
    assert!(log.iter().all(|attempt| attempt.event == "subscribe"));
    assert_eq!(first["user"]["app_metadata"]["provider"], "wechat_mp_qr");
    assert_eq!(
        first["user"]["identities"][0]["identity_data"]["unionid"],
        world
            .sim
            .unionid("wx_sim_mp", "xiaoming")
            .expect("unionid")
            .as_str()
    );
    let second = mp_login(&world, "xiaoming").await;
    assert_eq!(
        user_id(&second),
        user_id(&first),
        "a follower's SCAN, same user"
    );
    let last = world.sim.push_log("wx_sim_mp").pop().expect("a push");
    assert_eq!((last.event.as_str(), last.answered), ("SCAN", true));
}

/// A push as WeChat signs a 明文模式 one: the signature covers token, timestamp and nonce only.
fn plain_push_query(token: &str, timestamp: i64) -> String {
    use sha1::{Digest, Sha1};
    let timestamp = timestamp.to_string();
    let mut parts = [token, timestamp.as_str(), "nonce42"];
    parts.sort_unstable();
    let signature: String = Sha1::digest(parts.concat().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("signature={signature}&timestamp={timestamp}&nonce=nonce42")
}

fn scan_event(openid: &str, scene: &str) -> String {
    format!(
        "<xml><ToUserName>gh_sim</ToUserName><FromUserName>{openid}</FromUserName>\
         <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>SCAN</Event>\
         <EventKey>{scene}</EventKey></xml>"
    )
}

async fn post_push(world: &WeChatWorld, query: &str, body: String) -> StatusCode {
    world
        .app
        .client
        .post(format!(
            "{}/auth/v1/wechat_mp/notify?{query}",
            world.app.address
        ))
        .body(body)
        .send()
        .await
        .expect("push")
        .status()
}

#[tokio::test]
async fn follow_login_in_plain_mode_and_what_plain_mode_cannot_be_tricked_into() {
    // 明文模式 (the 公众平台测试号 offers nothing else): saoma has no EncodingAESKey.
    let world = spawn_wechat(APP_ID, None, |config| {
        config.external.wechat_mp_qr.encoding_aes_key = Default::default();
    })
    .await;
    let plain = PushConfig {
        mode: PushMode::Plain,
        url: Some(format!("{}/auth/v1/wechat_mp/notify", world.app.address)),
        ..mp_push_config(&world.sim)
    };
    world.sim.set_push("wx_sim_mp", plain.clone());
    let first = mp_login(&world, "xiaohong").await;
    assert_eq!(first["user"]["app_metadata"]["provider"], "wechat_mp_qr");

    // The body is not signed in plain mode; an old signed query (from a log) is refused by
    // its age, and a push naming someone who does not follow is refused by WeChat's word.
    let waiting = open_waiting_page(&world, "wechat_mp_qr", false).await;
    let victim = world.sim.openid("wx_sim_mp", "xiaohong").expect("openid");
    let now = world.app.clock.now().timestamp();
    let old = plain_push_query(&plain.token, now - 3600);
    let replayed = post_push(&world, &old, scan_event(&victim, waiting.scene())).await;
    assert_eq!(replayed, StatusCode::UNAUTHORIZED);
    world.sim.set_following("wx_sim_mp", "laowang", false);
    let stranger = world.sim.openid("wx_sim_mp", "laowang").expect("openid");
    let fresh = plain_push_query(&plain.token, now);
    let not_following = post_push(&world, &fresh, scan_event(&stranger, waiting.scene())).await;
    assert_eq!(not_following, StatusCode::BAD_REQUEST);
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "waiting");
}

#[tokio::test]
async fn in_safe_mode_a_correctly_signed_plain_push_is_not_wechat_s() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let waiting = open_waiting_page(&world, "wechat_mp_qr", false).await;
    let token = mp_push_config(&world.sim).token;
    let victim = world.sim.openid("wx_sim_mp", "xiaoming").expect("openid");
    let query = plain_push_query(&token, world.app.clock.now().timestamp());
    let forged = post_push(&world, &query, scan_event(&victim, waiting.scene())).await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "waiting");
}

#[tokio::test]
async fn forged_retried_and_duplicated_pushes_never_make_a_second_login() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    // A push that is not WeChat's: refused, the ticket stays waiting.
    let waiting = open_waiting_page(&world, "wechat_mp_qr", false).await;
    let forged = world
        .app
        .client
        .post(format!(
            "{}/auth/v1/wechat_mp/notify?signature=0000&timestamp=1&nonce=2",
            world.app.address
        ))
        .body(format!(
            "<xml><ToUserName>gh_x</ToUserName><FromUserName>attacker</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>event</MsgType><Event>SCAN</Event>\
             <EventKey>{}</EventKey></xml>",
            waiting.scene()
        ))
        .send()
        .await
        .expect("forged push");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "waiting");

    // Duplicated pushes (the same event twice): one confirmation, one session.
    let mut faults = world.sim.faults();
    faults.duplicate_push = true;
    world.sim.set_faults(faults);
    let pushed = mp_phone(&world, waiting.scene(), "xiaohong").await;
    assert_eq!(pushed["pushed"], 2, "{pushed}");
    let attempts = world.sim.push_log("wx_sim_mp");
    assert_eq!(
        attempts.len(),
        2,
        "each delivery answered at once: no retries"
    );
    assert!(attempts
        .iter()
        .all(|a| a.status == Some(200) && a.body == "success" && a.answered));
    let (session, _) = finish(&world, &waiting).await;
    assert_eq!(sessions_of(&world, &session).await, 1);

    // WeChat retrying a push saoma already took (a slow answer): acknowledged, nothing new.
    let waiting = open_waiting_page(&world, "wechat_mp_qr", true).await;
    let pushed = mp_phone(&world, waiting.scene(), "xiaohong").await;
    assert_eq!(pushed["pushed"], 2);
    let (again, landed) = finish(&world, &waiting).await;
    assert_eq!(user_id(&again), user_id(&session));
    assert_eq!(
        sessions_of(&world, &session).await,
        2,
        "one more login, one more session"
    );
    // The callback replayed from history: no third session.
    let callback = poll(&world.app, &waiting.ticket).await;
    assert_eq!(callback["status"], "redeemed");
    assert!(fragment_param(&landed, "access_token").is_some());
    assert_eq!(sessions_of(&world, &session).await, 2);
}

/// How many sessions the session's user has, as the database says.
async fn sessions_of(world: &WeChatWorld, session: &Value) -> i64 {
    let id = user_id(session);
    let url = &world.app.db.as_ref().expect("db").url;
    count_rows(url, "sessions", &id).await
}

#[tokio::test]
async fn a_confirm_at_another_node_than_the_one_that_drew_the_code() {
    let world = spawn_wechat(APP_ID, None, |_| {}).await;
    let node_b = world.second_node().await;
    // The page and its poll on node A; the mini-program's calls and the push on node B.
    point_simulator_at(&world.sim, &node_b.address);
    let waiting = open_waiting_page(&world, "wechat_mini_qr", false).await;
    mini_phone(&world, "open", waiting.scene(), "xiaoming").await;
    assert_eq!(poll(&world.app, &waiting.ticket).await["status"], "scanned");
    let confirmed = mini_phone(&world, "confirm", waiting.scene(), "xiaoming").await;
    assert_eq!(confirmed["status"], 200, "{confirmed}");
    assert_eq!(poll(&node_b, &waiting.ticket).await["status"], "confirmed");
    let (session, _) = finish(&world, &waiting).await;
    assert_eq!(
        session["user"]["app_metadata"]["provider"],
        "wechat_mini_qr"
    );

    let waiting = open_waiting_page(&world, "wechat_mp_qr", true).await;
    mp_phone(&world, waiting.scene(), "xiaohong").await;
    let (session, _) = finish(&world, &waiting).await;
    assert_eq!(session["user"]["app_metadata"]["provider"], "wechat_mp_qr");
}

/// Rows of `table` (`sessions`) that belong to `user_id`, read from the database itself.
async fn count_rows(url: &str, table: &str, user_id: &str) -> i64 {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let sql = format!("SELECT count(*) FROM auth.{table} WHERE user_id = $1::uuid");
        let count: i64 = sqlx::query_scalar(&sql)
            .bind(user_id)
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        return count;
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{url}"))
        .await
        .expect("connect");
    let sql = format!("SELECT count(*) FROM {table} WHERE user_id = ?");
    let count: i64 = sqlx::query_scalar(&sql)
        .bind(user_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    count
}

#[tokio::test]
async fn a_flow_draws_a_few_codes_and_a_scan_never_links_an_identity() {
    let world = spawn_wechat(APP_ID, None, |config| {
        config.security.manual_linking_enabled = true;
    })
    .await;
    // Refreshing an expired page a few times is fine; minting codes to spend WeChat's quota
    // is not.
    let waiting = open_waiting_page(&world, "wechat_mini_qr", false).await;
    for _ in 0..4 {
        ask_ticket(&world.app, &waiting.state).await;
    }
    let sixth = world
        .app
        .post(
            "/auth/v1/scan_login/ticket",
            json!({ "state": waiting.state }),
        )
        .await;
    assert_error(
        &sixth,
        StatusCode::TOO_MANY_REQUESTS,
        "over_request_rate_limit",
    );

    // Linking by a scan would attach whoever scans to the signed-in account.
    let session = world.app.post("/auth/v1/signup", json!({})).await;
    let token = access_token(&session.body).to_owned();
    for provider in ["wechat_mini_qr", "wechat_mp_qr"] {
        let link = world
            .app
            .get(
                &format!(
                    "/auth/v1/user/identities/authorize?provider={provider}&skip_http_redirect=true\
                     &code_challenge={}&code_challenge_method=s256",
                    challenge()
                ),
                Some(&token),
            )
            .await;
        assert_error(&link, StatusCode::BAD_REQUEST, "validation_failed");
    }
}
