//! saoma taking over a Postgres database that Supabase Auth (GoTrue) ran on (Postgres only):
//! the schema comes from `fixtures/gotrue_schema.sql`, the rows are written here the way GoTrue
//! writes them, then saoma starts on it. Skipped, like every Postgres check, when
//! `SAOMA_TEST_PG_URL` names no server (`scripts/test` and CI always provide one).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use saoma::clock::Clock;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::helpers::{
    access_token, refresh_token, spawn_app_on, unique_email, Backend, TestApp, TestDb, PASSWORD,
    SECRET,
};

const GOTRUE_SCHEMA: &str = include_str!("../fixtures/gotrue_schema.sql");
/// GoTrue writes this instance id on every row that has one.
const INSTANCE_ID: &str = "00000000-0000-0000-0000-000000000000";

/// A fresh database in the shape GoTrue leaves it, or `None` (with the reason printed) when no
/// Postgres server is configured.
async fn gotrue_database() -> Option<(TestDb, PgPool)> {
    if db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the GoTrue adoption checks");
        return None;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    sqlx::raw_sql(GOTRUE_SCHEMA)
        .execute(&pool)
        .await
        .expect("GoTrue's schema");
    Some((db, pool))
}

/// A user GoTrue signed up with a password and signed in once: its session holds two refresh
/// tokens, the first already rotated into the second (`refresh_tokens.token` and `parent` are
/// the plaintexts GoTrue handed out).
struct GoTrueUser {
    id: Uuid,
    email: String,
    session_id: Uuid,
    rotated_token: String,
    active_token: String,
}

async fn insert_gotrue_user(pool: &PgPool, created: DateTime<Utc>) -> GoTrueUser {
    let user = GoTrueUser {
        id: Uuid::new_v4(),
        email: unique_email(),
        session_id: Uuid::new_v4(),
        rotated_token: "aB3dE5gH7jK9".into(),
        active_token: "Zq8Wx7Vc6Ub5".into(),
    };
    // GoTrue hashes with Go's bcrypt at cost 10, which writes the `$2a$` prefix.
    let hash = bcrypt::hash_with_result(PASSWORD, 10)
        .expect("bcrypt")
        .format_for_version(bcrypt::Version::TwoA);
    assert!(hash.starts_with("$2a$10$"));
    sqlx::query(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, \
         email_confirmed_at, confirmation_token, recovery_token, email_change_token_new, \
         email_change, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_super_admin, \
         created_at, updated_at, is_sso_user, is_anonymous) \
         VALUES ($1::uuid, $2, 'authenticated', 'authenticated', $3, $4, $5, '', '', '', '', $5, \
         $6, $7, NULL, $5, $5, false, false)",
    )
    .bind(INSTANCE_ID)
    .bind(user.id)
    .bind(&user.email)
    .bind(&hash)
    .bind(created)
    .bind(json!({"provider": "email", "providers": ["email"]}))
    .bind(json!({"sub": user.id, "email": user.email, "email_verified": true, "phone_verified": false}))
    .execute(pool)
    .await
    .expect("user");
    sqlx::query(
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, \
         last_sign_in_at, created_at, updated_at) VALUES ($1, $2, $3, 'email', $4, $4, $4)",
    )
    .bind(user.id.to_string())
    .bind(user.id)
    .bind(json!({"sub": user.id, "email": user.email, "email_verified": false, "phone_verified": false}))
    .bind(created)
    .execute(pool)
    .await
    .expect("identity");
    // `refreshed_at` is a timestamp without time zone, in UTC.
    sqlx::query(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, \
         user_agent, ip) VALUES ($1, $2, $3, $3, 'aal1', ($3 AT TIME ZONE 'UTC'), 'Mozilla/5.0', \
         '203.0.113.7')",
    )
    .bind(user.session_id)
    .bind(user.id)
    .bind(created)
    .execute(pool)
    .await
    .expect("session");
    sqlx::query(
        "INSERT INTO auth.mfa_amr_claims (session_id, created_at, updated_at, \
         authentication_method, id) VALUES ($1, $2, $2, 'password', $3)",
    )
    .bind(user.session_id)
    .bind(created)
    .bind(Uuid::new_v4())
    .execute(pool)
    .await
    .expect("amr");
    for (token, parent, revoked) in [
        (&user.rotated_token, None, true),
        (&user.active_token, Some(&user.rotated_token), false),
    ] {
        sqlx::query(
            "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, \
             updated_at, parent, session_id) VALUES ($1::uuid, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(INSTANCE_ID)
        .bind(token)
        .bind(user.id.to_string())
        .bind(revoked)
        .bind(created)
        .bind(parent)
        .bind(user.session_id)
        .execute(pool)
        .await
        .expect("refresh token");
    }
    user
}

/// An access token as GoTrue signs it with the project's JWT secret.
fn gotrue_access_token(user: &GoTrueUser, now: DateTime<Utc>) -> String {
    let claims = json!({
        "iss": "http://localhost:9999/auth/v1",
        "sub": user.id,
        "aud": "authenticated",
        "exp": (now + Duration::hours(1)).timestamp(),
        "iat": now.timestamp(),
        "email": user.email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"sub": user.id, "email": user.email, "email_verified": true,
            "phone_verified": false},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now.timestamp()}],
        "session_id": user.session_id,
        "is_anonymous": false,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

async fn start_saoma(db: TestDb) -> TestApp {
    spawn_app_on(db, |config| {
        config.security.refresh_token_rotation_enabled = true;
        config.security.refresh_token_reuse_interval = 10;
    })
    .await
}

/// (token, parent, revoked, saoma's nonce present) of the session's refresh tokens, oldest first.
async fn token_rows(pool: &PgPool, session_id: Uuid) -> Vec<(String, Option<String>, bool, bool)> {
    sqlx::query_as(
        "SELECT token, parent, revoked, nonce IS NOT NULL FROM auth.refresh_tokens \
         WHERE session_id = $1 ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await
    .expect("tokens")
}

#[tokio::test]
async fn gotrue_users_sign_in_and_gotrue_sessions_keep_refreshing() {
    let Some((db, pool)) = gotrue_database().await else {
        return;
    };
    let alice = insert_gotrue_user(&pool, Utc::now() - Duration::days(3)).await;
    let app = start_saoma(db).await;

    // The access token GoTrue issued is still good.
    let me = app
        .get(
            "/auth/v1/user",
            Some(&gotrue_access_token(&alice, app.clock.now())),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], json!(alice.id));

    // The password GoTrue hashed signs in, with the identity GoTrue stored.
    let signed_in = app.sign_in(&alice.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], json!(alice.id));
    assert_eq!(signed_in.body["user"]["identities"][0]["provider"], "email");

    // GoTrue's active refresh token rotates once, into a token saoma stores hashed.
    let first = app.refresh(&alice.active_token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let child = refresh_token(&first.body).to_owned();
    assert_ne!(child, alice.active_token);
    assert_eq!(first.body["user"]["id"], json!(alice.id));
    let rows = token_rows(&pool, alice.session_id).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[1],
        (
            alice.active_token.clone(),
            Some(alice.rotated_token.clone()),
            true,
            false
        )
    );
    let (stored, parent, revoked, has_nonce) = &rows[2];
    assert_eq!(stored, &saoma::domain::refresh::hash_token(&child));
    assert_eq!(
        (parent.as_deref(), revoked, has_nonce),
        (Some(alice.active_token.as_str()), &false, &true)
    );

    // GoTrue's token again: the parent of the active token gets the active token back...
    let again = app.refresh(&alice.active_token).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(refresh_token(&again.body), child);
    // ...saoma's child refreshes as any saoma token...
    let next = app.refresh(&child).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    let newest = refresh_token(&next.body).to_owned();
    // ...and past the reuse interval GoTrue's token is a reuse that ends the session.
    app.clock.advance(Duration::seconds(11));
    let reused = app.refresh(&alice.active_token).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST, "{}", reused.body);
    assert_eq!(reused.code(), "refresh_token_already_used");
    assert_eq!(app.refresh(&newest).await.code(), "refresh_token_not_found");

    // A token saoma stored hashed never works as a plaintext.
    let hashed = app.refresh(stored).await;
    assert_eq!(hashed.code(), "refresh_token_not_found");

    // Restarting runs saoma's migrations on the adopted database again: nothing changes.
    let db = app.stop().await;
    let app = start_saoma(db).await;
    let signed_in = app.sign_in(&alice.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT version FROM auth.schema_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("GoTrue's migrations");
    assert_eq!(versions.len(), 70, "GoTrue's bookkeeping is untouched");
    pool.close().await;
}

#[tokio::test]
async fn gotrue_parent_of_active_token_gets_a_saoma_token() {
    let Some((db, pool)) = gotrue_database().await else {
        return;
    };
    let bob = insert_gotrue_user(&pool, Utc::now() - Duration::hours(2)).await;
    let app = start_saoma(db).await;

    // The client lost GoTrue's last answer and presents the token before it: GoTrue would hand
    // back the active token; saoma hands back a child of it, the same one for either token.
    let lost = app.refresh(&bob.rotated_token).await;
    assert_eq!(lost.status, StatusCode::OK, "{}", lost.body);
    let child = refresh_token(&lost.body).to_owned();
    assert_ne!(child, bob.active_token);
    let active = app.refresh(&bob.active_token).await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    assert_eq!(refresh_token(&active.body), child);
    let rows = token_rows(&pool, bob.session_id).await;
    assert_eq!(rows.len(), 3, "one child only: {rows:?}");
    assert_eq!(rows[2].1.as_deref(), Some(bob.active_token.as_str()));
    pool.close().await;
}

#[tokio::test]
async fn gotrue_database_fires_app_triggers_once_and_serves_rls() {
    let Some((db, pool)) = gotrue_database().await else {
        return;
    };
    let alice = insert_gotrue_user(&pool, Utc::now() - Duration::days(1)).await;
    // The app's side, as in Supabase's examples: a profile per user, made by a trigger.
    sqlx::raw_sql(
        "CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users (id) \
           ON DELETE CASCADE, email text); \
         CREATE TABLE public.trigger_calls (user_id uuid NOT NULL); \
         CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql \
           SECURITY DEFINER SET search_path = '' AS $$ BEGIN \
             INSERT INTO public.trigger_calls (user_id) VALUES (new.id); \
             INSERT INTO public.profiles (id, email) VALUES (new.id, new.email); \
             RETURN new; END $$; \
         CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users \
           FOR EACH ROW EXECUTE FUNCTION public.handle_new_user(); \
         INSERT INTO public.profiles (id, email) SELECT id, email FROM auth.users;",
    )
    .execute(&pool)
    .await
    .expect("app schema");
    let app = start_saoma(db).await;

    let email = unique_email();
    let session = app.sign_up(&email).await;
    let again = app
        .post(
            "/auth/v1/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert!(again.status.is_client_error(), "{}", again.body);
    app.sign_in(&email, PASSWORD).await;
    let calls: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM public.trigger_calls")
        .fetch_all(&pool)
        .await
        .expect("calls");
    let new_id: Uuid = session["user"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    assert_eq!(calls, vec![new_id], "one trigger call per real sign-up");

    // PostgREST's way: the role from the token, its claims in `request.jwt.claims`.
    let payload = access_token(&session)
        .split('.')
        .nth(1)
        .expect("payload")
        .to_owned();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    assert_eq!(claims["role"], "authenticated");
    let mut tx = pool.begin().await.expect("tx");
    for statement in [
        // Roles are cluster-wide: created inside the transaction, gone at its rollback.
        "DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        "GRANT USAGE ON SCHEMA public, auth TO authenticated",
        "GRANT SELECT ON public.profiles TO authenticated",
        "ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own_profile ON public.profiles FOR SELECT USING (id = auth.uid())",
    ] {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims.to_string())
        .execute(&mut *tx)
        .await
        .expect("claims");
    sqlx::query("SET LOCAL ROLE authenticated")
        .execute(&mut *tx)
        .await
        .expect("role");
    let visible: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, email FROM public.profiles")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(visible, vec![(new_id, email.clone())]);
    tx.rollback().await.expect("rollback");
    let everyone: i64 = sqlx::query_scalar("SELECT count(*) FROM public.profiles")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(everyone, 2, "alice ({}) and the new user", alice.id);
    pool.close().await;
}

#[tokio::test]
async fn gotrue_before_2026_gets_the_flow_columns_saoma_writes() {
    let Some((db, pool)) = gotrue_database().await else {
        return;
    };
    // flow_state as GoTrue left it before its 20260115000000 migration: no redirect or linking
    // target, a code and a PKCE challenge required.
    sqlx::raw_sql(
        "ALTER TABLE auth.flow_state DROP COLUMN invite_token, DROP COLUMN referrer, \
           DROP COLUMN oauth_client_state_id, DROP COLUMN linking_target_id, \
           DROP COLUMN email_optional, ALTER COLUMN auth_code SET NOT NULL, \
           ALTER COLUMN code_challenge SET NOT NULL, ALTER COLUMN code_challenge_method SET NOT NULL; \
         DELETE FROM auth.schema_migrations WHERE version >= '20260115000000';",
    )
    .execute(&pool)
    .await
    .expect("older flow_state");
    let store = saoma::store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");

    // An implicit flow before the provider answered: no challenge, no code yet.
    let mut flow = saoma::domain::flow::FlowState::new(
        "wechat_web",
        "https://app.example.com/welcome".into(),
        None,
        Utc::now(),
    );
    flow.linking_target_id = Some(Uuid::new_v4());
    store.create_flow(&flow).await.expect("flow");
    let stored = store
        .flow_by_id(flow.id)
        .await
        .expect("read")
        .expect("flow");
    assert_eq!(stored.redirect_to, flow.redirect_to);
    assert_eq!(stored.challenge, None);
    assert_eq!(stored.linking_target_id, flow.linking_target_id);
    pool.close().await;
}

/// GoTrue's own `one_time_tokens` (its enum type, its `timestamp without time zone`) carries
/// saoma's SMS codes: a code issued and verified on an adopted database, stored as GoTrue
/// stores it (the SHA-224 hash of number and code).
#[tokio::test]
async fn gotrue_one_time_tokens_carry_sms_codes() {
    let Some((db, pool)) = gotrue_database().await else {
        return;
    };
    let app = spawn_app_on(db, |config| {
        config.sms.test_otp = "8613800000009:123456".into();
    })
    .await;
    let sent = app
        .post("/auth/v1/otp", json!({"phone": "+8613800000009"}))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let (kind, hash, relates_to): (String, String, String) =
        sqlx::query_as("SELECT token_type::text, token_hash, relates_to FROM auth.one_time_tokens")
            .fetch_one(&pool)
            .await
            .expect("the code's row");
    assert_eq!(
        (kind.as_str(), hash.as_str(), relates_to.as_str()),
        (
            "confirmation_token",
            saoma::domain::one_time_token::hash("8613800000009", "123456").as_str(),
            "8613800000009"
        )
    );
    let session = app
        .post(
            "/auth/v1/verify",
            json!({"type": "sms", "phone": "8613800000009", "token": "123456"}),
        )
        .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.one_time_tokens")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "a used code is gone");
}
