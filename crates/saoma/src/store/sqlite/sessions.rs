use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    columns::{SESSION_COLUMNS, TOKEN_COLUMNS},
    decode::{opt_ts, session_from_row, token_from_row, ts},
    group_writer::run_now,
    SqliteStore,
};
use crate::domain::{
    refresh::{MintedToken, RefreshToken, RotationPolicy},
    session::LogoutScope,
    Session,
};
use crate::store::{
    rotation::{rotate, RotationSteps},
    Rotation, SessionStore, StoreResult,
};

/// A refresh token's row; shared by both drivers' writers.
const INSERT_TOKEN: &str =
    "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, 0, ?, ?)";
// Built once: each rotation runs them, and they are the statement cache's keys.
static SESSION_OF_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token = ?)")
});
static TOKEN_BY_HASH: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"));
static ACTIVE_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 ORDER BY id DESC LIMIT 1")
});
const REVOKE_TOKEN: &str = "UPDATE refresh_tokens SET revoked = 1, updated_at = ? WHERE id = ?";
const TOUCH_SESSION: &str = "UPDATE sessions SET refreshed_at = ?, updated_at = ? WHERE id = ?";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id = ?";

async fn insert_token(
    conn: &mut sqlx::SqliteConnection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(INSERT_TOKEN)
        .bind(&token.token_hash)
        .bind(&token.nonce)
        .bind(session.user_id.to_string())
        .bind(session.id.to_string())
        .bind(parent)
        .bind(ts(now))
        .bind(ts(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records `method` on the session, or moves its time to `at` when it is there already (as
/// GoTrue does); `false` when there is no such session.
async fn upsert_amr_claim(
    conn: &mut sqlx::SqliteConnection,
    session_id: Uuid,
    method: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(session_id.to_string())
    .bind(ts(at))
    .bind(method)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A session, its first refresh token, its AMR claims, and the user's last sign-in.
pub(super) async fn insert_session(
    conn: &mut sqlx::SqliteConnection,
    session: &Session,
    token: &MintedToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.id.to_string())
    .bind(session.user_id.to_string())
    .bind(&session.aal)
    .bind(opt_ts(session.not_after))
    .bind(opt_ts(session.refreshed_at))
    .bind(&session.user_agent)
    .bind(&session.ip)
    .bind(ts(session.created_at))
    .bind(ts(session.updated_at))
    .execute(&mut *conn)
    .await?;
    insert_token(conn, token, session, None, session.created_at).await?;
    for claim in &session.amr {
        upsert_amr_claim(conn, session.id, &claim.method, claim.at).await?;
    }
    sqlx::query("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
        .bind(ts(session.created_at))
        .bind(session.user_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn delete_sessions(
    conn: &mut sqlx::SqliteConnection,
    user_id: Uuid,
    current: Uuid,
    scope: LogoutScope,
) -> StoreResult<u64> {
    let query = match scope {
        LogoutScope::Global => {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(user_id.to_string())
        }
        LogoutScope::Local => sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id = ?")
            .bind(user_id.to_string())
            .bind(current.to_string()),
        LogoutScope::Others => sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id <> ?")
            .bind(user_id.to_string())
            .bind(current.to_string()),
    };
    Ok(query.execute(conn).await?.rows_affected())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session, token: &MintedToken) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_session(&mut tx, session, token).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn record_amr_claim(
        &self,
        session_id: Uuid,
        method: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        upsert_amr_claim(&mut conn, session_id, method, at).await
    }

    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await?;
        delete_sessions(&mut conn, user_id, current, scope).await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
    ) -> StoreResult<Rotation> {
        // On the group writer: rotations waiting together share one commit, each in its own
        // savepoint; the answer comes after that commit. BEGIN IMMEDIATE fences off other
        // processes sharing the file.
        let presented = presented_hash.to_owned();
        let fresh = fresh.clone();
        let policy = *policy;
        self.group
            .write(move |conn| {
                run_now(rotate(
                    &mut GroupRotation(conn),
                    &presented,
                    &fresh,
                    now,
                    &policy,
                ))?
            })
            .await
    }
}

/// Rotation's statements on the group writer's connection, inside its batch's transaction.
/// The steps are `async` for the shared `rotate`, and never wait.
struct GroupRotation<'a>(&'a mut rusqlite::Connection);

impl GroupRotation<'_> {
    fn optional<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut statement = self.0.prepare_cached(sql)?;
        let mut rows = statement.query(params)?;
        rows.next()?.map(decode).transpose()
    }

    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
        self.0.prepare_cached(sql)?.execute(params)?;
        Ok(())
    }
}

#[async_trait]
impl RotationSteps for GroupRotation<'_> {
    async fn lock_session_of(&mut self, token_hash: &str) -> StoreResult<Option<Session>> {
        // The write lock of the batch's BEGIN IMMEDIATE already serialises rotations.
        self.optional(&SESSION_OF_TOKEN, [token_hash], |row| session_from_row(row))
    }

    async fn token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        self.optional(&TOKEN_BY_HASH, [token_hash], |row| token_from_row(row))
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        self.optional(&ACTIVE_TOKEN, [session_id.to_string()], |row| {
            token_from_row(row)
        })
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(REVOKE_TOKEN, rusqlite::params![ts(now), token_id])
    }

    async fn insert_child(
        &mut self,
        fresh: &MintedToken,
        session: &Session,
        parent: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            INSERT_TOKEN,
            rusqlite::params![
                fresh.token_hash,
                fresh.nonce,
                session.user_id.to_string(),
                session.id.to_string(),
                parent,
                ts(now),
                ts(now)
            ],
        )
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            TOUCH_SESSION,
            rusqlite::params![ts(now), ts(now), session_id.to_string()],
        )
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        self.execute(DELETE_SESSION, [session_id.to_string()])
    }
}
