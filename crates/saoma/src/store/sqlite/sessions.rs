use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit::{insert_audit, AuditRow},
    columns::{SESSION_COLUMNS, TOKEN_COLUMNS},
    decode::{identity_from_row, opt_ts, session_from_row, token_from_row, ts, user_from_row},
    group_writer::run_now,
    identities::IDENTITIES_OF,
    statements::{all, execute, optional},
    users::USER_BY_ID,
    SqliteStore,
};
use crate::domain::{
    audit::AuditEntry,
    refresh::{MintedToken, RefreshToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User,
};
use crate::store::{
    rotation::{rotate, RotationSteps},
    Rotation, SessionStore, StoreResult,
};

/// A refresh token's row, for a session's first token and for rotations.
const INSERT_TOKEN: &str =
    "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)";
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
const TOUCH_SESSION: &str = "UPDATE sessions SET refreshed_at = ?1, updated_at = ?1 WHERE id = ?2";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id = ?";
fn insert_token(
    conn: &rusqlite::Connection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    execute(
        conn,
        INSERT_TOKEN,
        rusqlite::params![
            token.token_hash,
            token.nonce,
            session.user_id.to_string(),
            session.id.to_string(),
            parent,
            ts(now)
        ],
    )?;
    Ok(())
}

/// Records `method` on the session, or moves its time to `at` when it is there already (as
/// GoTrue does); `false` when there is no such session.
fn upsert_amr_claim(
    conn: &rusqlite::Connection,
    session_id: Uuid,
    method: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = execute(
        conn,
        "INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = excluded.updated_at",
        rusqlite::params![
            Uuid::new_v4().to_string(),
            session_id.to_string(),
            ts(at),
            method
        ],
    )?;
    Ok(done == 1)
}

/// A session, its first refresh token, its AMR claims, and the user's last sign-in.
pub(super) fn insert_session(
    conn: &rusqlite::Connection,
    session: &Session,
    token: &MintedToken,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rusqlite::params![
            session.id.to_string(),
            session.user_id.to_string(),
            session.aal,
            opt_ts(session.not_after),
            opt_ts(session.refreshed_at),
            session.user_agent,
            session.ip,
            ts(session.created_at),
            ts(session.updated_at)
        ],
    )?;
    insert_token(conn, token, session, None, session.created_at)?;
    for claim in &session.amr {
        upsert_amr_claim(conn, session.id, &claim.method, claim.at)?;
    }
    execute(
        conn,
        "UPDATE users SET last_sign_in_at = ? WHERE id = ?",
        rusqlite::params![ts(session.created_at), session.user_id.to_string()],
    )?;
    Ok(())
}

pub(super) fn delete_sessions(
    conn: &rusqlite::Connection,
    user_id: Uuid,
    current: Uuid,
    scope: LogoutScope,
) -> StoreResult<u64> {
    let (user_id, current) = (user_id.to_string(), current.to_string());
    let deleted = match scope {
        LogoutScope::Global => execute(conn, "DELETE FROM sessions WHERE user_id = ?", [user_id])?,
        LogoutScope::Local => execute(
            conn,
            "DELETE FROM sessions WHERE user_id = ? AND id = ?",
            [user_id, current],
        )?,
        LogoutScope::Others => execute(
            conn,
            "DELETE FROM sessions WHERE user_id = ? AND id <> ?",
            [user_id, current],
        )?,
    };
    Ok(deleted as u64)
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        session: &Session,
        token: &MintedToken,
        login: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let (session, token) = (session.clone(), token.clone());
        let login = login.map(AuditRow::from);
        self.writer
            .write(move |conn| {
                insert_session(conn, &session, &token)?;
                login.as_ref().map_or(Ok(()), |row| insert_audit(conn, row))
            })
            .await
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
        let method = method.to_owned();
        self.writer
            .write(move |conn| upsert_amr_claim(conn, session_id, &method, at))
            .await
    }

    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64> {
        self.writer
            .write(move |conn| delete_sessions(conn, user_id, current, scope))
            .await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        audit_ip: Option<&str>,
    ) -> StoreResult<Rotation> {
        // On the group writer: rotations waiting together share one commit, each in its own
        // savepoint; the answer comes after that commit. BEGIN IMMEDIATE fences off other
        // processes sharing the file.
        let presented = presented_hash.to_owned();
        let fresh = fresh.clone();
        let policy = *policy;
        let audit_ip = audit_ip.map(str::to_owned);
        self.writer
            .write(move |conn| {
                run_now(rotate(
                    &mut GroupRotation(conn),
                    &presented,
                    &fresh,
                    now,
                    &policy,
                    audit_ip.as_deref(),
                ))?
            })
            .await
    }
}

/// Rotation's statements on the group writer's connection, inside its batch's transaction.
/// The steps are `async` for the shared `rotate`, and never wait.
struct GroupRotation<'a>(&'a mut rusqlite::Connection);

#[async_trait]
impl RotationSteps for GroupRotation<'_> {
    async fn lock_session_of(&mut self, token_hash: &str) -> StoreResult<Option<Session>> {
        // The write lock of the batch's BEGIN IMMEDIATE already serialises rotations.
        optional(self.0, &SESSION_OF_TOKEN, [token_hash], |row| {
            session_from_row(row)
        })
    }

    async fn token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        optional(self.0, &TOKEN_BY_HASH, [token_hash], |row| {
            token_from_row(row)
        })
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        optional(self.0, &ACTIVE_TOKEN, [session_id.to_string()], |row| {
            token_from_row(row)
        })
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        execute(self.0, REVOKE_TOKEN, rusqlite::params![ts(now), token_id])?;
        Ok(())
    }

    async fn insert_child(
        &mut self,
        fresh: &MintedToken,
        session: &Session,
        parent: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        insert_token(self.0, fresh, session, Some(parent), now)
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        execute(
            self.0,
            TOUCH_SESSION,
            rusqlite::params![ts(now), session_id.to_string()],
        )?;
        Ok(())
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        execute(self.0, DELETE_SESSION, [session_id.to_string()])?;
        Ok(())
    }

    async fn user(&mut self, user_id: Uuid) -> StoreResult<Option<User>> {
        optional(self.0, &USER_BY_ID, [user_id.to_string()], |row| {
            user_from_row(row)
        })
    }

    async fn identities_of(&mut self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        all(self.0, &IDENTITIES_OF, [user_id.to_string()], |row| {
            identity_from_row(row)
        })
    }

    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        insert_audit(self.0, &AuditRow::from(entry))
    }
}
