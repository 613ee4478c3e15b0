use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, types::Value};
use uuid::Uuid;

use super::{
    audit::{insert_audit, AuditRow},
    columns::{PRINCIPAL_SQL, USER_COLUMNS},
    decode::{opt_ts, principal_from_row, ts, user_from_row},
    identities::{change_identity, insert_identity, update_identity},
    sessions::{delete_sessions, insert_session},
    statements::{execute, execute_unique, optional},
    SqliteStore,
};
use crate::domain::{
    user_changes::{merge, providers_patch},
    User, UserChanges,
};
use crate::store::{NewAccount, Principal, StoreError, StoreResult, UserStore};

/// The user's own columns, in the order both statements below name them.
fn user_columns(user: &User) -> Vec<Value> {
    vec![
        user.aud.clone().into(),
        user.role.clone().into(),
        user.email.clone().into(),
        user.encrypted_password.clone().into(),
        opt_ts(user.email_confirmed_at).into(),
        opt_ts(user.confirmation_sent_at).into(),
        user.phone.clone().into(),
        opt_ts(user.phone_confirmed_at).into(),
        // GoTrue's "none" is `''`, not null.
        user.phone_change.clone().unwrap_or_default().into(),
        opt_ts(user.phone_change_sent_at).into(),
        opt_ts(user.invited_at).into(),
        opt_ts(user.recovery_sent_at).into(),
        user.email_change.clone().unwrap_or_default().into(),
        opt_ts(user.email_change_sent_at).into(),
        i64::from(user.email_change_confirm_status).into(),
        opt_ts(user.reauthentication_sent_at).into(),
        opt_ts(user.last_sign_in_at).into(),
        user.app_metadata.to_string().into(),
        user.user_metadata.to_string().into(),
        opt_ts(user.banned_until).into(),
        user.is_anonymous.into(),
        ts(user.updated_at).into(),
    ]
}

/// The new user's row, rendered by the request (its metadata JSON is not the writer's work).
fn new_user_row(user: &User) -> Vec<Value> {
    let mut values = user_columns(user);
    values.extend([user.id.to_string().into(), ts(user.created_at).into()]);
    values
}

fn insert_user(conn: &rusqlite::Connection, values: Vec<Value>) -> StoreResult<()> {
    execute_unique(
        conn,
        "INSERT INTO users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at, \
         invited_at, recovery_sent_at, email_change, email_change_sent_at, \
         email_change_confirm_status, reauthentication_sent_at, \
         last_sign_in_at, raw_app_meta_data, raw_user_meta_data, banned_until, is_anonymous, \
         updated_at, id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params_from_iter(values),
        "user",
    )?;
    Ok(())
}

/// `write_user`'s statement: the user's own columns, then its id. Public so that the
/// benchmark's floors write a user as saoma does.
pub const UPDATE_USER_SQL: &str = "UPDATE users SET aud = ?, role = ?, email = ?, encrypted_password = ?, \
    email_confirmed_at = ?, confirmation_sent_at = ?, phone = ?, phone_confirmed_at = ?, \
    phone_change = ?, phone_change_sent_at = ?, invited_at = ?, recovery_sent_at = ?, \
    email_change = ?, email_change_sent_at = ?, email_change_confirm_status = ?, \
    reauthentication_sent_at = ?, last_sign_in_at = ?, raw_app_meta_data = ?, raw_user_meta_data = ?, banned_until = ?, \
    is_anonymous = ?, updated_at = ? WHERE id = ?";

/// Writes the user's own columns (inside `change_user`'s write).
fn write_user(conn: &rusqlite::Connection, user: &User) -> StoreResult<()> {
    let mut values = user_columns(user);
    values.push(user.id.to_string().into());
    execute_unique(conn, UPDATE_USER_SQL, params_from_iter(values), "user")?;
    Ok(())
}

pub(super) static USER_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL")
});

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()> {
        let user = new_user_row(account.user);
        let identities = account.identities.to_vec();
        let session = account
            .session
            .map(|(session, token)| (session.clone(), token.clone()));
        let audit: Vec<AuditRow> = account.audit.iter().map(AuditRow::from).collect();
        self.writer
            .write(move |conn| {
                insert_user(conn, user)?;
                for identity in &identities {
                    insert_identity(conn, identity)?;
                }
                if let Some((session, token)) = &session {
                    insert_session(conn, session, token)?;
                }
                for entry in &audit {
                    insert_audit(conn, entry)?;
                }
                Ok(())
            })
            .await
    }

    async fn change_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let audit = changes.audit.as_ref().map(AuditRow::from);
        let changes = changes.clone();
        self.writer
            .write(move |conn| {
                // Read and written in one write of the writer: nobody changes the row between.
                let Some(mut user) = optional(conn, &USER_BY_ID, [id.to_string()], |row| {
                    user_from_row(row)
                })?
                else {
                    return Ok(None);
                };
                changes.apply(&mut user, now);
                if let Some(change) = &changes.identity {
                    let providers = change_identity(conn, id, change)?;
                    merge(&mut user.app_metadata, &providers_patch(&providers));
                }
                if let Some(identity) = &changes.signed_in_identity {
                    if identity.user_id != id || !update_identity(conn, identity)? {
                        return Err(StoreError::Conflict("identity"));
                    }
                }
                write_user(conn, &user)?;
                if let Some((scope, current)) = changes.end_sessions {
                    delete_sessions(conn, id, current, scope)?;
                }
                if changes.clear_one_time_tokens {
                    execute(
                        conn,
                        "DELETE FROM one_time_tokens WHERE user_id = ?",
                        [id.to_string()],
                    )?;
                }
                if let Some(row) = &audit {
                    insert_audit(conn, row)?;
                }
                Ok(Some(user))
            })
            .await
    }

    /// On the request's thread (every sign-in reads its user): sqlx's hand-off to a
    /// connection thread and back cost more than the lookup.
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.inline.read(|conn| {
            optional(conn, &USER_BY_ID, [id.to_string()], |row| {
                user_from_row(row)
            })
        })
    }

    async fn principal(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> StoreResult<Option<Arc<Principal>>> {
        self.inline.principal((user_id, session_id), |conn| {
            let mut statement = conn.prepare_cached(PRINCIPAL_SQL)?;
            let mut rows = statement.query(rusqlite::params![
                user_id.to_string(),
                session_id.map(|id| id.to_string())
            ])?;
            rows.next()?.map(principal_from_row).transpose()
        })
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = ? AND is_sso_user = 0 AND deleted_at IS NULL"
        ))
        .bind(email)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_phone(&self, phone: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE phone = ? AND deleted_at IS NULL"
        ))
        .bind(phone)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE deleted_at IS NULL")
            .fetch_one(&self.reader)
            .await?;
        Ok((
            rows.iter().map(user_from_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                Ok(execute(conn, "DELETE FROM users WHERE id = ?", [id.to_string()])? == 1)
            })
            .await
    }

    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                let id = id.to_string();
                let done = execute(
                    conn,
                    "UPDATE users SET deleted_at = ?, updated_at = ?, email = NULL, phone = NULL, \
                     encrypted_password = NULL WHERE id = ? AND deleted_at IS NULL",
                    rusqlite::params![ts(now), ts(now), id],
                )?;
                execute(conn, "DELETE FROM identities WHERE user_id = ?", [&id])?;
                execute(conn, "DELETE FROM sessions WHERE user_id = ?", [&id])?;
                Ok(done == 1)
            })
            .await
    }
}
