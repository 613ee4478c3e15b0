//! Identities: the ways a user is known to a provider.

use super::*;

/// A WeChat identity: subject `provider_id` at `provider`, no email.
fn wechat(user_id: Uuid, provider: &str, provider_id: &str, at: DateTime<Utc>) -> Identity {
    Identity {
        id: Uuid::new_v4(),
        provider_id: provider_id.into(),
        provider: provider.into(),
        user_id,
        identity_data: json!({"sub": provider_id, "nickname": "小明"}),
        email: None,
        last_sign_in_at: Some(at),
        created_at: at,
        updated_at: at,
    }
}

conformance!(
    identities_are_found_added_changed_and_removed,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let email = Identity::email(alice.id, "alice@example.com", now());
        store
            .create_user(&alice, std::slice::from_ref(&email))
            .await
            .expect("alice");
        let bob = user(Some("bob@example.com"));
        store.create_user(&bob, &[]).await.expect("bob");
        // One unionid seen through two WeChat apps.
        let mut qr = wechat(
            alice.id,
            "wechat_qr",
            "union-1",
            now() + Duration::seconds(1),
        );
        let mini = wechat(
            alice.id,
            "wechat_mini",
            "union-1",
            now() + Duration::seconds(2),
        );
        store.add_identity(&mini).await.expect("mini");
        store.add_identity(&qr).await.expect("qr");

        assert_eq!(
            store.identities_of(alice.id).await.expect("q"),
            vec![email.clone(), qr.clone(), mini.clone()]
        );
        assert_eq!(
            store
                .identity_by_provider("wechat_qr", "union-1")
                .await
                .expect("q"),
            Some(qr.clone())
        );
        assert_eq!(
            store
                .identity_by_provider("wechat_qr", "union-2")
                .await
                .expect("q"),
            None
        );
        assert_eq!(
            store
                .identity_by_provider("email", "union-1")
                .await
                .expect("q"),
            None
        );
        let mut same_subject = store.identities_by_provider_id("union-1").await.expect("q");
        same_subject.sort_by(|a, b| a.provider.cmp(&b.provider));
        assert_eq!(same_subject, vec![mini.clone(), qr.clone()]);
        assert!(store
            .identities_by_provider_id("union-2")
            .await
            .expect("q")
            .is_empty());

        // An identity belongs to one user only.
        let clash = Identity {
            id: Uuid::new_v4(),
            user_id: bob.id,
            ..qr.clone()
        };
        assert!(matches!(
            store.add_identity(&clash).await,
            Err(StoreError::Conflict("identity"))
        ));
        assert!(store.identities_of(bob.id).await.expect("q").is_empty());

        let at = now() + Duration::minutes(1);
        qr.identity_data = json!({"sub": "union-1", "nickname": "新名字"});
        qr.last_sign_in_at = Some(at);
        qr.updated_at = at;
        store.update_identity(&qr).await.expect("update");
        assert_eq!(
            store
                .identity_by_provider("wechat_qr", "union-1")
                .await
                .expect("q"),
            Some(qr.clone())
        );

        assert!(
            !store.delete_identity(bob.id, qr.id).await.expect("delete"),
            "not bob's to delete"
        );
        assert!(store
            .delete_identity(alice.id, qr.id)
            .await
            .expect("delete"));
        assert!(!store.delete_identity(alice.id, qr.id).await.expect("again"));
        assert_eq!(
            store.identities_of(alice.id).await.expect("q"),
            vec![email, mini]
        );
    }
);
