use async_trait::async_trait;
use uuid::Uuid;

use super::{
    columns::IDENTITY_COLUMNS,
    decode::{identity_from_row, is_unique_violation, opt_ts, ts},
    SqliteStore,
};
use crate::domain::{user_changes::IdentityChange, Identity};
use crate::store::{IdentityStore, StoreError, StoreResult};

pub(super) async fn insert_identity(
    conn: &mut sqlx::SqliteConnection,
    identity: &Identity,
) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, email, \
         last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(identity.id.to_string())
    .bind(&identity.provider_id)
    .bind(&identity.provider)
    .bind(identity.user_id.to_string())
    .bind(identity.identity_data.to_string())
    .bind(&identity.email)
    .bind(opt_ts(identity.last_sign_in_at))
    .bind(ts(identity.created_at))
    .bind(ts(identity.updated_at))
    .execute(conn)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("identity")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Applies a link or unlink inside the caller's transaction (under the user's lock), then
/// answers the providers of the identities the user has, oldest first.
pub(super) async fn change_identity(
    conn: &mut sqlx::SqliteConnection,
    user_id: Uuid,
    change: &IdentityChange,
) -> StoreResult<Vec<String>> {
    match change {
        IdentityChange::Link(identity) => insert_identity(&mut *conn, identity).await?,
        IdentityChange::Unlink(identity_id) => {
            let done = sqlx::query(
                "DELETE FROM identities WHERE id = ? AND user_id = ? \
                 AND (SELECT count(*) FROM identities WHERE user_id = ?) > 1",
            )
            .bind(identity_id.to_string())
            .bind(user_id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("last identity"));
            }
        }
    }
    let providers: Vec<(String,)> =
        sqlx::query_as("SELECT provider FROM identities WHERE user_id = ? ORDER BY created_at, id")
            .bind(user_id.to_string())
            .fetch_all(&mut *conn)
            .await?;
    Ok(providers.into_iter().map(|(provider,)| provider).collect())
}

#[async_trait]
impl IdentityStore for SqliteStore {
    /// On the request's thread, as `user_by_id`: a user has a handful of identities.
    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        self.inline.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = ? ORDER BY created_at, id"
            ))?;
            let mut rows = statement.query([user_id.to_string()])?;
            let mut identities = Vec::new();
            while let Some(row) = rows.next()? {
                identities.push(identity_from_row(row)?);
            }
            Ok(identities)
        })
    }

    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_id = ?"
        ))
        .bind(provider)
        .bind(provider_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn identities_by_provider_id(&self, provider_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider_id = ?"
        ))
        .bind(provider_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn add_identity(&self, identity: &Identity) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        insert_identity(&mut conn, identity).await
    }

    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM identities WHERE id = ? AND user_id = ?")
            .bind(identity_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        sqlx::query(
            "UPDATE identities SET identity_data = ?, email = ?, last_sign_in_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(identity.identity_data.to_string())
        .bind(&identity.email)
        .bind(opt_ts(identity.last_sign_in_at))
        .bind(ts(identity.updated_at))
        .bind(identity.id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
