//! What only one backend has: Postgres's RLS helpers and token-check connections, SQLite's in-memory token checks.

use super::*;

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

/// A migrated store on a new Postgres database; `None` (and a note) without
/// `SAOMA_TEST_PG_URL`.
async fn postgres_store(checks: &str) -> Option<(TestDb, SharedStore)> {
    if db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres {checks}");
        return None;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let serving = store::connect(&db.url).await.expect("connect");
    serving.migrate().await.expect("migrate");
    Some((db, serving))
}

/// What a database restart or a failover does to the open connections named
/// `application_name`: how many were cut (each gone when this returns).
async fn cut_connections(url: &str, application_name: &str) -> i64 {
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("admin connection");
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1) t",
    )
    .bind(application_name)
    .fetch_one(&mut admin)
    .await
    .expect("terminate")
}

#[tokio::test]
async fn postgres_token_checks_survive_a_cut_connection() {
    let Some((db, serving)) = postgres_store("token-check checks").await else {
        return;
    };
    let (alice, session) = alice_with_a_session(&serving).await;
    let read = || serving.principal(alice.id, Some(session.id));
    let before = read().await.expect("read").expect("alice");

    let cut = cut_connections(&db.url, store::POSTGRES_TOKEN_CHECK_APPLICATION_NAME).await;
    assert!(cut >= 1, "the token check's connection was open");

    let after = read().await.expect("read after the cut").expect("alice");
    assert_eq!(after, before);
}

/// Postgres only: transactions run on connections given back without a test when they
/// commit. One cut short anywhere (the request went away mid-statement) must not leave
/// its half on a connection that the next transaction commits, nor a connection idle in a
/// transaction.
#[tokio::test]
async fn postgres_transactions_cut_short_leave_nothing_half_written() {
    let Some((db, serving)) = postgres_store("write-connection checks").await else {
        return;
    };
    let alice = user(Some("alice@example.com"));
    serving.create_user(&alice, &[]).await.expect("alice");
    let key = RefreshTokenKey::derive(b"conformance secret");

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("admin connection");
    // Sessions whose creation (BEGIN, four statements, COMMIT) is abandoned after a few
    // hundred microseconds, at every point of its round trips. After each, the abandoned
    // transaction is rolled back in the background, promptly: no connection waits idle in a
    // transaction for a later write to take it and commit what it left.
    for step in 0..150_u64 {
        let session = Session::new(alice.id, "password", now());
        let token = key.mint();
        let _ = tokio::time::timeout(
            std::time::Duration::from_micros(20 + step * 12),
            serving.create_session(&session, &token, None),
        )
        .await;
        let mut in_transaction = -1_i64;
        // "Promptly" on a loaded machine: up to 10 s, polled every 20 ms.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            in_transaction = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND application_name = $1 AND state LIKE 'idle in transaction%'",
            )
            .bind(store::POSTGRES_WRITE_APPLICATION_NAME)
            .fetch_one(&mut admin)
            .await
            .expect("activity");
            if in_transaction == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            in_transaction, 0,
            "step {step}: a connection left idle in a transaction"
        );
    }

    for _ in 0..8 {
        session_for(&serving, &alice, &key).await;
    }
    let half_written: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth.sessions s WHERE NOT EXISTS \
         (SELECT 1 FROM auth.refresh_tokens t WHERE t.session_id = s.id)",
    )
    .fetch_one(&mut admin)
    .await
    .expect("count");
    assert_eq!(half_written, 0, "sessions committed without their token");
}

/// Postgres only: a restart or failover cuts the write connections while idle; the next
/// transaction opens on a new one instead of failing.
#[tokio::test]
async fn postgres_writes_survive_a_cut_connection() {
    let Some((db, serving)) = postgres_store("write-connection checks").await else {
        return;
    };
    let (alice, _) = alice_with_a_session(&serving).await;
    let cut = cut_connections(&db.url, store::POSTGRES_WRITE_APPLICATION_NAME).await;
    assert!(cut >= 1, "a write connection was open");
    let key = RefreshTokenKey::derive(b"conformance secret");
    let session = Session::new(alice.id, "password", now());
    serving
        .create_session(&session, &key.mint(), None)
        .await
        .expect("a session after the cut");
}

/// SQLite only: no writer checkpoints the WAL (a request would wait for it); a thread of
/// the store's own does, every 100 ms. Without it the WAL would grow without end, and with
/// SQLite's default (the writer that passes 1,000 pages checkpoints) a quiet server's
/// recent writes sat unsynced in the WAL for as long as it took to write 4 MB.
#[tokio::test]
async fn sqlite_writes_reach_the_database_file_within_moments() {
    let db = TestDb::new(Backend::Sqlite).await;
    let serving = store::connect(&db.url).await.expect("connect");
    serving.migrate().await.expect("migrate");
    let file_size = || std::fs::metadata(&db.url).map_or(0, |m| m.len());
    let before = file_size();
    // ~1.5 MB of users: well under the 1,000 pages that would make a writer checkpoint.
    for i in 0..300 {
        let mut someone = user(Some(&format!("user{i}@example.com")));
        someone.user_metadata = json!({ "bio": "字".repeat(1_700) });
        serving.create_user(&someone, &[]).await.expect("user");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while file_size() < before + 1_000_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        file_size() >= before + 1_000_000,
        "the writes are still only in the WAL: {} bytes in the file, {before} before",
        file_size()
    );
}

/// Metadata no JSON parser accepts (written into the file by another program): the refresh,
/// which answers the user, is refused before anything changes, so that the token still works
/// once the row is repaired (rotated first, it would be burnt by a refresh that answered an
/// error).
#[tokio::test]
async fn sqlite_refuses_a_refresh_for_metadata_that_is_not_json_and_keeps_the_token() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let alice = user(Some("alice@example.com"));
    store.create_user(&alice, &[]).await.expect("create");
    let key = RefreshTokenKey::derive(b"conformance secret");
    let (_, token) = session_for(&store, &alice, &key).await;
    let set_metadata = |metadata: &str| {
        rusqlite::Connection::open(&db.url)
            .expect("open")
            .execute(
                "UPDATE users SET raw_user_meta_data = ? WHERE id = ?",
                [metadata.to_owned(), alice.id.to_string()],
            )
            .expect("metadata");
    };
    set_metadata("{\"full_name\": ");
    let refused = store
        .rotate_refresh_token(&token, &key.mint(), now(), &POLICY, Some("::1"))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Corrupt(_))),
        "{refused:?}"
    );
    assert_eq!(store.list_audit(0, 1).await.expect("audit").1, 0);

    set_metadata("{}");
    let fresh = key.mint();
    let issued = store
        .rotate_refresh_token(&token, &fresh, now(), &POLICY, Some("::1"))
        .await
        .expect("rotate");
    assert!(
        matches!(&issued, Rotation::Issued { nonce, .. } if *nonce == fresh.nonce),
        "the token was not burnt by the refused refresh: {issued:?}"
    );
}
