//! Faults, switched over HTTP as a test harness would.

use saoma_wechat_sim::Faults;

use crate::helpers::{assert_errcode, spawn, APP, SECRET};

#[tokio::test]
async fn faults_read_back_over_http() {
    let sim = spawn().await;
    let none: Faults = sim.get("/sim/faults").await.json().await.unwrap();
    assert_eq!(none, Faults::default());
    let faults = Faults {
        busy: 3,
        duplicate_redirect: true,
        expire_codes: false,
        ..Faults::default()
    };
    sim.put_faults(&faults).await;
    let read: Faults = sim.get("/sim/faults").await.json().await.unwrap();
    assert_eq!(read, faults);
    sim.simulator.set_faults(Faults::default());
    assert_eq!(sim.simulator.faults(), Faults::default());
}

#[tokio::test]
async fn busy_answers_system_error_then_recovers() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    sim.put_faults(&Faults {
        busy: 1,
        ..Faults::default()
    })
    .await;
    assert_errcode(&sim.exchange(APP, SECRET, &code).await, -1, "system error");
    let read: Faults = sim.get("/sim/faults").await.json().await.unwrap();
    assert_eq!(read.busy, 0);
    // The busy answer did not spend the code.
    assert!(sim.exchange(APP, SECRET, &code).await["access_token"].is_string());
}

#[tokio::test]
async fn expire_codes_answers_code_expired() {
    let sim = spawn().await;
    let code = sim.login(APP, "xiaoming").await;
    sim.put_faults(&Faults {
        expire_codes: true,
        ..Faults::default()
    })
    .await;
    assert_errcode(
        &sim.exchange(APP, SECRET, &code).await,
        42003,
        "code expired",
    );
    sim.put_faults(&Faults::default()).await;
    assert!(sim.exchange(APP, SECRET, &code).await["access_token"].is_string());
}

#[tokio::test]
async fn duplicate_redirect_shows_in_the_confirmed_poll() {
    let sim = spawn().await;
    sim.put_faults(&Faults {
        duplicate_redirect: true,
        ..Faults::default()
    })
    .await;
    let uuid = sim.open_login(APP).await;
    assert!(!sim.poll(&uuid).await.body.contains("wx_redirect_count"));
    sim.confirm(&uuid, "xiaoming").await;
    let poll = sim.poll(&uuid).await;
    assert_eq!(poll.errcode, 405);
    assert!(
        poll.body.ends_with("window.wx_redirect_count=2;"),
        "{}",
        poll.body
    );
}
