//! Migrations, health, pool metrics and the sweeper.

use super::*;

conformance!(
    migrations_are_idempotent_and_concurrent_safe,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let (a, b) = tokio::join!(store.migrate(), store.migrate());
        a.expect("first");
        b.expect("second");
        assert!(
            store.user_by_id(alice.id).await.expect("query").is_some(),
            "data kept"
        );
        store.ping().await.expect("ping");
    }
);

conformance!(
    the_sweeper_deletes_only_what_nothing_can_use,
    |store: SharedStore| async move {
        let (alice, live) = alice_with_a_session(&store).await;
        let key = RefreshTokenKey::derive(b"conformance secret");
        let mut ended = Session::new(alice.id, "password", now() - Duration::days(2));
        ended.not_after = Some(now() - Duration::days(1));
        store
            .create_session(&ended, &key.mint(), None)
            .await
            .expect("ended session");
        let old_flow = FlowState::new(
            "wechat_qr",
            "https://a".into(),
            None,
            now() - Duration::hours(2),
        );
        let fresh_flow = FlowState::new("wechat_qr", "https://a".into(), None, now());
        store.create_flow(&old_flow).await.expect("old flow");
        store.create_flow(&fresh_flow).await.expect("fresh flow");
        let t = now().timestamp() as f64;
        assert!(store
            .take_rate_limit_token("idle", 10.0, 1.0, t - 7200.0)
            .await
            .expect("idle"));
        assert!(store
            .take_rate_limit_token("busy", 10.0, 1.0, t)
            .await
            .expect("busy"));

        let old_code = OneTimeToken::new(
            alice.id,
            TokenType::Confirmation,
            "8613800000000",
            "123456",
            now() - Duration::minutes(2),
        );
        let fresh_code = OneTimeToken::new(
            alice.id,
            TokenType::Recovery,
            "8613800000000",
            "654321",
            now(),
        );
        store.issue_one_time_token(&old_code).await.expect("old");
        store
            .issue_one_time_token(&fresh_code)
            .await
            .expect("fresh");

        // Scan tickets: one expired over an hour ago, one expired minutes ago (a browser may
        // still poll it), one live.
        let long_expired = scan_tickets::ticket("LongExpired", now() - Duration::hours(2));
        let just_expired = scan_tickets::ticket("JustExpired", now() - Duration::minutes(10));
        let live_ticket = scan_tickets::ticket("Live", now());
        for t in [&long_expired, &just_expired, &live_ticket] {
            store.create_scan_ticket(t).await.expect("ticket");
        }
        // An app token row is never swept, however old.
        let long_ago = now() - Duration::days(30);
        assert!(store
            .lease_app_token(
                "wxold",
                "node-a",
                long_ago,
                long_ago + Duration::seconds(30)
            )
            .await
            .expect("lease"));

        let plan = saoma::sweeper::plan(now(), Duration::seconds(60));
        let swept = store.sweep(&plan).await.expect("sweep");
        assert_eq!(
            (
                swept.flows,
                swept.rate_limit_buckets,
                swept.sessions,
                swept.one_time_tokens,
                swept.scan_tickets,
                swept.skipped
            ),
            (1, 1, 1, 1, 1, false)
        );
        assert_eq!(store.scan_ticket("LongExpired").await.expect("q"), None);
        assert_eq!(
            store.scan_ticket("JustExpired").await.expect("q"),
            Some(just_expired)
        );
        assert_eq!(
            store.scan_ticket("Live").await.expect("q"),
            Some(live_ticket)
        );
        assert!(store.app_token("wxold").await.expect("q").is_some());
        let codes = |t| store.one_time_token_of(alice.id, t);
        assert_eq!(codes(TokenType::Confirmation).await.expect("q"), None);
        assert!(codes(TokenType::Recovery).await.expect("q").is_some());
        assert_eq!(store.flow_by_id(old_flow.id).await.expect("q"), None);
        assert!(store.flow_by_id(fresh_flow.id).await.expect("q").is_some());
        assert_eq!(store.session_by_id(ended.id).await.expect("q"), None);
        assert!(store.session_by_id(live.id).await.expect("q").is_some());
        // The busy bucket kept its count: it still has 9 of 10, so 9 more are allowed.
        for _ in 0..9 {
            assert!(store
                .take_rate_limit_token("busy", 10.0, 0.0, t)
                .await
                .expect("t"));
        }
        assert!(!store
            .take_rate_limit_token("busy", 10.0, 0.0, t)
            .await
            .expect("t"));

        // Bounded: a batch of one deletes one row of each kind.
        for _ in 0..3 {
            let flow = FlowState::new(
                "wechat_qr",
                "https://a".into(),
                None,
                now() - Duration::hours(2),
            );
            store.create_flow(&flow).await.expect("flow");
        }
        let small = saoma::store::SweepPlan { batch: 1, ..plan };
        assert_eq!(store.sweep(&small).await.expect("sweep").flows, 1);
        assert_eq!(store.sweep(&plan).await.expect("sweep").flows, 2);
    }
);

conformance!(
    pool_stats_count_open_and_idle_connections,
    |store: SharedStore| async move {
        store.ping().await.expect("ping");
        let (open, idle) = store.pool_stats();
        assert!(open >= 1, "the ping's connection is open");
        assert!(idle <= open, "{idle} idle of {open}");
    }
);
