use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    columns::IDENTITY_COLUMNS,
    decode::{identity_from_row, is_unique_violation},
    PostgresStore,
};
use crate::domain::{user_changes::IdentityChange, Identity};
use crate::store::{retry_read, IdentityStore, StoreError, StoreResult};

/// A user's identities, oldest first: `identities_of`, and inside a refresh's rotation.
pub(super) static IDENTITIES_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {IDENTITY_COLUMNS} FROM auth.identities WHERE user_id = $1 ORDER BY created_at, id"
    )
});

/// Writes what a sign-in refreshes of an identity: its profile and when it was last used
/// (`email` is generated from the profile in Supabase's schema). Only a row of the
/// identity's own user (`identity.user_id`); `false` when that user has no identity by that
/// id (any more).
pub(super) async fn update_identity(
    conn: impl sqlx::PgExecutor<'_>,
    identity: &Identity,
) -> StoreResult<bool> {
    let updated = sqlx::query(
        "UPDATE auth.identities SET identity_data = $1, last_sign_in_at = $2, \
         updated_at = $3 WHERE id = $4 AND user_id = $5",
    )
    .bind(&identity.identity_data)
    .bind(identity.last_sign_in_at)
    .bind(identity.updated_at)
    .bind(identity.id)
    .bind(identity.user_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

pub(super) async fn insert_identity(
    conn: &mut PgConnection,
    identity: &Identity,
) -> StoreResult<()> {
    // `email` is generated from identity_data in Supabase's schema.
    let inserted = sqlx::query(
        "INSERT INTO auth.identities (id, provider_id, provider, user_id, identity_data, \
         last_sign_in_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(identity.id)
    .bind(&identity.provider_id)
    .bind(&identity.provider)
    .bind(identity.user_id)
    .bind(&identity.identity_data)
    .bind(identity.last_sign_in_at)
    .bind(identity.created_at)
    .bind(identity.updated_at)
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
    conn: &mut PgConnection,
    user_id: Uuid,
    change: &IdentityChange,
) -> StoreResult<Vec<String>> {
    match change {
        IdentityChange::Link(identity) => insert_identity(&mut *conn, identity).await?,
        IdentityChange::Unlink(identity_id) => {
            let done = sqlx::query(
                "DELETE FROM auth.identities WHERE id = $1 AND user_id = $2 \
                 AND (SELECT count(*) FROM auth.identities WHERE user_id = $3) > 1",
            )
            .bind(identity_id)
            .bind(user_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("last identity"));
            }
        }
    }
    let providers: Vec<(String,)> = sqlx::query_as(
        "SELECT provider FROM auth.identities WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(providers.into_iter().map(|(provider,)| provider).collect())
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        let rows = retry_read(|| async {
            Ok(sqlx::query(&IDENTITIES_OF)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
        })
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM auth.identities \
                 WHERE provider = $1 AND provider_id = $2"
            ))
            .bind(provider)
            .bind(provider_id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn identities_by_provider_id(&self, provider_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM auth.identities WHERE provider_id = $1"
            ))
            .bind(provider_id)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn add_identity(&self, identity: &Identity) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_identity(&mut conn, identity).await
    }

    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth.identities WHERE id = $1 AND user_id = $2")
            .bind(identity_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        update_identity(&self.pool, identity).await.map(|_| ())
    }
}
