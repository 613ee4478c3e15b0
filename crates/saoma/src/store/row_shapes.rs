//! What both dialects decode alike: the names a session's columns go by, and the JSON
//! arrays their statements aggregate child rows into (identities, AMR claims).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::domain::{session::AmrClaim, Identity};

/// The column names a session is decoded from: as selected from the sessions table, or
/// prefixed where a statement joins the session to its user.
pub(super) struct SessionColumns {
    pub id: &'static str,
    pub user_id: &'static str,
    pub aal: &'static str,
    pub not_after: &'static str,
    pub refreshed_at: &'static str,
    pub user_agent: &'static str,
    pub ip: &'static str,
    /// The AMR claims as a JSON array (see [`amr_from_json`]).
    pub amr: &'static str,
    pub created_at: &'static str,
    pub updated_at: &'static str,
}

impl SessionColumns {
    pub const PLAIN: Self = Self {
        id: "id",
        user_id: "user_id",
        aal: "aal",
        not_after: "not_after",
        refreshed_at: "refreshed_at",
        user_agent: "user_agent",
        ip: "ip",
        amr: "amr",
        created_at: "created_at",
        updated_at: "updated_at",
    };
    pub const JOINED: Self = Self {
        id: "s_id",
        user_id: "s_user_id",
        aal: "s_aal",
        not_after: "s_not_after",
        refreshed_at: "s_refreshed_at",
        user_agent: "s_user_agent",
        ip: "s_ip",
        amr: "s_amr",
        created_at: "s_created_at",
        updated_at: "s_updated_at",
    };
}

/// An identity as both backends aggregate them into JSON for the token check.
#[derive(serde::Deserialize)]
struct IdentityJson {
    id: Uuid,
    provider_id: String,
    provider: String,
    user_id: Uuid,
    identity_data: Option<serde_json::Value>,
    email: Option<String>,
    last_sign_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Decodes a JSON array of identities (absent when the user has none).
pub(super) fn identities_from_json(raw: Option<&str>) -> StoreResult<Vec<Identity>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let rows: Vec<IdentityJson> =
        serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("identities: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|row| Identity {
            id: row.id,
            provider_id: row.provider_id,
            provider: row.provider,
            user_id: row.user_id,
            identity_data: row
                .identity_data
                .filter(|data| !data.is_null())
                .unwrap_or_else(|| serde_json::json!({})),
            email: row.email,
            last_sign_in_at: row.last_sign_in_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

/// An AMR claim as both backends aggregate them: `{"method": .., "at": ..}`, oldest first.
#[derive(serde::Deserialize)]
struct AmrJson {
    method: String,
    at: DateTime<Utc>,
}

/// Decodes a session's AMR claims (absent or empty when it has none). A session without any
/// (written by something other than saoma or GoTrue) counts as signed in by password when
/// it started, as it always has.
pub(super) fn amr_from_json(
    raw: Option<&str>,
    session_created_at: DateTime<Utc>,
) -> StoreResult<Vec<AmrClaim>> {
    let claims: Vec<AmrJson> = match raw {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|e| StoreError::Corrupt(format!("amr claims: {e}")))?,
        None => Vec::new(),
    };
    if claims.is_empty() {
        return Ok(vec![AmrClaim {
            method: "password".to_owned(),
            at: session_created_at,
        }]);
    }
    Ok(claims
        .into_iter()
        .map(|claim| AmrClaim {
            method: claim.method,
            at: claim.at,
        })
        .collect())
}
