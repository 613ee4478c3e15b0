//! Users: accounts, their rows, and the token check's read.

use super::*;

conformance!(users_round_trip, |store: SharedStore| async move {
    let mut alice = user(Some("alice@example.com"));
    alice.email_confirmed_at = Some(now());
    alice.phone_change = Some("8613900000009".into());
    alice.phone_change_sent_at = Some(now());
    alice.invited_at = Some(now());
    alice.recovery_sent_at = Some(now());
    alice.email_change = Some("alice@new.example.com".into());
    alice.email_change_sent_at = Some(now());
    alice.email_change_confirm_status = 1;
    alice.reauthentication_sent_at = Some(now());
    let identity = Identity::email(alice.id, "alice@example.com", now());
    store
        .create_user(&alice, std::slice::from_ref(&identity))
        .await
        .expect("create");

    assert_eq!(
        store.user_by_id(alice.id).await.expect("by id"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .user_by_email("alice@example.com")
            .await
            .expect("by email"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .user_by_email("bob@example.com")
            .await
            .expect("by email"),
        None
    );
    assert_eq!(store.user_by_id(Uuid::new_v4()).await.expect("by id"), None);
    assert_eq!(
        store.identities_of(alice.id).await.expect("identities"),
        vec![identity]
    );

    let at = now();
    let changes = UserChanges {
        user_metadata: json!({"nickname": "阿丽", "n": null}).as_object().cloned(),
        banned_until: Some(Some(at + Duration::days(1))),
        is_anonymous: Some(true),
        // No pending number is stored as GoTrue stores it ('') and read back as none.
        phone_change: Some(None),
        phone_change_sent_at: Some(Some(at)),
        // The same for a pending address.
        email_change: Some(None),
        email_change_confirm_status: Some(0),
        confirmation_sent_at: Some(Some(at)),
        recovery_sent_at: Some(None),
        ..Default::default()
    };
    let written = store
        .change_user(alice.id, &changes, at)
        .await
        .expect("update")
        .expect("alice");
    let mut expected = alice.clone();
    expected.user_metadata = json!({"full_name": "微信用户", "nickname": "阿丽"});
    expected.banned_until = Some(at + Duration::days(1));
    expected.is_anonymous = true;
    expected.phone_change = None;
    expected.phone_change_sent_at = Some(at);
    expected.email_change = None;
    expected.email_change_confirm_status = 0;
    expected.confirmation_sent_at = Some(at);
    expected.recovery_sent_at = None;
    expected.updated_at = at;
    assert_eq!(written, expected);
    assert_eq!(
        store.user_by_id(alice.id).await.expect("by id"),
        Some(expected)
    );
});

conformance!(
    emails_and_identities_are_unique,
    |store: SharedStore| async move {
        let first = user(Some("same@example.com"));
        store.create_user(&first, &[]).await.expect("first");
        let second = user(Some("same@example.com"));
        assert!(matches!(
            store.create_user(&second, &[]).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.user_by_id(second.id).await.expect("query"),
            None,
            "nothing half-written"
        );

        // An identity (provider, subject) belongs to one user only; a clash rolls the whole
        // sign-up back.
        let owner = user(Some("owner@example.com"));
        let identity = Identity::email(owner.id, "owner@example.com", now());
        store
            .create_user(&owner, std::slice::from_ref(&identity))
            .await
            .expect("owner");
        let intruder = user(Some("intruder@example.com"));
        let clash = Identity {
            id: Uuid::new_v4(),
            user_id: intruder.id,
            ..identity
        };
        assert!(matches!(
            store.create_user(&intruder, &[clash]).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.user_by_id(intruder.id).await.expect("query"),
            None,
            "the user insert rolled back too"
        );

        let taken = UserChanges {
            email: Some(Some("owner@example.com".into())),
            ..Default::default()
        };
        assert!(matches!(
            store.change_user(first.id, &taken, now()).await,
            Err(StoreError::Conflict(_))
        ));
    }
);

conformance!(
    an_account_is_written_whole_or_not_at_all,
    |store: SharedStore| async move {
        let key = RefreshTokenKey::derive(b"conformance secret");
        let alice = user(Some("alice@example.com"));
        let identity = Identity::email(alice.id, "alice@example.com", now());
        let session = Session::new(alice.id, "password", now());
        let token = key.mint();
        let audit = [
            AuditEntry::new(Action::UserSignedUp, &alice, json!({}), "", now()),
            AuditEntry::new(Action::Login, &alice, json!({}), "", now()),
        ];
        store
            .create_account(&NewAccount {
                user: &alice,
                identities: std::slice::from_ref(&identity),
                session: Some((&session, &token)),
                audit: &audit,
            })
            .await
            .expect("account");
        assert!(store.user_by_id(alice.id).await.expect("user").is_some());
        assert_eq!(store.identities_of(alice.id).await.expect("ids").len(), 1);
        assert!(store.session_by_id(session.id).await.expect("s").is_some());
        assert_eq!(store.list_audit(0, 10).await.expect("audit").1, 2);

        // A clash in a later statement (the identity) leaves nothing of the account behind:
        // no user, no session, no audit entry.
        let bob = user(Some("bob@example.com"));
        let clash = Identity {
            id: Uuid::new_v4(),
            user_id: bob.id,
            ..identity
        };
        let bobs_session = Session::new(bob.id, "password", now());
        let bobs_token = key.mint();
        let bobs_audit = [AuditEntry::new(
            Action::UserSignedUp,
            &bob,
            json!({}),
            "",
            now(),
        )];
        assert!(matches!(
            store
                .create_account(&NewAccount {
                    user: &bob,
                    identities: &[clash],
                    session: Some((&bobs_session, &bobs_token)),
                    audit: &bobs_audit,
                })
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.user_by_id(bob.id).await.expect("user"), None);
        assert_eq!(store.session_by_id(bobs_session.id).await.expect("s"), None);
        assert_eq!(store.list_audit(0, 10).await.expect("audit").1, 2);
    }
);

conformance!(
    concurrent_changes_to_one_user_all_hold,
    |store: SharedStore| async move {
        let (alice, session) = alice_with_a_session(&store).await;
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (other, _) = session_for(&store, &alice, &key).await;
        let until = now() + Duration::days(3);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let changes = UserChanges {
                    user_metadata: Some(
                        json!({ format!("k{i}"): i })
                            .as_object()
                            .cloned()
                            .expect("object"),
                    ),
                    ..Default::default()
                };
                store.change_user(alice.id, &changes, now()).await
            }));
        }
        let ban = UserChanges {
            banned_until: Some(Some(until)),
            encrypted_password: Some(Some("$2b$10$new".into())),
            end_sessions: Some((LogoutScope::Others, session.id)),
            ..Default::default()
        };
        let banned = store
            .change_user(alice.id, &ban, now())
            .await
            .expect("ban")
            .expect("user");
        assert_eq!(banned.banned_until, Some(until));
        for task in tasks {
            task.await.expect("join").expect("change").expect("user");
        }
        let stored = store.user_by_id(alice.id).await.expect("q").expect("user");
        assert_eq!(stored.banned_until, Some(until), "the ban holds");
        assert_eq!(stored.encrypted_password.as_deref(), Some("$2b$10$new"));
        for i in 0..12 {
            assert_eq!(stored.user_metadata[format!("k{i}")], json!(i));
        }
        assert_eq!(stored.user_metadata["full_name"], json!("微信用户"));
        assert!(store.session_by_id(session.id).await.expect("s").is_some());
        assert_eq!(
            store.session_by_id(other.id).await.expect("s"),
            None,
            "the other session ended in the same transaction"
        );
        assert_eq!(
            store
                .change_user(Uuid::new_v4(), &ban, now())
                .await
                .expect("missing"),
            None
        );
    }
);

conformance!(
    principal_reads_user_session_and_identities_together,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let email = Identity::email(alice.id, "alice@example.com", now());
        let mut wechat = wechat_identity(
            &alice,
            "o6_bmasdasdsad6_2sgVt7hMZOPfL",
            now() + Duration::seconds(1),
        );
        wechat.identity_data = json!({"nickname": "小明", "privilege": [], "sex": 1});
        // Inserted newest first: the answer is ordered by creation, not by insertion.
        store
            .create_user(&alice, &[wechat.clone(), email.clone()])
            .await
            .expect("alice");
        let bob = user(None);
        store.create_user(&bob, &[]).await.expect("bob");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, _) = session_for(&store, &alice, &key).await;
        let (bobs_session, _) = session_for(&store, &bob, &key).await;

        let principal = store
            .principal(alice.id, Some(session.id))
            .await
            .expect("query")
            .expect("alice");
        // The same values the single-row reads give.
        assert_eq!(
            Some(principal.user.clone()),
            store.user_by_id(alice.id).await.expect("user")
        );
        assert_eq!(principal.session, Some(session.clone()));
        assert_eq!(principal.identities, vec![email, wechat]);
        assert_eq!(
            principal.identities,
            store.identities_of(alice.id).await.expect("identities")
        );

        let without = store.principal(alice.id, None).await.expect("query");
        assert_eq!(without.map(|p| p.session.clone()), Some(None));
        let foreign = store.principal(alice.id, Some(bobs_session.id)).await;
        assert_eq!(
            foreign.expect("query").map(|p| p.session.clone()),
            Some(None),
            "another user's session is not hers"
        );
        let bob_read = store
            .principal(bob.id, Some(bobs_session.id))
            .await
            .expect("query")
            .expect("bob");
        assert!(bob_read.identities.is_empty());
        assert_eq!(bob_read.session, Some(bobs_session));
        assert_eq!(
            store.principal(Uuid::new_v4(), None).await.expect("query"),
            None
        );

        // Writes are seen by the next read.
        store
            .end_sessions(alice.id, session.id, LogoutScope::Local)
            .await
            .expect("logout");
        let after_logout = store.principal(alice.id, Some(session.id)).await;
        assert_eq!(
            after_logout.expect("query").map(|p| p.session.clone()),
            Some(None)
        );
        store
            .soft_delete_user(bob.id, now())
            .await
            .expect("soft delete");
        assert_eq!(store.principal(bob.id, None).await.expect("query"), None);
    }
);

conformance!(
    concurrent_principal_reads_each_get_their_own_answer,
    |store: SharedStore| async move {
        // Postgres reads checks that arrive together with one statement: many at once,
        // with repeats, strangers and foreign sessions, must each get their own answer.
        let key = RefreshTokenKey::derive(b"conformance secret");
        let mut cases = Vec::new();
        for i in 0..6 {
            let someone = user(Some(&format!("user{i}@example.com")));
            let identity = Identity::email(someone.id, &format!("user{i}@example.com"), now());
            store
                .create_user(&someone, &[identity])
                .await
                .expect("user");
            let (session, _) = session_for(&store, &someone, &key).await;
            cases.push((someone, session));
        }
        // (user, session asked for, session expected)
        let mut asks = Vec::new();
        for round in 0..4 {
            for (i, (someone, session)) in cases.iter().enumerate() {
                asks.push((someone.id, Some(session.id), Some(session.id)));
                asks.push((someone.id, None, None));
                let (_, other) = &cases[(i + 1 + round) % cases.len()];
                asks.push((someone.id, Some(other.id), None));
            }
            asks.push((Uuid::new_v4(), None, None));
        }
        let mut reads = tokio::task::JoinSet::new();
        for (index, (user_id, session_id, _)) in asks.iter().copied().enumerate() {
            let store = store.clone();
            reads.spawn(async move { (index, store.principal(user_id, session_id).await) });
        }
        let mut answers = vec![None; asks.len()];
        while let Some(done) = reads.join_next().await {
            let (index, answer) = done.expect("task");
            answers[index] = Some(answer.expect("read"));
        }
        let mut strangers = 0;
        for ((user_id, session_id, expected), answer) in asks.iter().zip(answers) {
            let alone = store.principal(*user_id, *session_id).await.expect("read");
            let answer = answer.expect("answered");
            assert_eq!(answer, alone, "{user_id} {session_id:?}");
            match &answer {
                Some(principal) => {
                    assert_eq!(principal.user.id, *user_id);
                    assert_eq!(principal.identities.len(), 1);
                    assert_eq!(principal.session.as_ref().map(|s| s.id), *expected);
                }
                None => strangers += 1,
            }
        }
        assert_eq!(strangers, 4, "only the unknown users are not found");
    }
);

conformance!(
    users_are_listed_oldest_first_in_pages,
    |store: SharedStore| async move {
        let t = now();
        let mut made: Vec<User> = (0..3)
            .map(|i| {
                let mut someone = user(Some(&format!("user{i}@example.com")));
                someone.created_at = t + Duration::seconds(i);
                someone.updated_at = someone.created_at;
                someone
            })
            .collect();
        // Inserted newest first: the list is ordered by creation, not by insertion.
        for someone in made.iter().rev() {
            store.create_user(someone, &[]).await.expect("user");
        }
        let gone = user(Some("gone@example.com"));
        store.create_user(&gone, &[]).await.expect("gone");
        store
            .soft_delete_user(gone.id, now())
            .await
            .expect("delete");

        let (page, total) = store.list_users(0, 2).await.expect("page");
        assert_eq!((page.as_slice(), total), (&made[..2], 3));
        let (rest, total) = store.list_users(2, 2).await.expect("rest");
        assert_eq!((rest, total), (made.split_off(2), 3));
    }
);

conformance!(
    deleting_a_user_deletes_what_hangs_off_it,
    |store: SharedStore| async move {
        let (alice, session) = alice_with_a_session(&store).await;
        store
            .add_identity(&Identity::email(alice.id, "alice@example.com", now()))
            .await
            .expect("identity");
        let (bob, bobs_session) = {
            let bob = user(Some("bob@example.com"));
            store.create_user(&bob, &[]).await.expect("bob");
            let key = RefreshTokenKey::derive(b"conformance secret");
            let (session, _) = session_for(&store, &bob, &key).await;
            (bob, session)
        };

        assert!(store.delete_user(alice.id).await.expect("delete"));
        assert_eq!(store.user_by_id(alice.id).await.expect("q"), None);
        assert_eq!(store.session_by_id(session.id).await.expect("q"), None);
        assert!(store.identities_of(alice.id).await.expect("q").is_empty());
        assert!(
            !store.delete_user(alice.id).await.expect("again"),
            "already gone"
        );
        // Nobody else's rows go with her.
        assert!(store.user_by_id(bob.id).await.expect("q").is_some());
        assert!(store
            .session_by_id(bobs_session.id)
            .await
            .expect("q")
            .is_some());
    }
);

conformance!(
    soft_deleting_frees_the_email_and_ends_everything,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let identity = Identity::email(alice.id, "alice@example.com", now());
        store
            .create_user(&alice, std::slice::from_ref(&identity))
            .await
            .expect("alice");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, _) = session_for(&store, &alice, &key).await;

        assert!(store
            .soft_delete_user(alice.id, now())
            .await
            .expect("delete"));
        assert_eq!(store.user_by_id(alice.id).await.expect("q"), None);
        assert_eq!(
            store.user_by_email("alice@example.com").await.expect("q"),
            None
        );
        assert!(store.identities_of(alice.id).await.expect("q").is_empty());
        assert_eq!(store.session_by_id(session.id).await.expect("q"), None);
        assert!(!store
            .soft_delete_user(alice.id, now())
            .await
            .expect("again"));
        // The email and the identity can be someone's again.
        let again = user(Some("alice@example.com"));
        let identity = Identity {
            id: Uuid::new_v4(),
            user_id: again.id,
            ..identity
        };
        store
            .create_user(&again, &[identity])
            .await
            .expect("email free again");
    }
);

// Linking and unlinking go through `change_user`: the identity, the user's providers list
// and the audit entry commit together or not at all, and a user never loses its last
// identity, even to two unlinks at once.
conformance!(
    identities_change_with_the_user_in_one_transaction,
    |store: SharedStore| async move {
        let owner = user(Some("link@example.com"));
        let email = Identity::email(owner.id, "link@example.com", now());
        store
            .create_user(&owner, std::slice::from_ref(&email))
            .await
            .expect("owner");
        let wechat = Identity {
            id: Uuid::new_v4(),
            provider: "wechat_qr".into(),
            provider_id: "unionid-1".into(),
            email: None,
            created_at: email.created_at + Duration::seconds(1),
            ..email.clone()
        };
        let linked_entry = AuditEntry::new(Action::IdentityLinked, &owner, json!({}), "", now());
        let link = UserChanges {
            identity: Some(IdentityChange::Link(wechat.clone())),
            user_metadata: json!({"nickname": "小明"}).as_object().cloned(),
            audit: Some(linked_entry),
            ..Default::default()
        };
        let linked = store
            .change_user(owner.id, &link, now())
            .await
            .expect("link")
            .expect("user");
        assert_eq!(
            linked.app_metadata["providers"],
            json!(["email", "wechat_qr"])
        );
        assert_eq!(store.identities_of(owner.id).await.expect("read").len(), 2);
        assert_eq!(store.list_audit(0, 10).await.expect("audit").1, 1);

        // The same identity for someone else: nothing of that change is written.
        let other = user(Some("other@example.com"));
        store.create_user(&other, &[]).await.expect("other");
        let stolen = UserChanges {
            identity: Some(IdentityChange::Link(Identity {
                id: Uuid::new_v4(),
                user_id: other.id,
                ..wechat.clone()
            })),
            user_metadata: json!({"nickname": "thief"}).as_object().cloned(),
            audit: Some(AuditEntry::new(
                Action::IdentityLinked,
                &other,
                json!({}),
                "",
                now(),
            )),
            ..Default::default()
        };
        assert!(matches!(
            store.change_user(other.id, &stolen, now()).await,
            Err(StoreError::Conflict(_))
        ));
        let untouched = store
            .user_by_id(other.id)
            .await
            .expect("read")
            .expect("user");
        assert_eq!(untouched.user_metadata, other.user_metadata);
        assert_eq!(
            store.list_audit(0, 10).await.expect("audit").1,
            1,
            "no entry"
        );

        // Two unlinks at once, one per identity: exactly one wins, one identity stays.
        let unlink = |id| UserChanges {
            identity: Some(IdentityChange::Unlink(id)),
            ..Default::default()
        };
        let (unlink_email, unlink_wechat) = (unlink(email.id), unlink(wechat.id));
        let (first, second) = tokio::join!(
            store.change_user(owner.id, &unlink_email, now()),
            store.change_user(owner.id, &unlink_wechat, now()),
        );
        let outcomes = [first, second];
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(outcomes
            .iter()
            .any(|o| matches!(o, Err(StoreError::Conflict(_)))));
        let left = store.identities_of(owner.id).await.expect("read");
        assert_eq!(left.len(), 1);
        let user = store
            .user_by_id(owner.id)
            .await
            .expect("read")
            .expect("user");
        assert_eq!(user.app_metadata["providers"], json!([left[0].provider]));
    }
);

conformance!(users_are_found_by_phone, |store: SharedStore| async move {
    let mut alice = user(None);
    alice.phone = Some("8613800000000".into());
    store.create_user(&alice, &[]).await.expect("alice");
    let found = store.user_by_phone("8613800000000").await.expect("q");
    assert_eq!(found.map(|u| u.id), Some(alice.id));
    assert_eq!(store.user_by_phone("8613800000001").await.expect("q"), None);
    // A soft-deleted user's number is free again.
    store.soft_delete_user(alice.id, now()).await.expect("soft");
    assert_eq!(store.user_by_phone("8613800000000").await.expect("q"), None);
});

conformance!(
    a_sign_ins_identity_and_metadata_change_together_or_not_at_all,
    |store: SharedStore| async move {
        let alice = user(None);
        let wechat = wechat_identity(&alice, "o6_signed_in", now());
        store
            .create_user(&alice, std::slice::from_ref(&wechat))
            .await
            .expect("alice");
        let later = now() + Duration::seconds(5);
        let signed_in = Identity {
            identity_data: json!({"nickname": "小明明", "headimgurl": "https://example.com/a.png"}),
            last_sign_in_at: Some(later),
            updated_at: later,
            ..wechat.clone()
        };
        let login = UserChanges {
            user_metadata: json!({"nickname": "小明明"}).as_object().cloned(),
            signed_in_identity: Some(signed_in.clone()),
            ..Default::default()
        };
        let written = store
            .change_user(alice.id, &login, later)
            .await
            .expect("sign-in")
            .expect("alice");
        assert_eq!(written.user_metadata["nickname"], "小明明");
        assert_eq!(
            store.identities_of(alice.id).await.expect("identities"),
            vec![signed_in.clone()]
        );

        // A change that fails after the identity's write (the address is taken) leaves the
        // identity as it was: the sign-in's writes roll back together.
        let bob = user(Some("bob@example.com"));
        store.create_user(&bob, &[]).await.expect("bob");
        let failing = UserChanges {
            email: Some(Some("bob@example.com".into())),
            signed_in_identity: Some(Identity {
                identity_data: json!({"nickname": "lost"}),
                ..signed_in.clone()
            }),
            ..Default::default()
        };
        assert!(matches!(
            store.change_user(alice.id, &failing, later).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.identities_of(alice.id).await.expect("identities"),
            vec![signed_in.clone()]
        );

        // Another user's identity is not written through alice's change, nor one unlinked
        // meanwhile: nothing of either change is.
        let bobs = Identity::email(bob.id, "bob@example.com", now());
        store.add_identity(&bobs).await.expect("bob's identity");
        for stray in [
            Identity {
                identity_data: json!({"nickname": "hijacked"}),
                ..bobs.clone()
            },
            // Named as alice's: the row itself must be alice's for the write to happen.
            Identity {
                user_id: alice.id,
                identity_data: json!({"nickname": "hijacked"}),
                ..bobs.clone()
            },
            Identity {
                id: Uuid::new_v4(),
                ..signed_in.clone()
            },
        ] {
            let stray_login = UserChanges {
                user_metadata: json!({"nickname": "stray"}).as_object().cloned(),
                signed_in_identity: Some(stray),
                ..Default::default()
            };
            assert!(matches!(
                store.change_user(alice.id, &stray_login, later).await,
                Err(StoreError::Conflict(_))
            ));
        }
        assert_eq!(
            store.identities_of(bob.id).await.expect("identities"),
            vec![bobs]
        );
        let alice_now = store
            .user_by_id(alice.id)
            .await
            .expect("read")
            .expect("alice");
        assert_eq!(alice_now.user_metadata["nickname"], "小明明");
    }
);
