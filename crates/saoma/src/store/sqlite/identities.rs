use std::sync::LazyLock;

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    columns::IDENTITY_COLUMNS,
    decode::{identity_from_row, opt_ts, ts},
    statements::{all, execute, execute_unique, optional},
    SqliteStore,
};
use crate::domain::{user_changes::IdentityChange, Identity};
use crate::store::{IdentityStore, StoreError, StoreResult};

pub(super) static IDENTITIES_OF: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = ? ORDER BY created_at, id")
});

static IDENTITY_BY_PROVIDER: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_id = ?")
});

pub(super) fn insert_identity(conn: &rusqlite::Connection, identity: &Identity) -> StoreResult<()> {
    execute_unique(
        conn,
        "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, email, \
         last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rusqlite::params![
            identity.id.to_string(),
            identity.provider_id,
            identity.provider,
            identity.user_id.to_string(),
            identity.identity_data.to_string(),
            identity.email,
            opt_ts(identity.last_sign_in_at),
            ts(identity.created_at),
            ts(identity.updated_at)
        ],
        "identity",
    )?;
    Ok(())
}

/// Writes what a sign-in refreshes of an identity: its profile and when it was last used.
/// Only a row of the identity's own user (`identity.user_id`); `false` when that user has
/// no identity by that id (any more).
pub(super) fn update_identity(
    conn: &rusqlite::Connection,
    identity: &Identity,
) -> StoreResult<bool> {
    let updated = execute(
        conn,
        "UPDATE identities SET identity_data = ?, email = ?, last_sign_in_at = ?, \
         updated_at = ? WHERE id = ? AND user_id = ?",
        rusqlite::params![
            identity.identity_data.to_string(),
            identity.email,
            opt_ts(identity.last_sign_in_at),
            ts(identity.updated_at),
            identity.id.to_string(),
            identity.user_id.to_string()
        ],
    )?;
    Ok(updated > 0)
}

/// Applies a link or unlink inside the caller's write (under the user's lock), then answers
/// the providers of the identities the user has, oldest first.
pub(super) fn change_identity(
    conn: &rusqlite::Connection,
    user_id: Uuid,
    change: &IdentityChange,
) -> StoreResult<Vec<String>> {
    match change {
        IdentityChange::Link(identity) => insert_identity(conn, identity)?,
        IdentityChange::Unlink(identity_id) => {
            let done = execute(
                conn,
                "DELETE FROM identities WHERE id = ?1 AND user_id = ?2 \
                 AND (SELECT count(*) FROM identities WHERE user_id = ?2) > 1",
                [identity_id.to_string(), user_id.to_string()],
            )?;
            if done == 0 {
                return Err(StoreError::Conflict("last identity"));
            }
        }
    }
    all(
        conn,
        "SELECT provider FROM identities WHERE user_id = ? ORDER BY created_at, id",
        [user_id.to_string()],
        |row| Ok(row.get(0)?),
    )
}

#[async_trait]
impl IdentityStore for SqliteStore {
    /// On the request's thread, as `user_by_id`: a user has a handful of identities.
    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        self.inline.read(|conn| {
            all(conn, &IDENTITIES_OF, [user_id.to_string()], |row| {
                identity_from_row(row)
            })
        })
    }

    /// On the request's thread, as `identities_of` (the `(provider_id, provider)` key): every
    /// external login looks its identity up.
    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>> {
        self.inline.read(|conn| {
            optional(
                conn,
                &IDENTITY_BY_PROVIDER,
                [provider, provider_id],
                |row| identity_from_row(row),
            )
        })
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
        let identity = identity.clone();
        self.writer
            .write(move |conn| insert_identity(conn, &identity))
            .await
    }

    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                let deleted = execute(
                    conn,
                    "DELETE FROM identities WHERE id = ? AND user_id = ?",
                    [identity_id.to_string(), user_id.to_string()],
                )?;
                Ok(deleted == 1)
            })
            .await
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        let identity = identity.clone();
        self.writer
            .write(move |conn| update_identity(conn, &identity).map(|_| ()))
            .await
    }
}
