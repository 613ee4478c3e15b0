//! The QR page's poll through a ticket's life, and the phone pages.

use crate::helpers::{spawn, APP};

#[tokio::test]
async fn waiting_scanned_confirmed() {
    let sim = spawn().await;
    let uuid = sim.open_login(APP).await;
    let waiting = sim.poll(&uuid).await;
    assert_eq!(waiting.body, "window.wx_errcode=408;window.wx_code='';");

    let phone = sim.scan(&uuid).await;
    assert!(phone.contains("「saoma 演示网站」"), "{phone}");
    for persona in ["xiaoming", "xiaohong", "laowang"] {
        let radio = format!("name=\"persona\" value=\"{persona}\"");
        assert!(phone.contains(&radio), "{radio}");
    }
    for text in ["id=\"confirm\"", "id=\"cancel\"", "确认登录", "取消"] {
        assert!(phone.contains(text), "{text}");
    }
    assert_eq!(sim.poll(&uuid).await.errcode, 404);

    let confirmed = sim.confirm(&uuid, "xiaohong").await;
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("已确认登录"));
    let poll = sim.poll(&uuid).await;
    assert_eq!(poll.errcode, 405);
    assert!(poll.code.len() >= 16, "{poll:?}");
    assert!(!poll.body.contains("wx_redirect_count"));
    // Later polls keep answering the same code.
    assert_eq!(sim.poll(&uuid).await.code, poll.code);
}

#[tokio::test]
async fn cancelled() {
    let sim = spawn().await;
    let uuid = sim.open_login(APP).await;
    sim.scan(&uuid).await;
    let cancelled = sim.cancel(&uuid).await;
    assert_eq!(cancelled.status(), 200);
    assert!(cancelled.text().await.unwrap().contains("已取消登录"));
    let poll = sim.poll(&uuid).await;
    assert_eq!(poll.body, "window.wx_errcode=403;window.wx_code='';");
}

#[tokio::test]
async fn a_settled_ticket_cannot_be_used_again() {
    let sim = spawn().await;
    let uuid = sim.open_login(APP).await;
    sim.confirm(&uuid, "xiaoming").await;
    let again = sim.get(&format!("/sim/phone/{uuid}")).await;
    assert!(again.text().await.unwrap().contains("二维码已使用"));
    let cancel = sim.cancel(&uuid).await.text().await.unwrap();
    assert!(cancel.contains("二维码已使用"));
    assert_eq!(sim.poll(&uuid).await.errcode, 405);
}

#[tokio::test]
async fn unknown_tickets_and_personas() {
    let sim = spawn().await;
    assert_eq!(sim.poll("nope").await.errcode, 402);
    let unknown = sim.get("/sim/phone/nope").await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("二维码不存在"));
    let uuid = sim.open_login(APP).await;
    assert_eq!(sim.confirm(&uuid, "nobody").await.status(), 400);
    assert_eq!(sim.poll(&uuid).await.errcode, 408);
}
