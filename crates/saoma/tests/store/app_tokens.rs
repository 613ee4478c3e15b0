//! Provider apps' access tokens and the lease that lets one node at a time fetch one.

use super::*;
use chrono::TimeZone;

const APP: &str = "wx0123456789abcdef";

conformance!(
    the_first_holder_keeps_the_lease_until_it_runs_out,
    |store: SharedStore| async move {
        let t = now();
        assert_eq!(store.app_token(APP).await.expect("read"), None);
        let lease = |holder: &'static str, at: DateTime<Utc>, until: DateTime<Utc>| {
            let store = store.clone();
            async move {
                store
                    .lease_app_token(APP, holder, at, until)
                    .await
                    .expect("lease")
            }
        };

        assert!(lease("node-a", t, t + Duration::seconds(30)).await);
        let row = store.app_token(APP).await.expect("read").expect("row");
        assert_eq!(
            row,
            AppToken {
                app_id: APP.into(),
                access_token: None,
                expires_at: None,
                lease_holder: Some("node-a".into()),
                lease_until: Some(t + Duration::seconds(30)),
                forced_at: None,
                forced_today: 0,
                updated_at: t,
            }
        );

        let during = t + Duration::seconds(10);
        assert!(
            !lease("node-b", during, during + Duration::seconds(30)).await,
            "refused while node-a's lease runs"
        );
        assert!(
            lease("node-a", during, t + Duration::seconds(40)).await,
            "the holder renews"
        );
        let renewed = store.app_token(APP).await.expect("read").expect("row");
        assert_eq!(renewed.lease_until, Some(t + Duration::seconds(40)));
        assert!(
            !lease(
                "node-b",
                t + Duration::seconds(39),
                t + Duration::minutes(1)
            )
            .await
        );

        let after = t + Duration::seconds(40);
        assert!(
            lease("node-b", after, after + Duration::seconds(30)).await,
            "taken once the lease ran out"
        );
        let taken = store.app_token(APP).await.expect("read").expect("row");
        assert_eq!(taken.lease_holder.as_deref(), Some("node-b"));
        assert!(
            !store
                .store_app_token(
                    APP,
                    "node-a",
                    "late",
                    after + Duration::hours(2),
                    false,
                    after
                )
                .await
                .expect("store"),
            "the old holder no longer stores"
        );
        assert_eq!(
            store
                .app_token(APP)
                .await
                .expect("read")
                .expect("row")
                .access_token,
            None
        );
    }
);

conformance!(
    two_nodes_leasing_at_once_only_one_wins,
    |store: SharedStore| async move {
        let t = now();
        for round in 0..5 {
            let app = format!("wxrace{round}");
            let lease = |holder: &'static str| {
                let store = store.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    store
                        .lease_app_token(&app, holder, t, t + Duration::seconds(30))
                        .await
                        .expect("lease")
                })
            };
            let (a, b) = (lease("node-a"), lease("node-b"));
            let (a, b) = (a.await.expect("a"), b.await.expect("b"));
            assert!(a ^ b, "round {round}: exactly one wins ({a}, {b})");
            let row = store.app_token(&app).await.expect("read").expect("row");
            let winner = if a { "node-a" } else { "node-b" };
            assert_eq!(row.lease_holder.as_deref(), Some(winner));
        }
    }
);

conformance!(
    only_the_holder_stores_and_storing_ends_the_lease,
    |store: SharedStore| async move {
        let t = now();
        let until = t + Duration::seconds(30);
        assert!(store
            .lease_app_token(APP, "node-a", t, until)
            .await
            .expect("lease"));
        let expires = t + Duration::hours(2);
        let at = t + Duration::seconds(1);
        assert!(!store
            .store_app_token(APP, "node-b", "theirs", expires, false, at)
            .await
            .expect("store"));
        assert!(store
            .store_app_token(APP, "node-a", "sealed-token", expires, false, at)
            .await
            .expect("store"));
        let row = store.app_token(APP).await.expect("read").expect("row");
        assert_eq!(
            row,
            AppToken {
                app_id: APP.into(),
                access_token: Some("sealed-token".into()),
                expires_at: Some(expires),
                lease_holder: None,
                lease_until: None,
                forced_at: None,
                forced_today: 0,
                updated_at: at,
            }
        );
        assert!(
            !store
                .store_app_token(APP, "node-a", "again", expires, false, at)
                .await
                .expect("store"),
            "the lease ended with the store"
        );
        assert!(
            store
                .lease_app_token(APP, "node-b", at, at + Duration::seconds(30))
                .await
                .expect("lease"),
            "free for the next holder at once"
        );
        assert!(
            !store
                .store_app_token("wxunknown", "node-a", "t", expires, false, at)
                .await
                .expect("store"),
            "no row, no holder"
        );
    }
);

conformance!(
    forced_refreshes_are_counted_per_utc_day,
    |store: SharedStore| async move {
        let late = Utc
            .with_ymd_and_hms(2030, 1, 1, 23, 0, 0)
            .single()
            .expect("time");
        let refresh = |at: DateTime<Utc>, forced: bool| {
            let store = store.clone();
            async move {
                assert!(store
                    .lease_app_token(APP, "node-a", at, at + Duration::seconds(30))
                    .await
                    .expect("lease"));
                assert!(store
                    .store_app_token(APP, "node-a", "t", at + Duration::hours(2), forced, at)
                    .await
                    .expect("store"));
                let row = store.app_token(APP).await.expect("read").expect("row");
                (row.forced_at, row.forced_today)
            }
        };
        assert_eq!(refresh(late, true).await, (Some(late), 1));
        let later = late + Duration::minutes(30);
        assert_eq!(refresh(later, true).await, (Some(later), 2));
        assert_eq!(
            refresh(later + Duration::minutes(10), false).await,
            (Some(later), 2),
            "an ordinary refresh is not counted"
        );
        let next_day = late + Duration::hours(1) + Duration::minutes(10);
        assert_eq!(
            refresh(next_day, true).await,
            (Some(next_day), 1),
            "a new UTC day starts at one"
        );
        assert_eq!(
            refresh(next_day + Duration::minutes(1), true).await,
            (Some(next_day + Duration::minutes(1)), 2)
        );
    }
);

conformance!(
    a_released_lease_is_free_for_the_next_holder,
    |store: SharedStore| async move {
        let t = now();
        let until = t + Duration::seconds(30);
        assert!(store
            .lease_app_token(APP, "node-a", t, until)
            .await
            .expect("lease"));
        store
            .release_app_token_lease(APP, "node-b")
            .await
            .expect("release by another");
        assert!(
            !store
                .lease_app_token(APP, "node-b", t, until)
                .await
                .expect("lease"),
            "only the holder releases"
        );
        store
            .release_app_token_lease(APP, "node-a")
            .await
            .expect("release");
        let row = store.app_token(APP).await.expect("read").expect("row");
        assert_eq!((row.lease_holder, row.lease_until), (None, None));
        assert!(store
            .lease_app_token(APP, "node-b", t, until)
            .await
            .expect("lease"));
    }
);
