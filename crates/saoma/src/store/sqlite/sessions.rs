use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    columns::{SESSION_COLUMNS, TOKEN_COLUMNS},
    decode::{opt_ts, session_from_row, token_from_row, ts},
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

async fn insert_token(
    conn: &mut sqlx::SqliteConnection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
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
        // The single writer connection serialises rotations; BEGIN IMMEDIATE also fences off
        // other processes sharing the file. The transaction is a value: a request dropped
        // mid-rotation rolls it back instead of handing the writer back inside it.
        let mut tx = self.write_transaction().await?;
        let outcome = rotate(
            &mut SqliteRotation(&mut tx),
            presented_hash,
            fresh,
            now,
            policy,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Rotation's statements on the writer connection, inside `BEGIN IMMEDIATE`.
struct SqliteRotation<'a>(&'a mut sqlx::SqliteConnection);

#[async_trait]
impl RotationSteps for SqliteRotation<'_> {
    async fn lock_session_of(&mut self, token_hash: &str) -> StoreResult<Option<Session>> {
        // The write lock taken by BEGIN IMMEDIATE already serialises rotations.
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token = ?)"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 ORDER BY id DESC LIMIT 1"
        ))
        .bind(session_id.to_string())
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked = 1, updated_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(token_id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_child(
        &mut self,
        fresh: &MintedToken,
        session: &Session,
        parent: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        insert_token(self.0, fresh, session, Some(parent), now).await
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET refreshed_at = ?, updated_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(ts(now))
            .bind(session_id.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(session_id.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}
