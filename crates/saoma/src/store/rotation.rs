//! Refresh-token rotation, once for both backends: each supplies the row-level steps inside
//! its own transaction, this module runs [`decide`] and applies the decision, and writes the
//! `token_refreshed` audit entry of an issued token in the same transaction (as GoTrue does):
//! one commit per refresh, and no rotation without its entry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Rotation, StoreResult};
use crate::domain::{
    audit::{Action, AuditActor, AuditEntry},
    refresh::{decide, Decision, MintedToken, RefreshToken, RotationPolicy},
    user::banned_at,
    Session,
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
    /// What an audit entry names of the user, and until when the user is banned (read before
    /// anything changes); `None` when the user is gone.
    async fn audit_actor(
        &mut self,
        user_id: Uuid,
    ) -> StoreResult<Option<(AuditActor, Option<DateTime<Utc>>)>>;
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
    let Some((actor, banned_until)) = steps.audit_actor(session.user_id).await? else {
        return Ok(Rotation::NotFound);
    };
    // As GoTrue, first of all: a banned user's refresh is refused before anything changes,
    // so that the client's token still works once the ban is lifted (rotated during the ban,
    // it would be a reused token then, and end the session).
    if banned_at(banned_until, now) {
        return Ok(Rotation::UserBanned);
    }
    if session.is_expired(now) {
        return Ok(Rotation::SessionExpired);
    }
    let outcome = decide_and_apply(steps, &presented, session, fresh, now, policy).await?;
    if let (Rotation::Issued { session, .. }, Some(ip)) = (&outcome, audit_ip) {
        let traits = serde_json::json!({ "session_id": session.id });
        let entry = AuditEntry::about(Action::TokenRefreshed, &actor, traits, ip, now);
        steps.insert_audit(&entry).await?;
    }
    Ok(outcome)
}

async fn decide_and_apply(
    steps: &mut impl RotationSteps,
    presented: &RefreshToken,
    session: Session,
    fresh: &MintedToken,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
) -> StoreResult<Rotation> {
    let active = steps.active_token(session.id).await?;
    match decide(presented, active.as_ref(), now, policy) {
        Decision::ReturnActive => match active {
            Some(active) if !active.is_from_gotrue() => Ok(Rotation::Issued {
                session,
                nonce: active.nonce,
            }),
            // GoTrue's active token, whose answer the client lost: saoma hands out only tokens
            // it can derive, so the active token gets a child instead. Its own holder, if any,
            // then presents the parent of the active token and is given that child too.
            Some(active) => issue_child(steps, &active, session, fresh, now).await,
            None => Ok(Rotation::NotFound),
        },
        Decision::Reject { end_session } => {
            if end_session {
                steps.delete_session(session.id).await?;
            }
            Ok(Rotation::Reused {
                session_ended: end_session,
                user_id: session.user_id,
            })
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
) -> StoreResult<Rotation> {
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
    Ok(Rotation::Issued {
        session,
        nonce: fresh.nonce.clone(),
    })
}
