//! Scan-to-log-in tickets.

use super::*;
use saoma::domain::scan_ticket::{ScanStatus, ScanTicket, SCAN_TICKET_LIFETIME};

pub(super) fn ticket(scene: &str, at: DateTime<Utc>) -> ScanTicket {
    ScanTicket {
        scene: scene.into(),
        provider: "wechat_mini_qr".into(),
        flow_id: Uuid::new_v4(),
        browser_secret_hash: "5e".repeat(32),
        status: ScanStatus::Waiting,
        person: None,
        created_at: at,
        expires_at: at + SCAN_TICKET_LIFETIME,
        updated_at: at,
    }
}

const PERSON: &str = r#"{"id":"oAbC123","name":"微信用户","email":null}"#;

conformance!(
    a_ticket_reads_back_as_created_and_its_scene_is_unique,
    |store: SharedStore| async move {
        let at = now();
        let waiting = ticket("Scene01", at);
        let confirmed = ScanTicket {
            provider: "wechat_mp_qr".into(),
            status: ScanStatus::Confirmed,
            person: Some(PERSON.into()),
            updated_at: at + Duration::seconds(3),
            ..ticket("Scene02", at)
        };
        for t in [&waiting, &confirmed] {
            store.create_scan_ticket(t).await.expect("create");
            let read = store.scan_ticket(&t.scene).await.expect("read");
            assert_eq!(read.as_ref(), Some(t));
        }
        assert_eq!(store.scan_ticket("Unknown").await.expect("read"), None);

        let again = ScanTicket {
            flow_id: Uuid::new_v4(),
            ..waiting.clone()
        };
        let err = store.create_scan_ticket(&again).await.expect_err("taken");
        assert!(
            matches!(err, StoreError::Conflict("scan ticket")),
            "{err:?}"
        );
        assert_eq!(
            store.scan_ticket("Scene01").await.expect("read"),
            Some(waiting),
            "the first ticket is kept"
        );
    }
);

conformance!(
    a_ticket_moves_only_from_the_listed_statuses,
    |store: SharedStore| async move {
        use ScanStatus::*;
        let at = now();
        let waiting = ticket("Scene03", at);
        store.create_scan_ticket(&waiting).await.expect("create");
        let status = |scene: &'static str| {
            let store = store.clone();
            async move {
                store
                    .scan_ticket(scene)
                    .await
                    .expect("read")
                    .expect("ticket")
            }
        };
        let later = at + Duration::seconds(5);

        let moved = store
            .advance_scan_ticket("Scene03", &[Scanned], Confirmed, Some(PERSON), later)
            .await
            .expect("advance");
        assert!(!moved, "a waiting ticket is not confirmed from scanned");
        assert_eq!(status("Scene03").await, waiting, "unchanged");

        assert!(store
            .advance_scan_ticket("Scene03", &[Waiting], Scanned, None, later)
            .await
            .expect("scan"));
        let scanned = status("Scene03").await;
        assert_eq!((scanned.status, scanned.updated_at), (Scanned, later));
        assert_eq!(scanned.person, None);

        let confirm_at = later + Duration::seconds(5);
        assert!(store
            .advance_scan_ticket(
                "Scene03",
                &[Waiting, Scanned],
                Confirmed,
                Some(PERSON),
                confirm_at
            )
            .await
            .expect("confirm"));
        let confirmed = status("Scene03").await;
        assert_eq!(
            (confirmed.status, confirmed.person.as_deref()),
            (Confirmed, Some(PERSON)),
            "the person is recorded"
        );
        assert_eq!(confirmed.updated_at, confirm_at);

        assert!(!store
            .advance_scan_ticket("Scene03", &[Waiting, Scanned], Cancelled, None, confirm_at)
            .await
            .expect("cancel"));
        assert!(store
            .advance_scan_ticket("Scene03", &[Confirmed], Redeemed, None, confirm_at)
            .await
            .expect("redeem"));
        let redeemed = status("Scene03").await;
        assert_eq!(
            (redeemed.status, redeemed.person.as_deref()),
            (Redeemed, Some(PERSON)),
            "moving on without a person keeps the one recorded"
        );
        assert!(
            !store
                .advance_scan_ticket("Scene03", &[Confirmed], Redeemed, None, confirm_at)
                .await
                .expect("redeem again"),
            "a ticket is redeemed once"
        );
        assert!(!store
            .advance_scan_ticket("Unknown", &[Waiting], Scanned, None, confirm_at)
            .await
            .expect("unknown"));
    }
);

conformance!(
    an_expired_ticket_does_not_move,
    |store: SharedStore| async move {
        let at = now();
        let waiting = ticket("Scene04", at);
        store.create_scan_ticket(&waiting).await.expect("create");
        for when in [
            waiting.expires_at,
            waiting.expires_at + Duration::minutes(1),
        ] {
            let moved = store
                .advance_scan_ticket(
                    "Scene04",
                    &[ScanStatus::Waiting],
                    ScanStatus::Confirmed,
                    Some(PERSON),
                    when,
                )
                .await
                .expect("advance");
            assert!(!moved, "expired at {when}");
        }
        assert_eq!(
            store.scan_ticket("Scene04").await.expect("read"),
            Some(waiting)
        );
    }
);

conformance!(
    two_confirms_at_once_only_one_wins,
    |store: SharedStore| async move {
        let at = now();
        for round in 0..5 {
            let scene = format!("Race{round}");
            store
                .create_scan_ticket(&ticket(&scene, at))
                .await
                .expect("create");
            let confirm = |person: &'static str| {
                let store = store.clone();
                let scene = scene.clone();
                tokio::spawn(async move {
                    store
                        .advance_scan_ticket(
                            &scene,
                            &[ScanStatus::Waiting, ScanStatus::Scanned],
                            ScanStatus::Confirmed,
                            Some(person),
                            at + Duration::seconds(1),
                        )
                        .await
                        .expect("confirm")
                })
            };
            let (a, b) = (confirm(r#"{"id":"a"}"#), confirm(r#"{"id":"b"}"#));
            let (a, b) = (a.await.expect("a"), b.await.expect("b"));
            assert!(a ^ b, "round {round}: exactly one wins ({a}, {b})");
            let winner = if a { r#"{"id":"a"}"# } else { r#"{"id":"b"}"# };
            let stored = store
                .scan_ticket(&scene)
                .await
                .expect("read")
                .expect("ticket");
            assert_eq!(stored.person.as_deref(), Some(winner), "round {round}");
        }
    }
);
