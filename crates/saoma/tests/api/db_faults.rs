//! A database that restarts, kills saoma's connections, or is not up yet when saoma starts:
//! clients see retried reads or 503s (which supabase-js retries), never a 500. Postgres only:
//! these faults are a server's (the SQLite file has no connections to lose).

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use saoma::{clock::ManualClock, Application};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

fn on_postgres() -> bool {
    if Backend::from_env() == Backend::Postgres {
        return true;
    }
    eprintln!("database faults are Postgres faults: run with SAOMA_TEST_DATABASE=postgres");
    false
}

/// Ends every connection to `url`'s database but the one asking.
async fn terminate_connections(url: &str) -> u64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&pool)
    .await
    .expect("terminate");
    pool.close().await;
    killed.len() as u64
}

#[tokio::test]
async fn terminated_connections_give_503s_or_retries_never_500s() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app_with(|config| config.rate_limit.enabled = false).await;
    let email = unique_email();
    app.sign_up(&email).await;
    let url = app.db.as_ref().expect("db").url.clone();

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (client, base, email) = (app.client.clone(), app.address.clone(), email.clone());
        workers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while Instant::now() < deadline {
                let signed_in = client
                    .post(format!("{base}/auth/v1/token?grant_type=password"))
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await
                    .expect("send");
                statuses.push(signed_in.status());
                let Ok(session) = signed_in.json::<serde_json::Value>().await else {
                    continue;
                };
                if let Some(token) = session["access_token"].as_str() {
                    let me = client
                        .get(format!("{base}/auth/v1/user"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .expect("send");
                    statuses.push(me.status());
                }
                if let Some(refresh) = session["refresh_token"].as_str() {
                    let refreshed = client
                        .post(format!("{base}/auth/v1/token?grant_type=refresh_token"))
                        .json(&json!({"refresh_token": refresh}))
                        .send()
                        .await
                        .expect("send");
                    statuses.push(refreshed.status());
                }
            }
            statuses
        }));
    }
    let mut killed = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        killed += terminate_connections(&url).await;
    }
    let mut statuses = Vec::new();
    for worker in workers {
        statuses.extend(worker.await.expect("worker"));
    }
    assert!(killed > 0, "the test terminated no connection");
    let unexpected: Vec<_> = statuses
        .iter()
        .filter(|s| !matches!(**s, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only successes and 503s while connections die, got {unexpected:?}"
    );
    // And the pool has healed: everything works again.
    assert_eq!(app.sign_in(&email, PASSWORD).await.status, StatusCode::OK);
}

/// Forwards connections on `listener` to `target` until the test ends.
async fn forward(listener: TcpListener, target: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test]
async fn serve_waits_for_a_database_that_starts_later() {
    if !on_postgres() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let at = db.url.find('@').expect("user@host") + 1;
    let slash = at + db.url[at..].find('/').expect("/database");
    let real = db.url[at..slash].to_owned();
    // A port with nothing on it yet: the "database" is down when saoma starts.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = test_config();
    config.database_url = format!("{}127.0.0.1:{port}{}", &db.url[..at], &db.url[slash..]);
    config.database_wait_seconds = 20;
    let clock = ManualClock::new(Utc::now());
    let started = tokio::spawn(Application::build(config.clone(), clock.clone()));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!started.is_finished(), "saoma gave up instead of waiting");
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    tokio::spawn(forward(listener, real));

    let application = tokio::time::timeout(Duration::from_secs(15), started)
        .await
        .expect("saoma started once the database was up")
        .expect("join")
        .expect("build");
    let address = format!("http://127.0.0.1:{}", application.port());
    let app = TestApp::serve(application, address, clock, config, db);
    app.sign_up(&unique_email()).await;
}

#[tokio::test]
async fn a_wrong_database_name_fails_at_once_with_its_cause() {
    if !on_postgres() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let mut config = test_config();
    let slash = db.url.rfind('/').expect("/database");
    config.database_url = format!("{}/saoma_no_such_database", &db.url[..slash]);
    config.database_wait_seconds = 20;
    let started = Instant::now();
    let failure = Application::build(config, ManualClock::new(Utc::now()))
        .await
        .err()
        .expect("no such database");
    assert!(started.elapsed() < Duration::from_secs(5), "no waiting");
    assert!(
        format!("{failure:#}").contains("unknown database"),
        "{failure:#}"
    );
}
