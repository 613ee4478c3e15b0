use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    audit::insert_audit,
    columns::USER_COLUMNS,
    decode::{is_unique_violation, user_from_row},
    identities::{change_identity, insert_identity, update_identity},
    sessions::{delete_sessions, insert_session},
    PostgresStore,
};
use crate::domain::{
    user_changes::{merge, providers_patch},
    User, UserChanges,
};
use crate::store::{retry_read, NewAccount, Principal, StoreError, StoreResult, UserStore};

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The user's own columns, in the order both statements below name them, bound to `query`.
fn bind_user_columns<'q>(query: Query<'q>, user: &'q User) -> Query<'q> {
    query
        .bind(&user.aud)
        .bind(&user.role)
        .bind(&user.email)
        .bind(&user.encrypted_password)
        .bind(user.email_confirmed_at)
        .bind(user.confirmation_sent_at)
        .bind(&user.phone)
        .bind(user.phone_confirmed_at)
        // GoTrue's "none" is `''`, not null.
        .bind(user.phone_change.as_deref().unwrap_or(""))
        .bind(user.phone_change_sent_at)
        .bind(user.invited_at)
        .bind(user.recovery_sent_at)
        .bind(user.email_change.as_deref().unwrap_or(""))
        .bind(user.email_change_sent_at)
        .bind(user.email_change_confirm_status)
        .bind(user.reauthentication_sent_at)
        .bind(user.last_sign_in_at)
        .bind(&user.app_metadata)
        .bind(&user.user_metadata)
        .bind(user.banned_until)
        .bind(user.is_anonymous)
        .bind(user.updated_at)
}

/// Unique-key clashes on the users table are the caller's `Conflict`, not a failure.
fn user_conflict(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> StoreResult<()> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("user")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_user(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO auth.users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at, \
         invited_at, recovery_sent_at, email_change, email_change_sent_at, \
         email_change_confirm_status, reauthentication_sent_at, \
         last_sign_in_at, raw_app_meta_data, raw_user_meta_data, banned_until, is_anonymous, \
         updated_at, id, created_at, instance_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24, '00000000-0000-0000-0000-000000000000')",
    );
    let query = bind_user_columns(query, user)
        .bind(user.id)
        .bind(user.created_at);
    user_conflict(query.execute(conn).await)
}

/// A user by id, for `user_by_id` and inside a refresh's rotation.
pub(super) static USER_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL")
});

/// `write_user`'s statement: the user's own columns, then its id. Public so that the
/// benchmark's floors write a user as saoma does.
pub const UPDATE_USER_SQL: &str =
    "UPDATE auth.users SET aud = $1, role = $2, email = $3, encrypted_password = $4, \
    email_confirmed_at = $5, confirmation_sent_at = $6, phone = $7, phone_confirmed_at = $8, \
    phone_change = $9, phone_change_sent_at = $10, invited_at = $11, \
    recovery_sent_at = $12, email_change = $13, email_change_sent_at = $14, \
    email_change_confirm_status = $15, reauthentication_sent_at = $16, \
    last_sign_in_at = $17, raw_app_meta_data = $18, raw_user_meta_data = $19, \
    banned_until = $20, is_anonymous = $21, updated_at = $22 WHERE id = $23";

/// Writes the user's own columns (under the row lock taken by `change_user`).
async fn write_user(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(UPDATE_USER_SQL);
    user_conflict(
        bind_user_columns(query, user)
            .bind(user.id)
            .execute(conn)
            .await,
    )
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
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
        // The row lock is taken by the read: concurrent changes queue behind each other.
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
        ))
        .bind(id)
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
        if let Some(identity) = &changes.signed_in_identity {
            if identity.user_id != id || !update_identity(&mut *tx, identity).await? {
                return Err(StoreError::Conflict("identity"));
            }
        }
        write_user(&mut tx, &user).await?;
        if let Some((scope, current)) = changes.end_sessions {
            delete_sessions(&mut tx, id, current, scope).await?;
        }
        if changes.clear_one_time_tokens {
            sqlx::query("DELETE FROM auth.one_time_tokens WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(entry) = &changes.audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&USER_BY_ID)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
        })
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn principal(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> StoreResult<Option<Arc<Principal>>> {
        self.principals.principal((user_id, session_id)).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM auth.users \
                 WHERE email = $1 AND is_sso_user = false AND deleted_at IS NULL"
            ))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_phone(&self, phone: &str) -> StoreResult<Option<User>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM auth.users WHERE phone = $1 AND deleted_at IS NULL"
            ))
            .bind(phone)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)> {
        let rows = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM auth.users WHERE deleted_at IS NULL \
                 ORDER BY created_at, id LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM auth.users WHERE deleted_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok((
            rows.iter().map(user_from_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth.users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE auth.users SET deleted_at = $1, updated_at = $1, email = NULL, phone = NULL, \
             encrypted_password = NULL WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for table in ["auth.identities", "auth.sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
