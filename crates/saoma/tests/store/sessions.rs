//! Sessions, their AMR claims and their refresh tokens.

use super::*;
use saoma::domain::session::AmrClaim;

conformance!(
    sessions_and_sign_in_stamp,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, _) = session_for(&store, &alice, &key).await;
        let stored = store
            .session_by_id(session.id)
            .await
            .expect("query")
            .expect("session");
        assert_eq!(stored, session);
        assert_eq!(
            stored.amr,
            vec![AmrClaim {
                method: "password".into(),
                at: session.created_at,
            }]
        );
        let reloaded = store
            .user_by_id(alice.id)
            .await
            .expect("query")
            .expect("user");
        assert_eq!(reloaded.last_sign_in_at, Some(session.created_at));
    }
);

conformance!(
    a_rotation_writes_its_audit_entry_with_it,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, t1) = session_for(&store, &alice, &key).await;
        let entries =
            |store: SharedStore| async move { store.list_audit(0, 10).await.expect("audit").0 };
        let t2 = key.mint();
        let issued = store
            .rotate_refresh_token(&t1, &t2, now(), &POLICY, Some("203.0.113.9"))
            .await
            .expect("rotate");
        assert!(matches!(issued, Rotation::Issued { .. }));
        let written = entries(store.clone()).await;
        assert_eq!(written.len(), 1, "{written:?}");
        let payload = &written[0].payload;
        assert_eq!(payload["action"], "token_refreshed");
        assert_eq!(payload["log_type"], "token");
        assert_eq!(payload["actor_id"], alice.id.to_string());
        assert_eq!(payload["actor_username"], "alice@example.com");
        assert_eq!(payload["actor_name"], "微信用户");
        assert_eq!(payload["traits"]["session_id"], session.id.to_string());
        assert_eq!(written[0].ip_address, "203.0.113.9");

        // Nothing issued, or no address given: no entry.
        store
            .rotate_refresh_token("nope", &key.mint(), now(), &POLICY, Some("203.0.113.9"))
            .await
            .expect("rotate");
        let t3 = key.mint();
        store
            .rotate_refresh_token(&t2.token_hash, &t3, now(), &POLICY, None)
            .await
            .expect("rotate");
        assert_eq!(entries(store.clone()).await.len(), 1);

        // A banned user's refresh is refused before anything changes, as GoTrue does: no
        // entry, and the token still works once the ban is lifted (rotated during the ban, it
        // would count as reused then, and end the session).
        let ban = UserChanges {
            banned_until: Some(Some(now() + Duration::days(1))),
            ..Default::default()
        };
        store.change_user(alice.id, &ban, now()).await.expect("ban");
        let ip = Some("203.0.113.9");
        let later_still = || now() + Duration::minutes(2);
        let banned = store
            .rotate_refresh_token(&t3.token_hash, &key.mint(), now(), &POLICY, ip)
            .await
            .expect("rotate");
        assert_eq!(banned, Rotation::UserBanned);
        // Even a reused token (t2, rotated long ago) ends nothing while the user is banned.
        let reused = store
            .rotate_refresh_token(&t2.token_hash, &key.mint(), later_still(), &POLICY, ip)
            .await
            .expect("rotate");
        assert_eq!(reused, Rotation::UserBanned);
        assert!(store
            .session_by_id(session.id)
            .await
            .expect("query")
            .is_some());
        assert_eq!(entries(store.clone()).await.len(), 1);
        let lifted = UserChanges {
            banned_until: Some(None),
            ..Default::default()
        };
        store
            .change_user(alice.id, &lifted, now())
            .await
            .expect("unban");
        let later = now() + Duration::minutes(5);
        let after_ban = store
            .rotate_refresh_token(&t3.token_hash, &key.mint(), later, &POLICY, ip)
            .await
            .expect("rotate");
        assert!(
            matches!(after_ban, Rotation::Issued { .. }),
            "{after_ban:?}"
        );
        assert_eq!(entries(store.clone()).await.len(), 2);
    }
);

conformance!(
    a_rotation_answers_the_user_and_identities_as_stored,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let email = Identity::email(alice.id, "alice@example.com", now());
        let wechat = wechat_identity(&alice, "o6_answer", now() + Duration::seconds(1));
        store
            .create_user(&alice, &[wechat.clone(), email.clone()])
            .await
            .expect("alice");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (_, token) = session_for(&store, &alice, &key).await;
        // A change committed before the refresh shows in its answer (the response's user).
        let changes = UserChanges {
            user_metadata: Some(json!({"n": 2}).as_object().cloned().expect("object")),
            ..Default::default()
        };
        store
            .change_user(alice.id, &changes, now())
            .await
            .expect("change")
            .expect("alice");
        let fresh = key.mint();
        let Rotation::Issued {
            user, identities, ..
        } = store
            .rotate_refresh_token(&token, &fresh, now(), &POLICY, None)
            .await
            .expect("rotate")
        else {
            panic!("live token must rotate");
        };
        assert_eq!(
            Some(user.clone()),
            store.user_by_id(alice.id).await.expect("user")
        );
        assert_eq!(user.user_metadata["n"], 2);
        assert_eq!(identities, vec![email.clone(), wechat.clone()]);

        // The same for a client that lost its answer and is handed the active token again.
        let Rotation::Issued {
            user: again,
            identities: again_identities,
            nonce,
            ..
        } = store
            .rotate_refresh_token(&token, &key.mint(), now(), &POLICY, None)
            .await
            .expect("rotate again")
        else {
            panic!("a retry inside the reuse interval gets the active token");
        };
        assert_eq!(nonce, fresh.nonce);
        assert_eq!(again, user);
        assert_eq!(again_identities, vec![email, wechat]);
    }
);

conformance!(
    a_rotations_audit_entry_survives_any_metadata,
    |store: SharedStore| async move {
        let key = RefreshTokenKey::derive(b"conformance secret");
        // Whatever a user's metadata holds, the refresh goes through and names the user.
        for (metadata, name) in [
            (json!({ "full_name": 5 }), None),
            (json!([1, 2]), None),
            (json!("text"), None),
            (serde_json::Value::Null, None),
            (json!({ "full_name": "小明" }), Some("小明")),
        ] {
            let mut someone = user(Some(&format!("{}@example.com", Uuid::new_v4())));
            someone.user_metadata = metadata.clone();
            store.create_user(&someone, &[]).await.expect("create");
            let (_, token) = session_for(&store, &someone, &key).await;
            let before = store.list_audit(0, 1).await.expect("audit").1;
            let issued = store
                .rotate_refresh_token(&token, &key.mint(), now(), &POLICY, Some("::1"))
                .await
                .unwrap_or_else(|e| panic!("{metadata}: {e}"));
            assert!(matches!(issued, Rotation::Issued { .. }), "{metadata}");
            let (entries, after) = store.list_audit(0, 1).await.expect("audit");
            assert_eq!(after, before + 1, "{metadata}");
            let payload = &entries[0].payload;
            assert_eq!(payload["actor_id"], someone.id.to_string(), "{metadata}");
            assert_eq!(payload["actor_name"].as_str(), name, "{metadata}");
        }

        // A client that lost its answer gets the active token again: that is logged too.
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let (_, t1) = session_for(&store, &alice, &key).await;
        for _ in 0..2 {
            store
                .rotate_refresh_token(&t1, &key.mint(), now(), &POLICY, Some("::1"))
                .await
                .expect("rotate");
        }
        let (entries, _) = store.list_audit(0, 2).await.expect("audit");
        assert!(entries
            .iter()
            .all(|entry| entry.payload["actor_id"] == alice.id.to_string()));

        // A deleted user is named by no entry (its sessions go with it: nothing to rotate).
        let bob = user(Some("bob@example.com"));
        store.create_user(&bob, &[]).await.expect("create");
        let (_, token) = session_for(&store, &bob, &key).await;
        store.soft_delete_user(bob.id, now()).await.expect("delete");
        let before = store.list_audit(0, 1).await.expect("audit").1;
        let gone = store
            .rotate_refresh_token(&token, &key.mint(), now(), &POLICY, Some("::1"))
            .await
            .expect("rotate");
        assert_eq!(gone, Rotation::NotFound);
        assert_eq!(store.list_audit(0, 1).await.expect("audit").1, before);
    }
);

conformance!(
    rotation_follows_gotrue_rules,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, t1) = session_for(&store, &alice, &key).await;
        let t0 = now();

        let unknown = store
            .rotate_refresh_token("nope", &key.mint(), t0, &POLICY, None)
            .await
            .expect("rotate");
        assert_eq!(unknown, Rotation::NotFound);

        let t2 = key.mint();
        let Rotation::Issued {
            session: s, nonce, ..
        } = store
            .rotate_refresh_token(&t1, &t2, t0, &POLICY, None)
            .await
            .expect("rotate")
        else {
            panic!("live token must rotate");
        };
        assert_eq!((s.id, nonce.as_str()), (session.id, t2.nonce.as_str()));
        assert_eq!(s.refreshed_at, Some(t0));

        // The parent of the active token returns the active token, an hour later too.
        let later = t0 + Duration::hours(1);
        let again = store
            .rotate_refresh_token(&t1, &key.mint(), later, &POLICY, None)
            .await
            .expect("rotate");
        assert!(matches!(again, Rotation::Issued { nonce, .. } if nonce == t2.nonce));

        let t3 = key.mint();
        store
            .rotate_refresh_token(&t2.token_hash, &t3, t0, &POLICY, None)
            .await
            .expect("rotate");
        // t1 is now two rotations old: inside the window it gets a child...
        let child = key.mint();
        let inside = store
            .rotate_refresh_token(&t1, &child, t0 + Duration::seconds(10), &POLICY, None)
            .await
            .expect("rotate");
        assert!(matches!(inside, Rotation::Issued { nonce, .. } if nonce == child.nonce));
        // ...and t2 (revoked, not the parent of the newest token) outside the window ends the session.
        let outside = store
            .rotate_refresh_token(
                &t2.token_hash,
                &key.mint(),
                t0 + Duration::seconds(11),
                &POLICY,
                None,
            )
            .await
            .expect("rotate");
        assert_eq!(
            outside,
            Rotation::Reused {
                session_ended: true,
                user_id: alice.id,
            }
        );
        assert_eq!(store.session_by_id(session.id).await.expect("query"), None);
        let gone = store
            .rotate_refresh_token(&t3.token_hash, &key.mint(), t0, &POLICY, None)
            .await
            .expect("rotate");
        assert_eq!(gone, Rotation::NotFound);
    }
);

conformance!(
    rotation_without_family_revocation,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, t1) = session_for(&store, &alice, &key).await;
        let lenient = RotationPolicy {
            rotation_enabled: false,
            ..POLICY
        };
        let t0 = now();
        let t2 = key.mint();
        store
            .rotate_refresh_token(&t1, &t2, t0, &lenient, None)
            .await
            .expect("rotate");
        store
            .rotate_refresh_token(&t2.token_hash, &key.mint(), t0, &lenient, None)
            .await
            .expect("rotate");
        let reused = store
            .rotate_refresh_token(&t1, &key.mint(), t0 + Duration::minutes(1), &lenient, None)
            .await
            .expect("rotate");
        assert_eq!(
            reused,
            Rotation::Reused {
                session_ended: false,
                user_id: alice.id,
            }
        );
        assert!(store
            .session_by_id(session.id)
            .await
            .expect("query")
            .is_some());
    }
);

conformance!(
    expired_sessions_do_not_refresh,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let mut session = Session::new(alice.id, "password", now());
        session.not_after = Some(now() + Duration::minutes(5));
        let token = key.mint();
        store
            .create_session(&session, &token, None)
            .await
            .expect("session");
        let late = store
            .rotate_refresh_token(
                &token.token_hash,
                &key.mint(),
                now() + Duration::minutes(6),
                &POLICY,
                None,
            )
            .await
            .expect("rotate");
        assert_eq!(late, Rotation::SessionExpired);
    }
);

conformance!(ending_sessions_by_scope, |store: SharedStore| async move {
    let alice = user(Some("alice@example.com"));
    let bob = user(Some("bob@example.com"));
    store.create_user(&alice, &[]).await.expect("alice");
    store.create_user(&bob, &[]).await.expect("bob");
    let key = RefreshTokenKey::derive(b"conformance secret");
    let (a1, _) = session_for(&store, &alice, &key).await;
    let (a2, _) = session_for(&store, &alice, &key).await;
    let (a3, _) = session_for(&store, &alice, &key).await;
    let (b1, _) = session_for(&store, &bob, &key).await;

    assert_eq!(
        store
            .end_sessions(alice.id, a1.id, LogoutScope::Others)
            .await
            .expect("others"),
        2
    );
    assert!(store.session_by_id(a1.id).await.expect("q").is_some());
    assert!(
        store.session_by_id(a2.id).await.expect("q").is_none()
            && store.session_by_id(a3.id).await.expect("q").is_none()
    );
    // Another user's session id ends nothing of alice's, and vice versa.
    assert_eq!(
        store
            .end_sessions(alice.id, b1.id, LogoutScope::Local)
            .await
            .expect("local"),
        0
    );
    assert_eq!(
        store
            .end_sessions(alice.id, a1.id, LogoutScope::Local)
            .await
            .expect("local"),
        1
    );
    assert_eq!(
        store
            .end_sessions(bob.id, Uuid::nil(), LogoutScope::Global)
            .await
            .expect("global"),
        1
    );
});

conformance!(
    every_amr_method_is_kept_in_order,
    |store: SharedStore| async move {
        let (alice, session) = alice_with_a_session(&store).await;
        let claim = |method: &str, at| AmrClaim {
            method: method.into(),
            at,
        };
        let later = session.created_at + Duration::minutes(5);
        assert!(store
            .record_amr_claim(session.id, "otp", later)
            .await
            .expect("otp"));
        let both = vec![claim("password", session.created_at), claim("otp", later)];
        let stored = store
            .session_by_id(session.id)
            .await
            .expect("q")
            .expect("s");
        assert_eq!(stored.amr, both);
        // The token check reads the same claims.
        let principal = store
            .principal(alice.id, Some(session.id))
            .await
            .expect("read")
            .expect("alice");
        assert_eq!(
            principal.session.as_ref().map(|s| s.amr.clone()),
            Some(both)
        );

        // A method used again moves to its new time, and so to the end (GoTrue keeps one
        // claim per method).
        let again = later + Duration::minutes(5);
        assert!(store
            .record_amr_claim(session.id, "password", again)
            .await
            .expect("password again"));
        let stored = store
            .session_by_id(session.id)
            .await
            .expect("q")
            .expect("s");
        assert_eq!(
            stored.amr,
            vec![claim("otp", later), claim("password", again)]
        );

        // Rotation answers the session with every claim too.
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (_, token) = session_for(&store, &alice, &key).await;
        let Rotation::Issued {
            session: rotated, ..
        } = store
            .rotate_refresh_token(&token, &key.mint(), now(), &POLICY, None)
            .await
            .expect("rotate")
        else {
            panic!("live token must rotate");
        };
        assert_eq!(rotated.amr.len(), 1, "another session's claims are its own");

        assert!(!store
            .record_amr_claim(Uuid::new_v4(), "otp", later)
            .await
            .expect("no session"));
    }
);

conformance!(
    a_token_is_presented_as_the_client_sent_it,
    |store: SharedStore| async move {
        let (alice, _) = alice_with_a_session(&store).await;
        let key = RefreshTokenKey::derive(b"conformance secret");
        let session = Session::new(alice.id, "password", now());
        let token = key.mint();
        store
            .create_session(&session, &token, None)
            .await
            .expect("session");
        let fresh = key.mint();
        let issued = store
            .present_refresh_token(&token.plaintext, &fresh, now(), &POLICY, None)
            .await
            .expect("present");
        assert!(
            matches!(&issued, Rotation::Issued { session: s, nonce, .. } if s.id == session.id && *nonce == fresh.nonce),
            "{issued:?}"
        );
        // What the store keeps is not a token.
        assert_eq!(
            store
                .present_refresh_token(&fresh.token_hash, &key.mint(), now(), &POLICY, None)
                .await
                .expect("present"),
            Rotation::NotFound
        );
    }
);

conformance!(
    a_stored_hash_is_never_a_gotrue_token,
    |store: SharedStore| async move {
        // saoma's rows keep a hash where GoTrue's keep the token: presented as one of
        // GoTrue's plain tokens, the hash must not match its own row.
        let key = RefreshTokenKey::derive(b"conformance secret");
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("alice");
        let (_, hash) = session_for(&store, &alice, &key).await;
        assert_eq!(
            store
                .rotate_gotrue_refresh_token(&hash, &key.mint(), now(), &POLICY, None)
                .await
                .expect("rotate"),
            Rotation::NotFound
        );
    }
);

/// Postgres only (the only backend GoTrue ran on): a token GoTrue issued and kept in plain
/// text rotates into one of saoma's.
#[tokio::test]
async fn postgres_rotates_a_token_gotrue_issued() {
    if db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres conformance checks");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let store = store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let (alice, session) = alice_with_a_session(&store).await;
    let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
    // GoTrue's row: the token itself, no nonce; the session's newest token.
    let gotrue_token = "gotrue-plain-token1";
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, \
         updated_at, session_id) VALUES ('00000000-0000-0000-0000-000000000000', $1, $2, \
         false, $3, $3, $4)",
    )
    .bind(gotrue_token)
    .bind(alice.id.to_string())
    .bind(now())
    .bind(session.id)
    .execute(&pool)
    .await
    .expect("GoTrue's token");

    let key = RefreshTokenKey::derive(b"conformance secret");
    let fresh = key.mint();
    let issued = store
        .rotate_gotrue_refresh_token(gotrue_token, &fresh, now(), &POLICY, None)
        .await
        .expect("rotate");
    assert!(
        matches!(&issued, Rotation::Issued { session: s, nonce, .. } if s.id == session.id && *nonce == fresh.nonce),
        "{issued:?}"
    );
    // The child is saoma's: found by its hash from now on.
    let next = store
        .present_refresh_token(&fresh.plaintext, &key.mint(), now(), &POLICY, None)
        .await
        .expect("present");
    assert!(matches!(next, Rotation::Issued { .. }), "{next:?}");
    assert_eq!(
        store
            .rotate_gotrue_refresh_token("gotrue-unknown-token", &key.mint(), now(), &POLICY, None)
            .await
            .expect("rotate"),
        Rotation::NotFound
    );
}

conformance!(
    a_login_entry_is_stored_with_its_session_or_not_at_all,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let logged = |entries: &[AuditEntry], id: Uuid| entries.iter().any(|e| e.id == id);

        let session = Session::new(alice.id, "password", now());
        let login = AuditEntry::new(Action::Login, &alice, json!({}), "10.0.0.1", now());
        store
            .create_session(&session, &key.mint(), Some(&login))
            .await
            .expect("session");
        let (entries, _) = store.list_audit(0, 50).await.expect("audit");
        assert!(logged(&entries, login.id), "the login entry was not stored");
        assert!(store
            .session_by_id(session.id)
            .await
            .expect("read")
            .is_some());

        // An entry that cannot be stored (its id is taken: the insert after the session's
        // statements fails) leaves no session either, and the user's last sign-in as it was.
        let before = store
            .user_by_id(alice.id)
            .await
            .expect("read")
            .expect("alice");
        let taken = AuditEntry::new(Action::Login, &alice, json!({}), "10.0.0.2", now());
        store.record_audit(&taken).await.expect("entry");
        let later = Session::new(alice.id, "password", now() + Duration::seconds(5));
        store
            .create_session(&later, &key.mint(), Some(&taken))
            .await
            .expect_err("an entry whose id is taken");
        assert!(
            store.session_by_id(later.id).await.expect("read").is_none(),
            "a session was stored without its login entry"
        );
        let after = store
            .user_by_id(alice.id)
            .await
            .expect("read")
            .expect("alice");
        assert_eq!(after.last_sign_in_at, before.last_sign_in_at);
    }
);
