use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    audit::insert_audit,
    columns::{PRINCIPAL_SQL, USER_COLUMNS},
    decode::{is_unique_violation, opt_ts, principal_from_row, ts, user_from_row},
    identities::{change_identity, insert_identity},
    sessions::{delete_sessions, insert_session},
    SqliteStore,
};
use crate::domain::{
    user_changes::{merge, providers_patch},
    User, UserChanges,
};
use crate::store::{NewAccount, Principal, StoreError, StoreResult, UserStore};

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// The user's own columns, in the order both statements below name them, bound to `query`.
fn bind_user_columns<'q>(query: Query<'q>, user: &'q User) -> Query<'q> {
    query
        .bind(&user.aud)
        .bind(&user.role)
        .bind(&user.email)
        .bind(&user.encrypted_password)
        .bind(opt_ts(user.email_confirmed_at))
        .bind(opt_ts(user.confirmation_sent_at))
        .bind(&user.phone)
        .bind(opt_ts(user.phone_confirmed_at))
        // GoTrue's "none" is `''`, not null.
        .bind(user.phone_change.as_deref().unwrap_or(""))
        .bind(opt_ts(user.phone_change_sent_at))
        .bind(opt_ts(user.invited_at))
        .bind(opt_ts(user.recovery_sent_at))
        .bind(user.email_change.as_deref().unwrap_or(""))
        .bind(opt_ts(user.email_change_sent_at))
        .bind(user.email_change_confirm_status)
        .bind(opt_ts(user.reauthentication_sent_at))
        .bind(opt_ts(user.last_sign_in_at))
        .bind(user.app_metadata.to_string())
        .bind(user.user_metadata.to_string())
        .bind(opt_ts(user.banned_until))
        .bind(user.is_anonymous)
        .bind(ts(user.updated_at))
}

/// Unique-key clashes on the users table are the caller's `Conflict`, not a failure.
fn user_conflict(result: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>) -> StoreResult<()> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("user")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_user(conn: &mut sqlx::SqliteConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at, \
         invited_at, recovery_sent_at, email_change, email_change_sent_at, \
         email_change_confirm_status, reauthentication_sent_at, \
         last_sign_in_at, raw_app_meta_data, raw_user_meta_data, banned_until, is_anonymous, \
         updated_at, id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    let query = bind_user_columns(query, user)
        .bind(user.id.to_string())
        .bind(ts(user.created_at));
    user_conflict(query.execute(conn).await)
}

/// Writes the user's own columns (under the write lock taken by `change_user`).
async fn write_user(conn: &mut sqlx::SqliteConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "UPDATE users SET aud = ?, role = ?, email = ?, encrypted_password = ?, \
         email_confirmed_at = ?, confirmation_sent_at = ?, phone = ?, phone_confirmed_at = ?, \
         phone_change = ?, phone_change_sent_at = ?, invited_at = ?, recovery_sent_at = ?, \
         email_change = ?, email_change_sent_at = ?, email_change_confirm_status = ?, \
         reauthentication_sent_at = ?, last_sign_in_at = ?, raw_app_meta_data = ?, raw_user_meta_data = ?, banned_until = ?, \
         is_anonymous = ?, updated_at = ? WHERE id = ?",
    );
    user_conflict(
        bind_user_columns(query, user)
            .bind(user.id.to_string())
            .execute(conn)
            .await,
    )
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_user(&mut tx, account.user).await?;
        for identity in account.identities {
            insert_identity(&mut tx, identity).await?;
        }
        if let Some((session, token)) = account.session {
            insert_session(&mut tx, session, token).await?;
        }
        for entry in account.audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn change_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        // The write lock is taken before the read: nobody changes the row in between.
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut user) = row.as_ref().map(user_from_row).transpose()? else {
            return Ok(None);
        };
        changes.apply(&mut user, now);
        if let Some(change) = &changes.identity {
            let providers = change_identity(&mut tx, id, change).await?;
            merge(&mut user.app_metadata, &providers_patch(&providers));
        }
        write_user(&mut tx, &user).await?;
        if let Some((scope, current)) = changes.end_sessions {
            delete_sessions(&mut tx, id, current, scope).await?;
        }
        if changes.clear_one_time_tokens {
            sqlx::query("DELETE FROM one_time_tokens WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(entry) = &changes.audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(Some(user))
    }

    /// On the request's thread (every refresh and sign-in reads its user): sqlx's hand-off
    /// to a connection thread and back cost more than the lookup.
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.inline.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
            ))?;
            let mut rows = statement.query([id.to_string()])?;
            rows.next()?.map(user_from_row).transpose()
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
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "UPDATE users SET deleted_at = ?, updated_at = ?, email = NULL, phone = NULL, \
             encrypted_password = NULL WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(ts(now))
        .bind(ts(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        for table in ["identities", "sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
