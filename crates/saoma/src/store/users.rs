//! Users: accounts, their rows, and the token check's read of a user with its session and
//! identities.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

use super::{Principal, StoreResult};
use crate::domain::{
    audit::AuditEntry, refresh::MintedToken, Identity, Session, User, UserChanges,
};

/// A new user and what its sign-up writes besides: committed together or not at all, so that
/// a failed sign-up leaves no user behind (and an app's trigger on the users table fires only
/// for accounts that exist).
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub user: &'a User,
    pub identities: &'a [Identity],
    /// The first session and its refresh token, when the sign-up signs the user in at once.
    pub session: Option<(&'a Session, &'a MintedToken)>,
    pub audit: &'a [AuditEntry],
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user and its identities together; `Conflict("user")` on a taken email.
    async fn create_user(&self, user: &User, identities: &[Identity]) -> StoreResult<()> {
        self.create_account(&NewAccount {
            user,
            identities,
            session: None,
            audit: &[],
        })
        .await
    }
    /// Writes a new account in one transaction; `Conflict("user")` on a taken email,
    /// `Conflict("identity")` on a taken identity.
    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()>;
    /// Applies `changes` to the user's row under its write lock and returns the row as
    /// written; `None` when there is no such user. `Conflict("user")` on a taken email.
    async fn change_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// The user (not soft-deleted) with its identities and, when `session_id` is given, that
    /// session if it belongs to the user; `None` when there is no such user.
    async fn principal(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> StoreResult<Option<Arc<Principal>>>;
    /// Looks up by normalized email; soft-deleted users are not found.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Looks up by phone number as stored (see `domain::phone`); soft-deleted users are not
    /// found.
    async fn user_by_phone(&self, phone: &str) -> StoreResult<Option<User>>;
    /// A page of users, oldest first, and how many there are in all (soft-deleted excluded).
    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)>;
    /// Deletes the user and everything hanging off it.
    async fn delete_user(&self, id: Uuid) -> StoreResult<bool>;
    /// Marks the user deleted and frees its email and phone; identities and sessions go.
    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
}
