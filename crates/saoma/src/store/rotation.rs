//! Refresh-token rotation, once for both backends: each supplies the row-level steps inside
//! its own transaction, this module runs [`decide`] and applies the decision.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Rotation, StoreResult};
use crate::domain::{
    refresh::{decide, Decision, MintedToken, RefreshToken, RotationPolicy},
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
}

pub(super) async fn rotate(
    steps: &mut impl RotationSteps,
    presented_hash: &str,
    fresh: &MintedToken,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
) -> StoreResult<Rotation> {
    let Some(session) = steps.lock_session_of(presented_hash).await? else {
        return Ok(Rotation::NotFound);
    };
    let Some(presented) = steps.token(presented_hash).await? else {
        return Ok(Rotation::NotFound);
    };
    if session.is_expired(now) {
        return Ok(Rotation::SessionExpired);
    }
    let active = steps.active_token(session.id).await?;
    match decide(&presented, active.as_ref(), now, policy) {
        Decision::ReturnActive => {
            let nonce = active.map(|a| a.nonce).unwrap_or_default();
            Ok(Rotation::Issued { session, nonce })
        }
        Decision::Reject { end_session } => {
            if end_session {
                steps.delete_session(session.id).await?;
            }
            Ok(Rotation::Reused {
                session_ended: end_session,
                user_id: session.user_id,
            })
        }
        Decision::IssueChild => {
            if !presented.revoked {
                steps.revoke(presented.id, now).await?;
            }
            steps
                .insert_child(fresh, &session, &presented.token_hash, now)
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
    }
}
