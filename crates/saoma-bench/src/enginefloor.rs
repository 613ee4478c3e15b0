//! The engine floor (issue 17): what SQLite itself sustains for saoma's writes on this
//! machine. The statements saoma's SQLite store issues for a refresh rotation, a sign-up's
//! account and a WeChat QR login, through rusqlite on ONE thread of their own, [`BATCH`] operations per
//! `BEGIN IMMEDIATE … COMMIT`, prepared statements cached, WAL and `synchronous = NORMAL` as
//! saoma opens the file, checkpoints on saoma's checkpoint thread: no HTTP, no async, no
//! pool. A group-committing writer can approach
//! this figure, not pass it.
//!
//! The statements are copied from crates/saoma/src/store/sqlite/{sessions,users,identities,
//! flows,audit}.rs (the column lists are saoma's own constants): keep them in step when those
//! change.

use std::{sync::LazyLock, time::Duration};

use anyhow::Context;
use chrono::Utc;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use saoma::store::{
    SqliteCheckpointer, SQLITE_FLOW_COLUMNS, SQLITE_IDENTITY_COLUMNS, SQLITE_SESSION_COLUMNS,
    SQLITE_UPDATE_USER_SQL, SQLITE_USER_COLUMNS,
};
use uuid::Uuid;

use crate::dbfloor::{active_tokens, random_hex, ts, Db, TOKEN_COLUMNS};
use crate::load::{self, Phase, Stats};

// The reads' statements, formatted once (each operation looks its statements up by text).
static SESSION_OF_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SQLITE_SESSION_COLUMNS} FROM sessions WHERE id = \
         (SELECT session_id FROM refresh_tokens WHERE token = ?)"
    )
});
static TOKEN_BY_HASH: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"));
static ACTIVE_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 \
         ORDER BY id DESC LIMIT 1"
    )
});
static USER_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {SQLITE_USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL")
});
static FLOW_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {SQLITE_FLOW_COLUMNS} FROM flow_state WHERE id = ?"));
static FLOW_BY_AUTH_CODE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {SQLITE_FLOW_COLUMNS} FROM flow_state WHERE auth_code = ?"));
static IDENTITY_BY_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SQLITE_IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_id = ?"
    )
});
static IDENTITIES_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SQLITE_IDENTITY_COLUMNS} FROM identities WHERE user_id = ? \
         ORDER BY created_at, id"
    )
});

/// Operations per transaction: one commit (one WAL append and, with `synchronous = NORMAL`,
/// no fsync) for this many of them.
pub const BATCH: usize = 64;

/// The writer connection, opened with saoma's pragmas.
fn open_writer(path: &str) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {path}"))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "journal mode {mode}, not WAL"
    );
    // Checkpoints as saoma runs them: on a thread of their own (`SqliteCheckpointer`).
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
    )?;
    Ok(conn)
}

fn sqlite_path(db: &Db) -> anyhow::Result<String> {
    match db {
        Db::Sqlite { path, .. } => Ok(path.clone()),
        Db::Postgres(_) => anyhow::bail!("the engine floor is SQLite's"),
    }
}

/// The audit-log entry saoma writes with each refresh (in the rotation's transaction), each
/// sign-up (in its account's) and each login (on its own, after the session's).
fn insert_audit(
    conn: &Connection,
    user_id: &str,
    action: &str,
    provider: &str,
    now: &str,
) -> anyhow::Result<()> {
    let payload = serde_json::json!({
        "actor_id": user_id,
        "actor_username": "someone@bench.example.com",
        "actor_via_sso": false,
        "action": action,
        "log_type": if action == "token_refreshed" { "token" } else { "account" },
        "traits": { "provider": provider },
    });
    conn.prepare_cached(
        "INSERT INTO audit_log_entries (id, payload, created_at, ip_address) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![
        Uuid::now_v7().to_string(), // as saoma's `AuditEntry`
        payload.to_string(),
        now,
        "127.0.0.1"
    ])?;
    Ok(())
}

/// Reads every column of the current row, as saoma's decoder does.
fn read_all(row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
    for i in 0..row.as_ref().column_count() {
        std::hint::black_box(row.get_ref(i)?);
    }
    Ok(())
}

/// Refresh rotation of `token` (an active token's hash): the session of the token, the
/// token, the user, the session's newest unrevoked token, revoke, the child, the session
/// touched (`store/rotation.rs` on `store/sqlite/sessions.rs`), the audit entry, the user's
/// identities. Answers the child's hash, the chain's next active token.
fn rotate(conn: &Connection, token: &str) -> anyhow::Result<String> {
    let now = ts(Utc::now());
    let (session_id, user_id): (String, String) = conn
        .prepare_cached(&SESSION_OF_TOKEN)?
        .query_row([token], |row| {
            read_all(row)?;
            Ok((row.get("id")?, row.get("user_id")?))
        })
        .context("session of token not found")?;
    let presented_id: i64 = conn
        .prepare_cached(&TOKEN_BY_HASH)?
        .query_row([token], |row| {
            read_all(row)?;
            row.get("id")
        })
        .context("token not found")?;
    // The user, read before anything changes (store/rotation.rs).
    user_by_id(conn, &user_id)?;
    {
        let mut active = conn.prepare_cached(&ACTIVE_TOKEN)?;
        let mut rows = active.query([&session_id])?;
        if let Some(row) = rows.next()? {
            read_all(row)?;
        }
    }
    conn.prepare_cached("UPDATE refresh_tokens SET revoked = 1, updated_at = ? WHERE id = ?")?
        .execute(params![now, presented_id])?;
    let child = random_hex(32);
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )?
    .execute(params![
        child,
        random_hex(16),
        user_id,
        session_id,
        token,
        now,
        now
    ])?;
    conn.prepare_cached("UPDATE sessions SET refreshed_at = ?, updated_at = ? WHERE id = ?")?
        .execute(params![now, now, session_id])?;
    // The audit entry, in the rotation's transaction (store/rotation.rs).
    insert_audit(conn, &user_id, "token_refreshed", "email", &now)?;
    // The identities, for the answer.
    identities_of(conn, &user_id)?;
    Ok(child)
}

/// The refresh rotation's floor on the SQLite file of `db`: `chains` sessions' active tokens
/// rotated in turn, [`BATCH`] rotations per transaction.
pub async fn refresh(db: &Db, chains: usize, phase: Phase) -> anyhow::Result<Stats> {
    let path = sqlite_path(db)?;
    let mut tokens: Vec<String> = active_tokens(db, chains)
        .await?
        .into_iter()
        .map(|(token, _)| token)
        .collect();
    let mut conn = open_writer(&path)?;
    let _checkpoints = SqliteCheckpointer::start(path.as_ref())?;
    let mut next = 0usize;
    load::run_batched(
        move || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for _ in 0..BATCH {
                let chain = next % tokens.len();
                tokens[chain] = rotate(&tx, &tokens[chain])?;
                next = next.wrapping_add(1);
            }
            tx.commit()?;
            Ok(BATCH)
        },
        phase,
    )
    .await
}

/// A new session as `insert_session` writes it (`store/sqlite/sessions.rs`): the session,
/// its first refresh token, its AMR claim, and the user's last sign-in.
fn insert_session(conn: &Connection, user_id: &str, method: &str, now: &str) -> anyhow::Result<()> {
    let no_time: Option<&str> = None;
    let session_id = Uuid::new_v4().to_string();
    conn.prepare_cached(
        "INSERT INTO sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        session_id,
        user_id,
        "aal1",
        no_time,
        no_time,
        "saoma-bench",
        "127.0.0.1",
        now,
        now
    ])?;
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )?
    .execute(params![
        random_hex(32),
        random_hex(16),
        user_id,
        session_id,
        no_time,
        now,
        now
    ])?;
    conn.prepare_cached(
        "INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, \
         authentication_method) \
         SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = \
         excluded.updated_at",
    )?
    .execute(params![Uuid::new_v4().to_string(), session_id, now, method])?;
    conn.prepare_cached("UPDATE users SET last_sign_in_at = ? WHERE id = ?")?
        .execute(params![now, user_id])?;
    Ok(())
}

/// A sign-up's account as `UserStore::create_account` writes it when the sign-up signs in
/// (`store/sqlite/users.rs`): the user, its email identity, the session with its first
/// token, its AMR claim and the user's last sign-in, and the two audit entries (signed up,
/// login). The hash is computed once beforehand: this floor is the sign-up minus its hash.
fn sign_up(conn: &Connection, encrypted_password: &str) -> anyhow::Result<()> {
    let now = ts(Utc::now());
    let user_id = Uuid::new_v4().to_string();
    let email = format!("engine-{}@bench.example.com", Uuid::new_v4().simple());
    let user_meta = serde_json::json!({
        "email": email,
        "email_verified": true,
        "phone_verified": false,
        "sub": user_id,
    })
    .to_string();
    let user = NewUser {
        id: &user_id,
        email: Some(&email),
        encrypted_password: Some(encrypted_password),
        app_meta: r#"{"provider":"email","providers":["email"]}"#,
        user_meta: &user_meta,
    };
    insert_user(conn, &user, &now)?;
    insert_identity(conn, &user_id, "email", &user, &now)?;
    insert_session(conn, &user_id, "password", &now)?;
    insert_audit(conn, &user_id, "user_signedup", "email", &now)?;
    insert_audit(conn, &user_id, "login", "email", &now)?;
    Ok(())
}

/// What differs between the floors' new users.
struct NewUser<'a> {
    id: &'a str,
    email: Option<&'a str>,
    encrypted_password: Option<&'a str>,
    app_meta: &'a str,
    user_meta: &'a str,
}

/// A new user's row as `create_account` inserts it (`store/sqlite/users.rs`).
fn insert_user(conn: &Connection, user: &NewUser<'_>, now: &str) -> anyhow::Result<()> {
    let no_time: Option<&str> = None;
    conn.prepare_cached(
        "INSERT INTO users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at, \
         invited_at, recovery_sent_at, email_change, email_change_sent_at, \
         email_change_confirm_status, reauthentication_sent_at, \
         last_sign_in_at, raw_app_meta_data, raw_user_meta_data, banned_until, is_anonymous, \
         updated_at, id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        "authenticated",
        "authenticated",
        user.email,
        user.encrypted_password,
        user.email.map(|_| now),
        no_time,
        no_time,
        no_time,
        "",
        no_time,
        no_time,
        no_time,
        "",
        no_time,
        0,
        no_time,
        no_time,
        user.app_meta,
        user.user_meta,
        no_time,
        false,
        now,
        user.id,
        now
    ])?;
    Ok(())
}

/// The user's identity with `provider` (the user's id as its provider id for email, as
/// GoTrue; a WeChat unionid-like id otherwise). Answers the identity's id.
fn insert_identity(
    conn: &Connection,
    provider_id: &str,
    provider: &str,
    user: &NewUser<'_>,
    now: &str,
) -> anyhow::Result<String> {
    let id = Uuid::new_v4().to_string();
    conn.prepare_cached(
        "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, email, \
         last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        id,
        provider_id,
        provider,
        user.id,
        user.user_meta,
        user.email,
        now,
        now,
        now
    ])?;
    Ok(id)
}

/// Sign-up minus its hash on the SQLite file of `db`, [`BATCH`] accounts per transaction.
pub async fn sign_up_without_hash(db: &Db, phase: Phase) -> anyhow::Result<Stats> {
    let path = sqlite_path(db)?;
    let encrypted_password = bcrypt::hash(crate::PASSWORD, 10)?;
    let mut conn = open_writer(&path)?;
    let _checkpoints = SqliteCheckpointer::start(path.as_ref())?;
    load::run_batched(
        move || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for _ in 0..BATCH {
                sign_up(&tx, &encrypted_password)?;
            }
            tx.commit()?;
            Ok(BATCH)
        },
        phase,
    )
    .await
}

/// The WeChat user whose QR logins the floor repeats: the ids its statements look up.
struct WeChatUser {
    user_id: String,
    identity_id: String,
    provider_id: String,
    identity_data: String,
}

/// A WeChat user of the floor's own (saoma's QR login needs none to exist beforehand).
fn wechat_user(conn: &Connection) -> anyhow::Result<WeChatUser> {
    let now = ts(Utc::now());
    let user_id = Uuid::new_v4().to_string();
    let provider_id = format!("o{}", random_hex(14));
    let identity_data = serde_json::json!({
        "sub": provider_id,
        "unionid": provider_id,
        "nickname": "扫码",
        "avatar_url": "https://thirdwx.qlogo.cn/mmopen/bench/132",
    })
    .to_string();
    let user = NewUser {
        id: &user_id,
        email: None,
        encrypted_password: None,
        app_meta: r#"{"provider":"wechat_qr","providers":["wechat_qr"]}"#,
        user_meta: &identity_data,
    };
    insert_user(conn, &user, &now)?;
    let identity_id = insert_identity(conn, &provider_id, "wechat_qr", &user, &now)?;
    Ok(WeChatUser {
        user_id,
        identity_id,
        provider_id,
        identity_data,
    })
}

/// The user's row by id, every column read (`USER_BY_ID` in `store/sqlite/users.rs`):
/// answers the columns `write_user` sets, in its order, as read.
fn user_by_id(conn: &Connection, user_id: &str) -> anyhow::Result<Vec<rusqlite::types::Value>> {
    conn.prepare_cached(&USER_BY_ID)?
        .query_row([user_id], |row| {
            read_all(row)?;
            USER_UPDATED_COLUMNS
                .iter()
                .map(|column| row.get::<_, rusqlite::types::Value>(*column))
                .collect()
        })
        .context("user not found")
}

/// The columns `write_user` sets before `updated_at`, in its statement's order.
const USER_UPDATED_COLUMNS: [&str; 21] = [
    "aud",
    "role",
    "email",
    "encrypted_password",
    "email_confirmed_at",
    "confirmation_sent_at",
    "phone",
    "phone_confirmed_at",
    "phone_change",
    "phone_change_sent_at",
    "invited_at",
    "recovery_sent_at",
    "email_change",
    "email_change_sent_at",
    "email_change_confirm_status",
    "reauthentication_sent_at",
    "last_sign_in_at",
    "raw_app_meta_data",
    "raw_user_meta_data",
    "banned_until",
    "is_anonymous",
];

/// One WeChat QR login of an existing user, every statement saoma's SQLite store runs for
/// its three requests (`/authorize`, WeChat's `/callback`, the PKCE exchange), in order,
/// reads included: the new flow; the flow, the identity, the user read and rewritten with
/// the identity's profile (`change_user`), the flow completed; the flow by its code, deleted,
/// the user, the new session, the `login` audit entry, the user's identities. The WeChat
/// calls between them are not database work. The reads run here on the writer's connection
/// inside the batch; saoma runs them on its read connections, each its own read transaction
/// (only `change_user`'s read is on the writer): this is the engine's limit for the
/// statements, not a copy of saoma's layout.
fn qr_login(conn: &Connection, who: &WeChatUser) -> anyhow::Result<()> {
    let now = ts(Utc::now());
    let flow_id = Uuid::new_v4().to_string();
    let no_text: Option<&str> = None;
    // /authorize
    conn.prepare_cached(
        "INSERT INTO flow_state (id, provider_type, referrer, code_challenge, \
         code_challenge_method, authentication_method, linking_target_id, user_id, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        flow_id,
        "wechat_qr",
        "http://localhost:3000/auth/callback",
        random_hex(22),
        "s256",
        "oauth",
        no_text,
        no_text,
        now,
        now
    ])?;
    // /callback
    let flow_by = |sql: &str, value: &str| -> anyhow::Result<()> {
        conn.prepare_cached(sql)?
            .query_row([value], read_all)
            .context("flow not found")
    };
    flow_by(&FLOW_BY_ID, &flow_id)?;
    conn.prepare_cached(&IDENTITY_BY_PROVIDER)?
        .query_row(["wechat_qr", &who.provider_id], read_all)
        .context("identity not found")?;
    // change_user: the user, the identity's profile, the user written.
    let mut user = user_by_id(conn, &who.user_id)?;
    conn.prepare_cached(
        "UPDATE identities SET identity_data = ?, email = ?, last_sign_in_at = ?, \
         updated_at = ? WHERE id = ? AND user_id = ?",
    )?
    .execute(params![
        who.identity_data,
        no_text,
        now,
        now,
        who.identity_id,
        who.user_id
    ])?;
    user.push(now.clone().into());
    user.push(who.user_id.clone().into());
    conn.prepare_cached(SQLITE_UPDATE_USER_SQL)?
        .execute(rusqlite::params_from_iter(user))?;
    let auth_code = Uuid::new_v4().to_string();
    let completed = conn
        .prepare_cached(
            "UPDATE flow_state SET user_id = ?, auth_code = ?, auth_code_issued_at = ?, \
             provider_access_token = ?, provider_refresh_token = ?, \
             provider_code_hash = ?, updated_at = ? \
             WHERE id = ? AND auth_code_issued_at IS NULL",
        )?
        .execute(params![
            who.user_id,
            auth_code,
            now,
            random_hex(16),
            random_hex(16),
            random_hex(32),
            now,
            flow_id
        ])?;
    anyhow::ensure!(completed == 1, "the flow was not completed");
    // grant_type=pkce
    flow_by(&FLOW_BY_AUTH_CODE, &auth_code)?;
    conn.prepare_cached("DELETE FROM flow_state WHERE id = ?")?
        .execute([&flow_id])?;
    user_by_id(conn, &who.user_id)?;
    insert_session(conn, &who.user_id, "oauth", &now)?;
    insert_audit(conn, &who.user_id, "login", "wechat_qr", &now)?;
    identities_of(conn, &who.user_id)
}

/// The user's identities, every column read (`IDENTITIES_OF` in `store/sqlite/identities.rs`).
fn identities_of(conn: &Connection, user_id: &str) -> anyhow::Result<()> {
    let mut identities = conn.prepare_cached(&IDENTITIES_OF)?;
    let mut rows = identities.query([user_id])?;
    while let Some(row) = rows.next()? {
        read_all(row)?;
    }
    Ok(())
}

/// The WeChat QR login's database work on the SQLite file of `db`, [`BATCH`] logins per
/// transaction.
pub async fn qr_login_database_work(db: &Db, phase: Phase) -> anyhow::Result<Stats> {
    let path = sqlite_path(db)?;
    let mut conn = open_writer(&path)?;
    let who = wechat_user(&conn)?;
    let _checkpoints = SqliteCheckpointer::start(path.as_ref())?;
    load::run_batched(
        move || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for _ in 0..BATCH {
                qr_login(&tx, &who)?;
            }
            tx.commit()?;
            Ok(BATCH)
        },
        phase,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use saoma::store::{Housekeeping, SqliteStore};
    use sqlx::Row;

    fn short() -> Phase {
        Phase {
            warmup: Duration::ZERO,
            measure: Duration::from_secs(2),
        }
    }

    async fn count(db: &Db, sql: &str) -> anyhow::Result<i64> {
        let Db::Sqlite { reader, .. } = db else {
            anyhow::bail!("not SQLite");
        };
        Ok(sqlx::query_scalar(sql).fetch_one(reader).await?)
    }

    /// The floors run on saoma's own schema, so a statement that drifted from it fails here
    /// rather than as a "failed" row at the end of a benchmark run; and the refresh floor
    /// really rotates: every chain keeps exactly one active token, every rotation revoked one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn floors_write_saomas_rows_and_rotate_every_chain() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("saoma.db").display().to_string();
        SqliteStore::open(&path, false).await?.migrate().await?;
        let db = Db::open(&path).await?;

        let signed_up = sign_up_without_hash(&db, short()).await?;
        assert!(signed_up.completed >= BATCH as u64, "{signed_up:?}");
        let rotated = refresh(&db, 4, short()).await?;
        assert!(rotated.completed >= BATCH as u64, "{rotated:?}");
        let sessions_before = count(&db, "SELECT count(*) FROM sessions").await?;
        let logged_in = qr_login_database_work(&db, short()).await?;
        assert!(logged_in.completed >= BATCH as u64, "{logged_in:?}");

        let Db::Sqlite { reader, .. } = &db else {
            anyhow::bail!("not SQLite");
        };
        let counts = sqlx::query(
            "SELECT (SELECT count(*) FROM users) AS users, \
             (SELECT count(*) FROM refresh_tokens WHERE revoked = 1) AS revoked, \
             (SELECT max(n) FROM (SELECT count(*) AS n FROM refresh_tokens WHERE revoked = 0 \
              GROUP BY session_id)) AS most_active",
        )
        .fetch_one(reader)
        .await?;
        let users: i64 = counts.try_get("users")?;
        let revoked: i64 = counts.try_get("revoked")?;
        let most_active: i64 = counts.try_get("most_active")?;
        assert!(
            users >= i64::try_from(signed_up.completed)?,
            "{users} users"
        );
        assert!(
            revoked >= i64::try_from(rotated.completed)?,
            "{revoked} revoked"
        );
        assert_eq!(most_active, 1);
        // Each QR login completed its flow (the guarded update matched) and the exchange
        // deleted it; each left a session and a login entry of the WeChat user.
        assert_eq!(count(&db, "SELECT count(*) FROM flow_state").await?, 0);
        let logins = i64::try_from(logged_in.completed)?;
        assert!(count(&db, "SELECT count(*) FROM sessions").await? >= sessions_before + logins);
        let wechat_logins = count(
            &db,
            "SELECT count(*) FROM audit_log_entries a JOIN identities i \
             ON i.user_id = json_extract(a.payload, '$.actor_id') \
             WHERE i.provider = 'wechat_qr' AND json_extract(a.payload, '$.action') = 'login'",
        )
        .await?;
        assert!(wechat_logins >= logins, "{wechat_logins} logins recorded");
        db.close().await;
        Ok(())
    }
}
