//! The store conformance suite: every check runs against SQLite and against Postgres
//! (the latter needs `SAOMA_TEST_PG_URL`; `scripts/test` always provides one).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../common/db.rs"]
mod db;

use std::future::Future;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use saoma::{
    domain::{
        audit::{Action, AuditEntry},
        flow::FlowState,
        refresh::{RefreshTokenKey, RotationPolicy},
        session::LogoutScope,
        Identity, Session, User, UserChanges,
    },
    store::{self, NewAccount, Rotation, SharedStore, StoreError},
};
use serde_json::json;
use uuid::Uuid;

use db::{Backend, TestDb};

/// Runs `check` on a fresh, migrated store of `backend`.
async fn with_store<F, Fut>(backend: Backend, check: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Postgres && db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres conformance checks");
        return;
    }
    let db = TestDb::new(backend).await;
    let store = store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    check(store).await;
}

/// Declares one conformance check as a test per backend.
macro_rules! conformance {
    ($name:ident, $check:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                with_store(Backend::Sqlite, $check).await;
            }
            #[tokio::test]
            async fn postgres() {
                with_store(Backend::Postgres, $check).await;
            }
        }
    };
}

/// Stores round timestamps to microseconds.
fn now() -> DateTime<Utc> {
    Utc::now().round_subsecs(6)
}

fn user(email: Option<&str>) -> User {
    let mut user = User::new(Uuid::new_v4(), "authenticated", "email", now());
    user.email = email.map(str::to_owned);
    user.encrypted_password = Some("$2b$10$hash".into());
    user.user_metadata = json!({"full_name": "微信用户", "n": 1});
    user
}

const POLICY: RotationPolicy = RotationPolicy {
    rotation_enabled: true,
    reuse_interval: Duration::seconds(10),
};

async fn session_for(store: &SharedStore, user: &User, key: &RefreshTokenKey) -> (Session, String) {
    let session = Session::new(user.id, "password", now());
    let token = key.mint();
    store
        .create_session(&session, &token)
        .await
        .expect("session");
    (session, token.token_hash)
}

/// Alice, signed up without identities, with one session: the subject of the token checks.
async fn alice_with_a_session(store: &SharedStore) -> (User, Session) {
    let alice = user(Some("alice@example.com"));
    store.create_user(&alice, &[]).await.expect("alice");
    let key = RefreshTokenKey::derive(b"conformance secret");
    let (session, _) = session_for(store, &alice, &key).await;
    (alice, session)
}

conformance!(users_round_trip, |store: SharedStore| async move {
    let mut alice = user(Some("alice@example.com"));
    alice.email_confirmed_at = Some(now());
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
        assert_eq!(stored.amr[0].method, "password");
        let reloaded = store
            .user_by_id(alice.id)
            .await
            .expect("query")
            .expect("user");
        assert_eq!(reloaded.last_sign_in_at, Some(session.created_at));
    }
);

conformance!(
    principal_reads_user_session_and_identities_together,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let email = Identity::email(alice.id, "alice@example.com", now());
        let mut wechat = Identity::email(alice.id, "unused", now() + Duration::seconds(1));
        wechat.provider = "wechat_qr".into();
        wechat.provider_id = "o6_bmasdasdsad6_2sgVt7hMZOPfL".into();
        wechat.email = None;
        wechat.last_sign_in_at = None;
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
    rotation_follows_gotrue_rules,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        store.create_user(&alice, &[]).await.expect("create");
        let key = RefreshTokenKey::derive(b"conformance secret");
        let (session, t1) = session_for(&store, &alice, &key).await;
        let t0 = now();

        let unknown = store
            .rotate_refresh_token("nope", &key.mint(), t0, &POLICY)
            .await
            .expect("rotate");
        assert_eq!(unknown, Rotation::NotFound);

        let t2 = key.mint();
        let Rotation::Issued { session: s, nonce } = store
            .rotate_refresh_token(&t1, &t2, t0, &POLICY)
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
            .rotate_refresh_token(&t1, &key.mint(), later, &POLICY)
            .await
            .expect("rotate");
        assert!(matches!(again, Rotation::Issued { nonce, .. } if nonce == t2.nonce));

        let t3 = key.mint();
        store
            .rotate_refresh_token(&t2.token_hash, &t3, t0, &POLICY)
            .await
            .expect("rotate");
        // t1 is now two rotations old: inside the window it gets a child...
        let child = key.mint();
        let inside = store
            .rotate_refresh_token(&t1, &child, t0 + Duration::seconds(10), &POLICY)
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
            .rotate_refresh_token(&t3.token_hash, &key.mint(), t0, &POLICY)
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
            .rotate_refresh_token(&t1, &t2, t0, &lenient)
            .await
            .expect("rotate");
        store
            .rotate_refresh_token(&t2.token_hash, &key.mint(), t0, &lenient)
            .await
            .expect("rotate");
        let reused = store
            .rotate_refresh_token(&t1, &key.mint(), t0 + Duration::minutes(1), &lenient)
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
            .create_session(&session, &token)
            .await
            .expect("session");
        let late = store
            .rotate_refresh_token(
                &token.token_hash,
                &key.mint(),
                now() + Duration::minutes(6),
                &POLICY,
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

/// Postgres only: an app's RLS policy written against Supabase's helpers works on saoma's schema.
#[tokio::test]
async fn postgres_rls_helpers_read_request_claims() {
    let Some(_) = db::pg_admin_url() else {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres RLS check");
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let store = store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    let user_id = Uuid::new_v4();
    let claims =
        json!({"sub": user_id, "role": "authenticated", "email": "a@example.com"}).to_string();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(&claims)
        .execute(&mut *tx)
        .await
        .expect("set");
    let (uid, role, email): (Uuid, String, String) =
        sqlx::query_as("SELECT auth.uid(), auth.role(), auth.jwt() ->> 'email'")
            .fetch_one(&mut *tx)
            .await
            .expect("helpers");
    assert_eq!(
        (uid, role.as_str(), email.as_str()),
        (user_id, "authenticated", "a@example.com")
    );

    // A typical policy: rows visible to their owner only.
    for statement in [
        "CREATE ROLE rls_probe NOLOGIN",
        "CREATE TABLE public.notes (owner uuid NOT NULL, body text)",
        "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own_notes ON public.notes FOR SELECT USING (owner = auth.uid())",
        "GRANT SELECT ON public.notes TO rls_probe",
        "GRANT USAGE ON SCHEMA auth TO rls_probe",
    ] {
        let statement = statement.to_owned();
        sqlx::query(&statement)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query("INSERT INTO public.notes VALUES ($1, 'mine'), ($2, 'theirs')")
        .bind(user_id)
        .bind(Uuid::new_v4())
        .execute(&mut *tx)
        .await
        .expect("insert");
    sqlx::query("SET LOCAL ROLE rls_probe")
        .execute(&mut *tx)
        .await
        .expect("role");
    let visible: Vec<String> = sqlx::query_scalar("SELECT body FROM public.notes")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(visible, vec!["mine".to_string()]);
    tx.rollback().await.expect("rollback");
}

/// SQLite only: token checks read from memory until the file changes, and a change made by
/// another connection (another process, an operator's script) is seen at once; with the
/// memory turned off the answers are the same.
#[tokio::test]
async fn sqlite_token_check_sees_writes_from_other_connections() {
    for read_cache in [true, false] {
        let db = TestDb::new(Backend::Sqlite).await;
        let options = store::StoreOptions {
            sqlite_read_cache: read_cache,
        };
        let serving = store::connect_with(&db.url, options)
            .await
            .expect("connect");
        serving.migrate().await.expect("migrate");
        let other = store::connect(&db.url).await.expect("second connection");

        let (alice, session) = alice_with_a_session(&serving).await;
        let read = || serving.principal(alice.id, Some(session.id));
        let first = read().await.expect("read").expect("alice");
        assert_eq!(read().await.expect("again"), Some(first.clone()));

        let at = now();
        let ban = UserChanges {
            banned_until: Some(Some(at + Duration::days(1))),
            user_metadata: json!({"full_name": "改了"}).as_object().cloned(),
            ..Default::default()
        };
        let banned = other
            .change_user(alice.id, &ban, at)
            .await
            .expect("ban elsewhere")
            .expect("alice");
        let seen = read().await.expect("read").expect("alice");
        assert_eq!(seen.user, banned, "read_cache={read_cache}");
        assert_eq!(seen.session, Some(session.clone()));

        other
            .end_sessions(alice.id, session.id, LogoutScope::Global)
            .await
            .expect("sign out elsewhere");
        let signed_out = read().await.expect("read").expect("alice");
        assert_eq!(signed_out.session, None, "read_cache={read_cache}");
    }
}

#[tokio::test]
async fn postgres_token_checks_survive_a_cut_connection() {
    if db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres conformance checks");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let serving = store::connect(&db.url).await.expect("connect");
    serving.migrate().await.expect("migrate");
    let (alice, session) = alice_with_a_session(&serving).await;
    let read = || serving.principal(alice.id, Some(session.id));
    let before = read().await.expect("read").expect("alice");

    // What a database restart or a failover does to the open connections.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("admin connection");
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1) t",
    )
    .bind(store::POSTGRES_TOKEN_CHECK_APPLICATION_NAME)
    .fetch_one(&mut admin)
    .await
    .expect("terminate");
    assert!(cut >= 1, "the token check's connection was open");

    let after = read().await.expect("read after the cut").expect("alice");
    assert_eq!(after, before);
}

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
            encrypted_password: Some("$2b$10$new".into()),
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
    the_sweeper_deletes_only_what_nothing_can_use,
    |store: SharedStore| async move {
        let (alice, live) = alice_with_a_session(&store).await;
        let key = RefreshTokenKey::derive(b"conformance secret");
        let mut ended = Session::new(alice.id, "password", now() - Duration::days(2));
        ended.not_after = Some(now() - Duration::days(1));
        store
            .create_session(&ended, &key.mint())
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

        let plan = saoma::sweeper::plan(now());
        let swept = store.sweep(&plan).await.expect("sweep");
        assert_eq!(
            (
                swept.flows,
                swept.rate_limit_buckets,
                swept.sessions,
                swept.skipped
            ),
            (1, 1, 1, false)
        );
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
