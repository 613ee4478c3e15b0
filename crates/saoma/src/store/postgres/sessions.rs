use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    audit::insert_audit,
    columns::{SESSION_COLUMNS, TOKEN_COLUMNS},
    decode::{identity_from_row, session_from_row, token_from_row, user_from_row},
    identities::IDENTITIES_OF,
    users::USER_BY_ID,
    PostgresStore,
};
use crate::domain::{
    audit::AuditEntry,
    refresh::{could_be_from_gotrue, plaintext_matches, MintedToken, RefreshToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User,
};
use crate::store::{
    retry_read,
    rotation::{rotate, RotationSteps},
    Rotation, SessionStore, StoreResult,
};

async fn insert_token(
    conn: &mut PgConnection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, false, $6, $6)",
    )
    .bind(&token.token_hash)
    .bind(&token.nonce)
    .bind(session.user_id.to_string())
    .bind(session.id)
    .bind(parent)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `method` on the session, or moves its time to `at` when it is there already (as
/// GoTrue does); `false` when there is no such session.
async fn upsert_amr_claim(
    conn: &mut PgConnection,
    session_id: Uuid,
    method: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         SELECT $1, $2, $3, $3, $4 WHERE EXISTS (SELECT 1 FROM auth.sessions WHERE id = $2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(Uuid::new_v4())
    .bind(session_id)
    .bind(at)
    .bind(method)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A session, its first refresh token, its AMR claims, and the user's last sign-in.
pub(super) async fn insert_session(
    conn: &mut PgConnection,
    session: &Session,
    token: &MintedToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES ($1, $2, $3::auth.aal_level, $4, $5, $6, $7::inet, $8, $9)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(&session.aal)
    .bind(session.not_after)
    .bind(session.refreshed_at)
    .bind(&session.user_agent)
    .bind(&session.ip)
    .bind(session.created_at)
    .bind(session.updated_at)
    .execute(&mut *conn)
    .await?;
    insert_token(conn, token, session, None, session.created_at).await?;
    for claim in &session.amr {
        upsert_amr_claim(conn, session.id, &claim.method, claim.at).await?;
    }
    sqlx::query("UPDATE auth.users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(session.created_at)
        .bind(session.user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn delete_sessions(
    conn: &mut PgConnection,
    user_id: Uuid,
    current: Uuid,
    scope: LogoutScope,
) -> StoreResult<u64> {
    let sql = match scope {
        LogoutScope::Global => {
            "DELETE FROM auth.sessions WHERE user_id = $1 AND $2::uuid IS NOT NULL"
        }
        LogoutScope::Local => "DELETE FROM auth.sessions WHERE user_id = $1 AND id = $2",
        LogoutScope::Others => "DELETE FROM auth.sessions WHERE user_id = $1 AND id <> $2",
    };
    let done = sqlx::query(sql)
        .bind(user_id)
        .bind(current)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(
        &self,
        session: &Session,
        token: &MintedToken,
        login: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session, token).await?;
        if let Some(entry) = login {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM auth.sessions WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn record_amr_claim(
        &self,
        session_id: Uuid,
        method: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut conn = self.writes.single().await?;
        let recorded = upsert_amr_claim(&mut conn, session_id, method, at).await?;
        conn.give_back();
        Ok(recorded)
    }

    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64> {
        let mut conn = self.writes.single().await?;
        let ended = delete_sessions(&mut conn, user_id, current, scope).await?;
        conn.give_back();
        Ok(ended)
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        audit_ip: Option<&str>,
    ) -> StoreResult<Rotation> {
        let mut tx = self.begin().await?;
        let mut steps = PgRotation {
            conn: &mut tx,
            lookup: TokenLookup::Hash,
        };
        let outcome = rotate(&mut steps, presented_hash, fresh, now, policy, audit_ip).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn rotate_gotrue_refresh_token(
        &self,
        presented: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        audit_ip: Option<&str>,
    ) -> StoreResult<Rotation> {
        if !could_be_from_gotrue(presented) {
            return Ok(Rotation::NotFound);
        }
        let mut tx = self.begin().await?;
        let mut steps = PgRotation {
            conn: &mut tx,
            lookup: TokenLookup::GoTruePlaintext,
        };
        let outcome = rotate(&mut steps, presented, fresh, now, policy, audit_ip).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// How rotation finds the presented token.
#[derive(Clone, Copy)]
enum TokenLookup {
    /// saoma's tokens, by the hash of the plaintext.
    Hash,
    /// GoTrue's, by the plaintext it stored. Only rows without saoma's nonce: a saoma row's
    /// `token` is a hash, which must never work as a token.
    GoTruePlaintext,
}

impl TokenLookup {
    fn condition(self) -> &'static str {
        match self {
            TokenLookup::Hash => "token = $1",
            TokenLookup::GoTruePlaintext => "token = $1 AND nonce IS NULL",
        }
    }
}

/// Rotation's statements inside one Postgres transaction.
struct PgRotation<'a> {
    conn: &'a mut PgConnection,
    lookup: TokenLookup,
}

#[async_trait]
impl RotationSteps for PgRotation<'_> {
    async fn lock_session_of(&mut self, key: &str) -> StoreResult<Option<Session>> {
        // Locking the session row serialises every rotation of one session across processes.
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM auth.sessions WHERE id = \
             (SELECT session_id FROM auth.refresh_tokens WHERE {}) FOR UPDATE",
            self.lookup.condition()
        ))
        .bind(key)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn token(&mut self, key: &str) -> StoreResult<Option<RefreshToken>> {
        let token = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE {}",
            self.lookup.condition()
        ))
        .bind(key)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()?;
        Ok(match self.lookup {
            TokenLookup::Hash => token,
            // The index found the row; the decision rests on an exact, constant-time match
            // (a column collation could compare more loosely than byte for byte).
            TokenLookup::GoTruePlaintext => token.filter(|t| plaintext_matches(key, &t.token_hash)),
        })
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE session_id = $1 AND revoked = false \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(session_id)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE auth.refresh_tokens SET revoked = true, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(&mut *self.conn)
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
        insert_token(self.conn, fresh, session, Some(parent), now).await
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE auth.sessions SET refreshed_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM auth.sessions WHERE id = $1")
            .bind(session_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn user(&mut self, user_id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query(&USER_BY_ID)
            .bind(user_id)
            .fetch_optional(&mut *self.conn)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn identities_of(&mut self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        sqlx::query(&IDENTITIES_OF)
            .bind(user_id)
            .fetch_all(&mut *self.conn)
            .await?
            .iter()
            .map(identity_from_row)
            .collect()
    }

    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        insert_audit(self.conn, entry).await
    }
}
