//! Refresh-token rotation, once for both backends: each supplies the row-level steps inside
//! its own transaction, this module runs [`decide`] and applies the decision, and writes the
//! `token_refreshed` audit entry of an issued token in the same transaction (as GoTrue does):
//! one commit per refresh, and no rotation without its entry. The user and identities the
//! answer shows are read in that transaction too: the answer is the user as the rotation saw
//! it, and an issued refresh reads nothing after its commit (on Postgres, each read after it
//! was a pool checkout and its release ping; on SQLite, a reader whose page cache every
//! commit empties).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Rotation, StoreResult};
use crate::domain::{
    audit::{Action, AuditEntry},
    refresh::{decide, Decision, MintedToken, RefreshToken, RotationPolicy},
    user::banned_at,
    Identity, Session, User,
};

/// The statements rotation needs, run inside one transaction of the backend.
#[async_trait]
pub(super) trait RotationSteps: Send {
    /// The session owning the token `token_hash`, locked against concurrent rotations.
    async fn lock_session_of(&mut self, token_hash: &str) -> StoreResult<Option<Session>>;
    async fn token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// The newest unrevoked token of the session.
    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>>;
    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_child(
        &mut self,
        fresh: &MintedToken,
        session: &Session,
        parent: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()>;
    /// The session's user, read before anything changes (its ban decides, its audit entry
    /// names it, the answer shows it); `None` when the user is gone.
    async fn user(&mut self, user_id: Uuid) -> StoreResult<Option<User>>;
    /// The user's identities, oldest first, for the answer.
    async fn identities_of(&mut self, user_id: Uuid) -> StoreResult<Vec<Identity>>;
    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
}

/// `presented` is what the backend's steps look tokens up by: saoma's hash, or (Postgres, see
/// `PostgresStore::rotate_gotrue_refresh_token`) the plaintext of a token GoTrue issued.
/// With `audit_ip`, an issued token's `token_refreshed` entry is written too, from that
/// address.
pub(super) async fn rotate(
    steps: &mut impl RotationSteps,
    presented: &str,
    fresh: &MintedToken,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
    audit_ip: Option<&str>,
) -> StoreResult<Rotation> {
    let Some(session) = steps.lock_session_of(presented).await? else {
        return Ok(Rotation::NotFound);
    };
    let Some(presented) = steps.token(presented).await? else {
        return Ok(Rotation::NotFound);
    };
    let Some(user) = steps.user(session.user_id).await? else {
        return Ok(Rotation::NotFound);
    };
    // As GoTrue, first of all: a banned user's refresh is refused before anything changes,
    // so that the client's token still works once the ban is lifted (rotated during the ban,
    // it would be a reused token then, and end the session).
    if banned_at(user.banned_until, now) {
        return Ok(Rotation::UserBanned);
    }
    if session.is_expired(now) {
        return Ok(Rotation::SessionExpired);
    }
    let (session, nonce) =
        match decide_and_apply(steps, &presented, session, fresh, now, policy).await? {
            Applied::Issued { session, nonce } => (session, nonce),
            Applied::Refused(refused) => return Ok(refused),
        };
    if let Some(ip) = audit_ip {
        let traits = serde_json::json!({ "session_id": session.id });
        let entry = AuditEntry::new(Action::TokenRefreshed, &user, traits, ip, now);
        steps.insert_audit(&entry).await?;
    }
    let identities = steps.identities_of(user.id).await?;
    Ok(Rotation::Issued {
        session,
        nonce,
        user,
        identities,
    })
}

/// What [`decide_and_apply`] did: a token to hand out, or the answer without one.
// Returned once per rotation, as `Rotation` (see there).
#[allow(clippy::large_enum_variant)]
enum Applied {
    Issued { session: Session, nonce: String },
    Refused(Rotation),
}

async fn decide_and_apply(
    steps: &mut impl RotationSteps,
    presented: &RefreshToken,
    session: Session,
    fresh: &MintedToken,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
) -> StoreResult<Applied> {
    let active = steps.active_token(session.id).await?;
    match decide(presented, active.as_ref(), now, policy) {
        Decision::ReturnActive => match active {
            Some(active) if !active.is_from_gotrue() => Ok(Applied::Issued {
                session,
                nonce: active.nonce,
            }),
            // GoTrue's active token, whose answer the client lost: saoma hands out only tokens
            // it can derive, so the active token gets a child instead. Its own holder, if any,
            // then presents the parent of the active token and is given that child too.
            Some(active) => issue_child(steps, &active, session, fresh, now).await,
            None => Ok(Applied::Refused(Rotation::NotFound)),
        },
        Decision::Reject { end_session } => {
            if end_session {
                steps.delete_session(session.id).await?;
            }
            Ok(Applied::Refused(Rotation::Reused {
                session_ended: end_session,
                user_id: session.user_id,
            }))
        }
        Decision::IssueChild => issue_child(steps, presented, session, fresh, now).await,
    }
}

/// Revokes `parent` (if not already) and stores `fresh` as its child, the session's new active
/// token. The child is always saoma's: a token GoTrue issued is rotated into saoma's form here.
async fn issue_child(
    steps: &mut impl RotationSteps,
    parent: &RefreshToken,
    session: Session,
    fresh: &MintedToken,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    if !parent.revoked {
        steps.revoke(parent.id, now).await?;
    }
    steps
        .insert_child(fresh, &session, &parent.token_hash, now)
        .await?;
    steps.touch_session(session.id, now).await?;
    let session = Session {
        refreshed_at: Some(now),
        updated_at: now,
        ..session
    };
    Ok(Applied::Issued {
        session,
        nonce: fresh.nonce.clone(),
    })
}
