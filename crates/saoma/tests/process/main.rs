//! Tests of the real binary: graceful shutdown under load, a GoTrue-style environment, and two
//! saoma processes sharing one Postgres (and so one rate limit).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../common/db.rs"]
mod db;

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const SECRET: &str = "process-test-secret-that-is-long-enough-0123";

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `saoma <subcommand>` with exactly `env` (plus PATH), in `dir`, its output piped.
fn saoma(subcommand: &str, env: &[(&str, String)], dir: &std::path::Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saoma"));
    command
        .arg(subcommand)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn saoma")
}

/// Starts `saoma serve` with exactly `env` (plus PATH), in a fresh directory.
async fn start(env: &[(&str, String)]) -> Server {
    start_command("serve", env).await
}

/// Starts `saoma <subcommand>` and waits until it answers `/health`.
async fn start_command(subcommand: &str, env: &[(&str, String)]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = env
        .iter()
        .find(|(k, _)| *k == "SAOMA_PORT" || *k == "PORT")
        .map(|(_, v)| v.clone())
        .expect("a port");
    let child = saoma(subcommand, env, dir.path());
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Server {
        child,
        url,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(response) = reqwest::get(format!("{}/health", server.url)).await {
            if response.status().is_success() {
                return server;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("saoma exited early ({status}): {}", server.output());
        }
        assert!(Instant::now() < deadline, "saoma not healthy in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Server {
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for exit and returns the status code.
    fn wait(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("saoma did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn output(&mut self) -> String {
        let mut text = String::new();
        if let Some(out) = self.child.stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        if let Some(err) = self.child.stderr.as_mut() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(url: &str, body: Value, ip: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("x-supabase-api-version", "2024-01-01")
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `load@example.com`'s password sign-in on a connection of its own, sent with `Expect:
/// 100-continue`: hyper answers `100 Continue` once the server has read the request and its
/// handler reads the body. `read` is told when the body has gone after it. The final status
/// and JSON body.
fn sign_in_once_read(address: &str, ip: &str, read: &std::sync::mpsc::Sender<()>) -> (u16, Value) {
    let body = json!({"email": "load@example.com", "password": "load-test-password"}).to_string();
    let mut stream = TcpStream::connect(address).expect("connect");
    // A stalled shutdown fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    write!(
        stream,
        "POST /token?grant_type=password HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         X-Supabase-Api-Version: 2024-01-01\r\nX-Forwarded-For: {ip}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .expect("send the head");
    let mut interim = Vec::new();
    let mut byte = [0_u8];
    while !interim.ends_with(b"\r\n\r\n") {
        stream
            .read_exact(&mut byte)
            .expect("read the interim answer");
        interim.push(byte[0]);
    }
    let interim = String::from_utf8_lossy(&interim);
    assert!(interim.starts_with("HTTP/1.1 100 "), "{interim}");
    stream.write_all(body.as_bytes()).expect("send the body");
    let _ = read.send(());
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the answer");
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {response:?}"));
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn base_env(port: u16, database_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("SAOMA_HOST", "127.0.0.1".into()),
        ("SAOMA_PORT", port.to_string()),
        ("SAOMA_DATABASE_URL", database_url),
        ("SAOMA_JWT_SECRET", SECRET.into()),
        ("SAOMA_MAILER_AUTOCONFIRM", "true".into()),
        ("SAOMA_RATE_LIMIT_HEADER", "X-Forwarded-For".into()),
        ("SAOMA_LOG", "info".into()),
        // Several saoma processes at once: each metrics listener on a free port.
        ("SAOMA_METRICS_PORT", "0".into()),
    ]
}

#[tokio::test]
async fn sigterm_under_load_fails_no_request() {
    let db = tempfile::tempdir().expect("tempdir");
    let mut env = base_env(
        free_port(),
        db.path().join("saoma.db").display().to_string(),
    );
    // Slow hashing keeps sign-ins in flight while the signal arrives.
    env.push(("SAOMA_PASSWORD_BCRYPT_COST", "12".into()));
    env.push(("SAOMA_RATE_LIMIT_ENABLED", "false".into()));
    let mut server = start(&env).await;
    let signup = format!("{}/signup", server.url);
    let (status, _) = post(
        &signup,
        json!({"email": "load@example.com", "password": "load-test-password"}),
        "10.1.1.1",
    )
    .await;
    assert_eq!(status, 200);

    // The signal comes once the server has read every request (a connection it has not read
    // yet is not in flight: graceful shutdown closes it), while they are all hashing.
    let address = server.url.trim_start_matches("http://").to_owned();
    let (read, requests_read) = std::sync::mpsc::channel();
    let requests: Vec<_> = (0..12)
        .map(|i| {
            let (address, read) = (address.clone(), read.clone());
            std::thread::spawn(move || sign_in_once_read(&address, &format!("10.2.0.{i}"), &read))
        })
        .collect();
    // Only the clients hold senders now: one that failed (its panic is printed) ends the wait.
    drop(read);
    for _ in &requests {
        requests_read
            .recv_timeout(Duration::from_secs(60))
            .expect("the server read every request (else a client failed: see its panic)");
    }
    server.terminate();
    for request in requests {
        let (status, body) = request.join().expect("join");
        assert_eq!(
            status, 200,
            "an in-flight request failed during shutdown: {body}"
        );
        assert!(body["access_token"].is_string());
    }
    assert_eq!(server.wait(Duration::from_secs(30)), 0, "clean exit");
    let logs = server.output();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains("load-test-password"), "no secrets in logs");
}

/// `kill -9`: no shutdown, no flush, nothing but what the database already holds.
fn kill_hard(server: &mut Server) {
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
}

#[tokio::test]
async fn acknowledged_rotations_survive_kill_9() {
    let db = tempfile::tempdir().expect("tempdir");
    let file = db.path().join("saoma.db").display().to_string();
    let port = free_port();
    let mut env = base_env(port, file);
    env.push(("SAOMA_RATE_LIMIT_ENABLED", "false".into()));
    env.push(("SAOMA_PASSWORD_BCRYPT_COST", "4".into()));
    let mut server = start(&env).await;
    // Sessions of several users, each refreshed many times at once, so that rotations share
    // group commits; the server is killed the moment the last answer arrives.
    let mut tokens = Vec::new();
    for i in 0..8 {
        let (status, session) = post(
            &format!("{}/signup", server.url),
            json!({"email": format!("kill{i}@example.com"), "password": "kill-test-password"}),
            "10.3.0.1",
        )
        .await;
        assert_eq!(status, 200, "{session}");
        tokens.push(session["refresh_token"].as_str().expect("token").to_owned());
    }
    let refresh = format!("{}/token?grant_type=refresh_token", server.url);
    for _round in 0..10 {
        let calls: Vec<_> = tokens
            .iter()
            .map(|token| {
                let (url, token) = (refresh.clone(), token.clone());
                tokio::spawn(async move {
                    post(&url, json!({"refresh_token": token}), "10.3.0.2").await
                })
            })
            .collect();
        for (slot, call) in tokens.iter_mut().zip(calls) {
            let (status, body) = call.await.expect("join");
            assert_eq!(status, 200, "{body}");
            *slot = body["refresh_token"].as_str().expect("token").to_owned();
        }
    }
    kill_hard(&mut server);

    let server = start(&env).await;
    for token in &tokens {
        let (status, body) = post(&refresh, json!({"refresh_token": token}), "10.3.0.3").await;
        assert_eq!(status, 200, "an acknowledged rotation was lost: {body}");
        assert_ne!(body["refresh_token"].as_str(), Some(token.as_str()));
    }
    drop(server);
}

#[tokio::test]
async fn starts_from_a_gotrue_environment() {
    let db = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let env: Vec<(&str, String)> = vec![
        ("PORT", port.to_string()),
        ("GOTRUE_API_HOST", "127.0.0.1".into()),
        (
            "DATABASE_URL",
            db.path().join("gotrue.db").display().to_string(),
        ),
        ("API_EXTERNAL_URL", format!("http://127.0.0.1:{port}")),
        ("GOTRUE_JWT_SECRET", SECRET.into()),
        ("GOTRUE_JWT_EXP", "120".into()),
        ("GOTRUE_SITE_URL", "https://app.example.com".into()),
        ("GOTRUE_MAILER_AUTOCONFIRM", "true".into()),
        ("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", "true".into()),
        // Mail settings are GoTrue's too (nothing connects before a mail is sent).
        ("GOTRUE_SMTP_HOST", "smtp.example.com".into()),
        ("GOTRUE_SMTP_ADMIN_EMAIL", "noreply@example.com".into()),
        ("GOTRUE_SAML_ENABLED", "true".into()),
        ("SAOMA_JWT_SECRT", "typo".into()),
    ];
    let mut server = start(&env).await;
    let settings: Value = reqwest::get(format!("{}/auth/v1/settings", server.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(settings["mailer_autoconfirm"], true);
    assert_eq!(settings["external"]["anonymous_users"], true);
    let (status, session) = post(
        &format!("{}/auth/v1/signup", server.url),
        json!({"email": "g@example.com", "password": "gotrue-user-pass"}),
        "10.3.0.1",
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["expires_in"], 120, "GOTRUE_JWT_EXP applies");
    server.terminate();
    assert_eq!(server.wait(Duration::from_secs(10)), 0);
    let logs = server.output();
    assert!(
        logs.contains("GOTRUE_SAML_ENABLED")
            && !logs.contains("ignoring GoTrue setting GOTRUE_SMTP"),
        "unsupported GoTrue settings are reported: {logs}"
    );
    assert!(
        logs.contains("SAOMA_JWT_SECRT"),
        "a misspelt SAOMA_* name is reported: {logs}"
    );
    assert!(!logs.contains(SECRET), "the secret is never printed");
    assert!(
        logs.contains("rate limits are off"),
        "no GOTRUE_RATE_LIMIT_HEADER: start-up says there are no limits: {logs}"
    );
}

/// The published development secret, as main.rs has it.
const DEV_SECRET: &str = "saoma-dev-secret-do-not-use-in-production-0123456789";

#[tokio::test]
async fn serve_refuses_the_development_secret_and_short_secrets() {
    for (secret, expected) in [
        (DEV_SECRET, "published development secret"),
        ("only-31-bytes-long-secret-value", "at least 32"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = base_env(free_port(), "saoma.db".into());
        env.retain(|(name, _)| *name != "SAOMA_JWT_SECRET");
        env.push(("SAOMA_JWT_SECRET", secret.into()));
        let database = dir.path().join("saoma.db");
        let mut server = Server {
            child: saoma("serve", &env, dir.path()),
            url: String::new(),
            _dir: dir,
        };
        assert_ne!(server.wait(Duration::from_secs(10)), 0, "refused: {secret}");
        let logs = server.output();
        assert!(logs.contains(expected), "{logs}");
        assert!(!database.exists(), "refused before touching the database");
    }
}

#[tokio::test]
async fn dev_still_runs_with_the_development_secret() {
    let env = vec![
        ("SAOMA_PORT", free_port().to_string()),
        ("SAOMA_LOG", "info".into()),
    ];
    let mut server = start_command("dev", &env).await;
    let (status, session) = post(
        &format!("{}/auth/v1/signup", server.url),
        json!({}),
        "10.4.0.1",
    )
    .await;
    assert_eq!(
        status, 200,
        "anonymous sign-in on the dev server: {session}"
    );
    // Mail is kept in the dev mailbox, its pages beside the WeChat simulator's.
    let mailbox = reqwest::get(format!("{}/mailbox/messages?to=a@example.com", server.url))
        .await
        .expect("get");
    assert_eq!(mailbox.status(), 200);
    assert_eq!(mailbox.json::<Value>().await.expect("json"), json!([]));
    let page = reqwest::get(format!("{}/mailbox", server.url))
        .await
        .expect("get");
    assert_eq!(page.status(), 200);
    let simulator = reqwest::get(format!("{}/wechat-sim/sim", server.url))
        .await
        .expect("get");
    assert_eq!(simulator.status(), 200);
    server.terminate();
    assert_eq!(server.wait(Duration::from_secs(10)), 0);
    let logs = server.output();
    assert!(
        logs.contains("/mailbox"),
        "saoma dev says where mail is: {logs}"
    );
}

#[tokio::test]
async fn serve_refuses_the_dev_mailbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("saoma.toml"),
        "[mailer]\ndev_mailbox = true\n",
    )
    .expect("write");
    let env = base_env(free_port(), "saoma.db".into());
    let mut server = Server {
        child: saoma("serve", &env, dir.path()),
        url: String::new(),
        _dir: dir,
    };
    assert_ne!(server.wait(Duration::from_secs(10)), 0);
    let logs = server.output();
    assert!(logs.contains("mailer.dev_mailbox"), "{logs}");
}

#[tokio::test]
async fn two_processes_on_one_postgres_share_users_and_the_rate_limit() {
    let Some(_) = db::pg_admin_url() else {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the two-process Postgres test");
        return;
    };
    let database = db::TestDb::new(db::Backend::Postgres).await;
    let mut env_a = base_env(free_port(), database.url.clone());
    let mut env_b = base_env(free_port(), database.url.clone());
    // Four requests per 5 minutes: the bucket barely refills while the test runs.
    for env in [&mut env_a, &mut env_b] {
        env.push(("SAOMA_RATE_LIMIT_TOKEN_REFRESH", "4".into()));
    }
    // Both migrate the same database at once.
    let (a, b) = tokio::join!(start(&env_a), start(&env_b));

    let (status, _) = post(
        &format!("{}/signup", a.url),
        json!({"email": "both@example.com", "password": "shared-password"}),
        "10.9.9.1",
    )
    .await;
    assert_eq!(status, 200);
    let sign_in = json!({"email": "both@example.com", "password": "shared-password"});
    let mut statuses = Vec::new();
    for (i, server) in [&a, &b, &a, &b, &a].iter().enumerate() {
        let (status, body) = post(
            &format!("{}/token?grant_type=password", server.url),
            sign_in.clone(),
            "10.7.7.7",
        )
        .await;
        if i == 1 {
            assert_eq!(
                status, 200,
                "a user made on one node signs in on the other: {body}"
            );
        }
        statuses.push(status);
    }
    // Four tokens in the bucket for the whole cluster, not four per process.
    assert_eq!(statuses, vec![200, 200, 200, 200, 429]);
    let (status, _) = post(
        &format!("{}/token?grant_type=password", b.url),
        sign_in,
        "10.7.7.8",
    )
    .await;
    assert_eq!(status, 200, "another client has its own bucket");
}
