//! Each row type decoded by one function, from the columns `columns` names; shared by every
//! statement.

use serde_json::Value;
use sqlx::{postgres::PgRow, Row};
use uuid::Uuid;

use super::super::{
    row_shapes::{amr_from_json, identities_from_json, SessionColumns},
    Principal, StoreError, StoreResult,
};
use crate::domain::{
    app_token::AppToken,
    audit::AuditEntry,
    flow::{Challenge, ChallengeMethod, FlowState},
    one_time_token::{OneTimeToken, TokenType},
    refresh::RefreshToken,
    scan_ticket::{ScanStatus, ScanTicket},
    Identity, Session, User,
};

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn req<T>(value: Option<T>, column: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
}

/// A row of [`super::columns::USER_COLUMNS`] (or the user's part of a token check's row).
pub(super) fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        aud: row.try_get::<Option<String>, _>("aud")?.unwrap_or_default(),
        role: row
            .try_get::<Option<String>, _>("role")?
            .unwrap_or_default(),
        email: row.try_get("email")?,
        encrypted_password: row.try_get("encrypted_password")?,
        email_confirmed_at: row.try_get("email_confirmed_at")?,
        confirmation_sent_at: row.try_get("confirmation_sent_at")?,
        phone: row.try_get("phone")?,
        phone_confirmed_at: row.try_get("phone_confirmed_at")?,
        // `''` is GoTrue's "none" (the column's default).
        phone_change: row
            .try_get::<Option<String>, _>("phone_change")?
            .filter(|n| !n.is_empty()),
        phone_change_sent_at: row.try_get("phone_change_sent_at")?,
        invited_at: row.try_get("invited_at")?,
        recovery_sent_at: row.try_get("recovery_sent_at")?,
        email_change: row
            .try_get::<Option<String>, _>("email_change")?
            .filter(|a| !a.is_empty()),
        email_change_sent_at: row.try_get("email_change_sent_at")?,
        email_change_confirm_status: row
            .try_get::<Option<i16>, _>("email_change_confirm_status")?
            .unwrap_or(0),
        reauthentication_sent_at: row.try_get("reauthentication_sent_at")?,
        last_sign_in_at: row.try_get("last_sign_in_at")?,
        app_metadata: row
            .try_get::<Option<Value>, _>("raw_app_meta_data")?
            .unwrap_or_default(),
        user_metadata: row
            .try_get::<Option<Value>, _>("raw_user_meta_data")?
            .unwrap_or_default(),
        banned_until: row.try_get("banned_until")?,
        is_anonymous: row.try_get("is_anonymous")?,
        created_at: req(row.try_get("created_at")?, "created_at")?,
        updated_at: req(row.try_get("updated_at")?, "updated_at")?,
    })
}

/// A row of [`super::columns::IDENTITY_COLUMNS`].
pub(super) fn identity_from_row(row: &PgRow) -> StoreResult<Identity> {
    Ok(Identity {
        id: row.try_get("id")?,
        provider_id: row.try_get("provider_id")?,
        provider: row.try_get("provider")?,
        user_id: row.try_get("user_id")?,
        identity_data: row.try_get("identity_data")?,
        email: row.try_get("email")?,
        last_sign_in_at: row.try_get("last_sign_in_at")?,
        created_at: req(row.try_get("created_at")?, "created_at")?,
        updated_at: req(row.try_get("updated_at")?, "updated_at")?,
    })
}

/// A row of [`super::columns::SESSION_COLUMNS`].
pub(super) fn session_from_row(row: &PgRow) -> StoreResult<Session> {
    session_from_columns(row, &SessionColumns::PLAIN)
}

fn session_from_columns(row: &PgRow, names: &SessionColumns) -> StoreResult<Session> {
    let created_at = req(row.try_get(names.created_at)?, names.created_at)?;
    Ok(Session {
        id: row.try_get(names.id)?,
        user_id: row.try_get(names.user_id)?,
        aal: row
            .try_get::<Option<String>, _>(names.aal)?
            .unwrap_or_else(|| "aal1".into()),
        not_after: row.try_get(names.not_after)?,
        refreshed_at: row.try_get(names.refreshed_at)?,
        user_agent: row.try_get(names.user_agent)?,
        ip: row.try_get(names.ip)?,
        amr: amr_from_json(row.try_get(names.amr)?, created_at)?,
        created_at,
        updated_at: req(row.try_get(names.updated_at)?, names.updated_at)?,
    })
}

/// A row of [`super::PRINCIPAL_SQL`] or [`super::columns::PRINCIPALS_SQL`].
pub(super) fn principal_from_row(row: &PgRow) -> StoreResult<Principal> {
    let session = match row.try_get::<Option<Uuid>, _>("s_id")? {
        Some(_) => Some(session_from_columns(row, &SessionColumns::JOINED)?),
        None => None,
    };
    Ok(Principal::new(
        user_from_row(row)?,
        session,
        identities_from_json(row.try_get("identities")?)?,
    ))
}

/// A row of [`super::columns::FLOW_COLUMNS`].
pub(super) fn flow_from_row(row: &PgRow) -> StoreResult<FlowState> {
    let challenge = match (
        row.try_get::<Option<String>, _>("code_challenge")?,
        row.try_get::<Option<String>, _>("code_challenge_method")?,
    ) {
        (Some(value), Some(method)) => Some(Challenge {
            value,
            method: ChallengeMethod::parse(&method)
                .ok_or_else(|| StoreError::Corrupt(format!("challenge method {method}")))?,
        }),
        _ => None,
    };
    Ok(FlowState {
        id: row.try_get("id")?,
        provider_type: row.try_get("provider_type")?,
        redirect_to: row
            .try_get::<Option<String>, _>("referrer")?
            .unwrap_or_default(),
        challenge,
        user_id: row.try_get("user_id")?,
        auth_code: row.try_get("auth_code")?,
        auth_code_issued_at: row.try_get("auth_code_issued_at")?,
        provider_access_token: row.try_get("provider_access_token")?,
        provider_refresh_token: row.try_get("provider_refresh_token")?,
        provider_code_hash: row.try_get("provider_code_hash")?,
        linking_target_id: row.try_get("linking_target_id")?,
        authentication_method: row.try_get("authentication_method")?,
        created_at: req(row.try_get("created_at")?, "created_at")?,
    })
}

/// A row of [`super::columns::TOKEN_COLUMNS`].
pub(super) fn token_from_row(row: &PgRow) -> StoreResult<RefreshToken> {
    let user_id: Option<String> = row.try_get("user_id")?;
    let user_id = Uuid::parse_str(&req(user_id, "user_id")?)
        .map_err(|e| StoreError::Corrupt(format!("user_id: {e}")))?;
    Ok(RefreshToken {
        id: row.try_get("id")?,
        token_hash: req(row.try_get("token")?, "token")?,
        nonce: row
            .try_get::<Option<String>, _>("nonce")?
            .unwrap_or_default(),
        user_id,
        session_id: req(row.try_get("session_id")?, "session_id")?,
        parent: row.try_get("parent")?,
        revoked: row.try_get::<Option<bool>, _>("revoked")?.unwrap_or(false),
        created_at: req(row.try_get("created_at")?, "created_at")?,
        updated_at: req(row.try_get("updated_at")?, "updated_at")?,
    })
}

/// A row of [`super::columns::AUDIT_COLUMNS`].
pub(super) fn audit_from_row(row: &PgRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        payload: row
            .try_get::<Option<Value>, _>("payload")?
            .unwrap_or_default(),
        ip_address: row.try_get("ip_address")?,
        created_at: req(row.try_get("created_at")?, "created_at")?,
    })
}

/// A row of [`super::columns::ONE_TIME_TOKEN_COLUMNS`]. GoTrue's `created_at` has no time
/// zone; saoma writes it in UTC, as GoTrue does.
pub(super) fn one_time_token_from_row(row: &PgRow) -> StoreResult<OneTimeToken> {
    let kind: String = row.try_get("token_type")?;
    let created_at: chrono::NaiveDateTime = row.try_get("created_at")?;
    let wrong_guesses: i32 = row.try_get("wrong_guesses")?;
    Ok(OneTimeToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        token_type: TokenType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token_type: {kind}")))?,
        token_hash: row.try_get("token_hash")?,
        relates_to: row.try_get("relates_to")?,
        created_at: created_at.and_utc(),
        wrong_guesses: u32::try_from(wrong_guesses).unwrap_or(0),
    })
}

/// A row of [`super::columns::SCAN_TICKET_COLUMNS`].
pub(super) fn scan_ticket_from_row(row: &PgRow) -> StoreResult<ScanTicket> {
    let status: String = row.try_get("status")?;
    Ok(ScanTicket {
        scene: row.try_get("scene")?,
        provider: row.try_get("provider")?,
        flow_id: row.try_get("flow_id")?,
        browser_secret_hash: row.try_get("browser_secret_hash")?,
        status: ScanStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("scan ticket status: {status}")))?,
        person: row.try_get("person")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A row of [`super::columns::APP_TOKEN_COLUMNS`].
pub(super) fn app_token_from_row(row: &PgRow) -> StoreResult<AppToken> {
    Ok(AppToken {
        app_id: row.try_get("app_id")?,
        access_token: row.try_get("access_token")?,
        expires_at: row.try_get("expires_at")?,
        lease_holder: row.try_get("lease_holder")?,
        lease_until: row.try_get("lease_until")?,
        forced_at: row.try_get("forced_at")?,
        forced_today: row.try_get("forced_today")?,
        updated_at: row.try_get("updated_at")?,
    })
}
