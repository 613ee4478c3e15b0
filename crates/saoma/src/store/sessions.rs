//! Sessions, their AMR claims and their refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::{
    audit::AuditEntry,
    refresh::{MintedToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User,
};

/// The result of presenting a refresh token.
// A value returned once per refresh and consumed at once, never stored or moved in bulk: its
// size does not matter, and boxing the issued answer would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// No such token (or its session, or its user, is gone).
    NotFound,
    /// The session has passed its `not_after`.
    SessionExpired,
    /// Reused outside the reuse window; `session_ended` when the session was ended for it.
    Reused { session_ended: bool, user_id: Uuid },
    /// A token to hand to the client: either the freshly minted one or, for a client that lost
    /// its last answer, the active token's nonce; with the user and identities as read in the
    /// rotation's transaction, for the answer.
    Issued {
        session: Session,
        nonce: String,
        user: User,
        identities: Vec<Identity>,
    },
    /// The user is banned: nothing changed (GoTrue refuses before rotating too).
    UserBanned,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session with its first refresh token and AMR claims, and stamps the user's
    /// last sign-in; with `login`, its audit entry in the same transaction (as GoTrue writes
    /// a sign-in's entry with its token): no login without its entry, nor the reverse.
    async fn create_session(
        &self,
        session: &Session,
        token: &MintedToken,
        login: Option<&AuditEntry>,
    ) -> StoreResult<()>;
    /// The session with every AMR claim, oldest first.
    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>>;
    /// Records that the user authenticated again in this session by `method` (e.g. a later
    /// verification), as GoTrue does: a method already recorded only moves to `at`. `false`
    /// when there is no such session.
    async fn record_amr_claim(
        &self,
        session_id: Uuid,
        method: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends sessions of `user_id` relative to `current` (see [`LogoutScope`]); returns how many.
    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64>;

    /// Presents a refresh token (by hash) atomically: decides with
    /// [`crate::domain::refresh::decide`] under a row lock and applies the decision. With
    /// `audit_ip`, a rotation that issues a token writes its `token_refreshed` audit entry
    /// (from that address) in the same transaction.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        audit_ip: Option<&str>,
    ) -> StoreResult<Rotation>;

    /// Presents a refresh token GoTrue issued before saoma took over its database (GoTrue keeps
    /// them in plain text; saoma's own rows never match), with the same rules as
    /// [`SessionStore::rotate_refresh_token`]; the child is saoma's. Only a Postgres that
    /// GoTrue used can hold such tokens: elsewhere there are none.
    async fn rotate_gotrue_refresh_token(
        &self,
        _presented: &str,
        _fresh: &MintedToken,
        _now: DateTime<Utc>,
        _policy: &RotationPolicy,
        _audit_ip: Option<&str>,
    ) -> StoreResult<Rotation> {
        Ok(Rotation::NotFound)
    }

    /// Presents a refresh token as the client sent it: saoma's (looked up by hash), else one
    /// GoTrue issued, so that switching servers logs nobody out.
    async fn present_refresh_token(
        &self,
        presented: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        audit_ip: Option<&str>,
    ) -> StoreResult<Rotation> {
        let hash = crate::domain::refresh::hash_token(presented);
        match self
            .rotate_refresh_token(&hash, fresh, now, policy, audit_ip)
            .await?
        {
            Rotation::NotFound => {
                self.rotate_gotrue_refresh_token(presented, fresh, now, policy, audit_ip)
                    .await
            }
            found => Ok(found),
        }
    }
}
