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
