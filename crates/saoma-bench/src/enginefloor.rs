//! The engine floor (issue 17): what SQLite itself sustains for saoma's writes on this
//! machine. The statements saoma's SQLite store issues for a refresh rotation and for a
//! sign-up's account, through rusqlite on ONE thread of their own, [`BATCH`] operations per
//! `BEGIN IMMEDIATE … COMMIT`, prepared statements cached, WAL and `synchronous = NORMAL` as
//! saoma opens the file, checkpoints on saoma's checkpoint thread: no HTTP, no async, no
//! pool. A group-committing writer can approach
//! this figure, not pass it.
//!
//! The statements are copied from crates/saoma/src/store/sqlite/{sessions,users,identities,
//! audit}.rs: keep them in step when those change.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use saoma::store::{SqliteCheckpointer, SQLITE_AUDIT_ACTOR_SQL, SQLITE_SESSION_COLUMNS};
use uuid::Uuid;

use crate::dbfloor::{active_tokens, random_hex, ts, Db, TOKEN_COLUMNS};
use crate::load::{self, Phase, Stats};

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

/// The audit-log entry saoma writes with each refresh and sign-up (its own statement; the
/// refresh writes it outside the rotation's transaction, the sign-up inside its account's).
fn insert_audit(conn: &Connection, user_id: &str, action: &str, now: &str) -> anyhow::Result<()> {
    let payload = serde_json::json!({
        "actor_id": user_id,
        "actor_username": "someone@bench.example.com",
        "actor_via_sso": false,
        "action": action,
        "log_type": if action == "token_refreshed" { "token" } else { "account" },
        "traits": { "provider": "email" },
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
/// token, the session's newest unrevoked token, revoke, the child, the session touched
/// (`store/rotation.rs` on `store/sqlite/sessions.rs`), then the user's audit columns and the
/// audit entry. Answers the
/// child's hash, the chain's next active token.
fn rotate(conn: &Connection, token: &str) -> anyhow::Result<String> {
    let now = ts(Utc::now());
    let (session_id, user_id): (String, String) = conn
        .prepare_cached(&format!(
            "SELECT {SQLITE_SESSION_COLUMNS} FROM sessions WHERE id = \
             (SELECT session_id FROM refresh_tokens WHERE token = ?)"
        ))?
        .query_row([token], |row| {
            read_all(row)?;
            Ok((row.get("id")?, row.get("user_id")?))
        })
        .context("session of token not found")?;
    let presented_id: i64 = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"
        ))?
        .query_row([token], |row| {
            read_all(row)?;
            row.get("id")
        })
        .context("token not found")?;
    {
        let mut active = conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 \
             ORDER BY id DESC LIMIT 1"
        ))?;
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
    // The audit entry, in the rotation's transaction (store/rotation.rs): who it names, then
    // the entry.
    {
        let mut actor = conn.prepare_cached(SQLITE_AUDIT_ACTOR_SQL)?;
        let mut rows = actor.query([&user_id])?;
        if let Some(row) = rows.next()? {
            read_all(row)?;
        }
    }
    insert_audit(conn, &user_id, "token_refreshed", &now)?;
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

/// A sign-up's account as `UserStore::create_account` writes it when the sign-up signs in
/// (`store/sqlite/users.rs`): the user, its email identity, the session with its first
/// token, its AMR claim and the user's last sign-in, and the two audit entries (signed up,
/// login). The hash is computed once beforehand: this floor is the sign-up minus its hash.
fn sign_up(conn: &Connection, encrypted_password: &str) -> anyhow::Result<()> {
    let now = ts(Utc::now());
    let user_id = Uuid::new_v4().to_string();
    let email = format!("engine-{}@bench.example.com", Uuid::new_v4().simple());
    let app_meta = r#"{"provider":"email","providers":["email"]}"#;
    let user_meta = serde_json::json!({
        "email": email,
        "email_verified": true,
        "phone_verified": false,
        "sub": user_id,
    })
    .to_string();
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
        email,
        encrypted_password,
        now,
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
        app_meta,
        user_meta,
        no_time,
        false,
        now,
        user_id,
        now
    ])?;
    conn.prepare_cached(
        "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, email, \
         last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        Uuid::new_v4().to_string(),
        user_id,
        "email",
        user_id,
        user_meta,
        email,
        now,
        now,
        now
    ])?;
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
    .execute(params![
        Uuid::new_v4().to_string(),
        session_id,
        now,
        "password"
    ])?;
    conn.prepare_cached("UPDATE users SET last_sign_in_at = ? WHERE id = ?")?
        .execute(params![now, user_id])?;
    insert_audit(conn, &user_id, "user_signedup", &now)?;
    insert_audit(conn, &user_id, "login", &now)?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use saoma::store::{Housekeeping, SqliteStore};
    use sqlx::Row;

    fn short() -> Phase {
        Phase {
            warmup: Duration::ZERO,
            measure: Duration::from_millis(300),
        }
    }

    /// Both floors run on saoma's own schema, so a statement that drifted from it fails here
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
        db.close().await;
        Ok(())
    }
}
