//! OAuth flows.

use super::*;
use saoma::domain::flow::{hash_code, Challenge, ChallengeMethod};

conformance!(
    a_flow_is_completed_once_and_used_once,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("alice");
        let challenge = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: ChallengeMethod::S256,
        };
        let mut flow = FlowState::new(
            "wechat_qr",
            "https://app.example/callback".into(),
            Some(challenge),
            now(),
        );
        flow.linking_target_id = Some(alice.id);
        store.create_flow(&flow).await.expect("create");
        assert_eq!(
            store.flow_by_id(flow.id).await.expect("q"),
            Some(flow.clone())
        );
        assert_eq!(store.flow_by_id(Uuid::new_v4()).await.expect("q"), None);

        let issued = now() + Duration::seconds(5);
        let completed = FlowState {
            user_id: Some(alice.id),
            auth_code: Some("code-1".into()),
            auth_code_issued_at: Some(issued),
            provider_access_token: Some("provider access".into()),
            provider_refresh_token: Some("provider refresh".into()),
            provider_code_hash: Some(hash_code("wechat code")),
            ..flow.clone()
        };
        assert!(store.complete_flow(&completed).await.expect("complete"));
        // A repeated or concurrent callback finds it completed and changes nothing.
        let late = FlowState {
            auth_code: Some("code-2".into()),
            ..completed.clone()
        };
        assert!(!store.complete_flow(&late).await.expect("again"));
        assert_eq!(
            store.flow_by_auth_code("code-1").await.expect("q"),
            Some(completed.clone())
        );
        assert_eq!(store.flow_by_auth_code("code-2").await.expect("q"), None);
        assert_eq!(store.flow_by_id(flow.id).await.expect("q"), Some(completed));

        // A code is exchanged once: the second delete finds nothing.
        assert!(store.delete_flow(flow.id).await.expect("delete"));
        assert!(!store.delete_flow(flow.id).await.expect("again"));
        assert_eq!(store.flow_by_id(flow.id).await.expect("q"), None);
    }
);

conformance!(
    an_email_links_flow_is_found_by_its_user_and_method_until_completed,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("alice");
        let challenge = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: ChallengeMethod::S256,
        };
        let flow_for = |method: &str, at| {
            let mut flow = FlowState::new(
                "email",
                "https://app.example/confirm".into(),
                Some(challenge.clone()),
                at,
            );
            flow.authentication_method = method.into();
            flow.user_id = Some(alice.id);
            flow
        };
        let older = flow_for("recovery", now() - Duration::seconds(30));
        let newer = flow_for("recovery", now());
        let other = flow_for("magiclink", now());
        for flow in [&older, &newer, &other] {
            store.create_flow(flow).await.expect("create");
        }
        assert_eq!(
            store.flow_by_id(newer.id).await.expect("q"),
            Some(newer.clone())
        );
        assert_eq!(
            store
                .pending_flow_of(alice.id, "recovery")
                .await
                .expect("q"),
            Some(newer.clone())
        );
        assert_eq!(
            store
                .pending_flow_of(Uuid::new_v4(), "recovery")
                .await
                .expect("q"),
            None
        );
        // Once it handed out its code, the next pending one is found.
        let completed = FlowState {
            auth_code: Some("code".into()),
            auth_code_issued_at: Some(now()),
            ..newer.clone()
        };
        assert!(store.complete_flow(&completed).await.expect("complete"));
        assert_eq!(
            store
                .pending_flow_of(alice.id, "recovery")
                .await
                .expect("q"),
            Some(older)
        );
    }
);
