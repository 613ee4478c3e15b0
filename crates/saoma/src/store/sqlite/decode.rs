//! Each row type decoded by one function, from the columns `columns` names; shared by every
//! statement, and by both SQLite drivers (sqlx for the pooled reads, rusqlite for the writer
//! and the inline reads).

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{sqlite::SqliteRow, Row};
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

pub(super) fn ts(at: DateTime<Utc>) -> String {
    // Fixed width, so that text comparison is time comparison.
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

/// Column access for both SQLite drivers, so that each row type is decoded in one place.
pub(super) trait Columns {
    fn text(&self, column: &str) -> StoreResult<Option<String>>;
    fn flag(&self, column: &str) -> StoreResult<Option<bool>>;
    fn int(&self, column: &str) -> StoreResult<Option<i64>>;
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> StoreResult<Option<bool>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.get(index_of(self, column)?)?)
    }

    fn flag(&self, column: &str) -> StoreResult<Option<bool>> {
        Ok(self.get(index_of(self, column)?)?)
    }

    fn int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.get(index_of(self, column)?)?)
    }
}

thread_local! {
    /// Where the last column found on this thread ended: the next lookup starts there.
    static NEXT_COLUMN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The index of `column`, found as rusqlite's by-name lookup finds it (ASCII case ignored)
/// but starting after the column found last. rusqlite scans from the first column, asking
/// SQLite for each name, so decoding a principal's ~40 columns by name asked ~800 times (3%
/// of a refresh's CPU); the decoders read columns in the order the statements select them,
/// so from here each lookup usually asks once.
fn index_of(row: &rusqlite::Row<'_>, column: &str) -> StoreResult<usize> {
    let statement = row.as_ref();
    let count = statement.column_count();
    let start = NEXT_COLUMN.get().min(count);
    for index in (start..count).chain(0..start) {
        if statement
            .column_name(index)
            .is_ok_and(|name| name.eq_ignore_ascii_case(column))
        {
            NEXT_COLUMN.set(index + 1);
            return Ok(index);
        }
    }
    Err(rusqlite::Error::InvalidColumnName(column.to_owned()).into())
}

fn required<T>(value: Option<T>, column: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
}

fn get_ts(row: &impl Columns, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let raw = row.text(column)?;
    raw.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    })
    .transpose()
}

fn req_ts(row: &impl Columns, column: &str) -> StoreResult<DateTime<Utc>> {
    required(get_ts(row, column)?, column)
}

fn opt_uuid(row: &impl Columns, column: &str) -> StoreResult<Option<Uuid>> {
    row.text(column)?
        .map(|s| Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{column}: {e}"))))
        .transpose()
}

fn get_uuid(row: &impl Columns, column: &str) -> StoreResult<Uuid> {
    required(opt_uuid(row, column)?, column)
}

fn get_json(row: &impl Columns, column: &str) -> StoreResult<serde_json::Value> {
    match row.text(column)? {
        None => Ok(serde_json::json!({})),
        Some(s) => {
            serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
        }
    }
}

/// A row of [`super::columns::USER_COLUMNS`].
pub(super) fn user_from_row(row: &impl Columns) -> StoreResult<User> {
    Ok(User {
        id: get_uuid(row, "id")?,
        aud: row.text("aud")?.unwrap_or_default(),
        role: row.text("role")?.unwrap_or_default(),
        email: row.text("email")?,
        encrypted_password: row.text("encrypted_password")?,
        email_confirmed_at: get_ts(row, "email_confirmed_at")?,
        confirmation_sent_at: get_ts(row, "confirmation_sent_at")?,
        phone: row.text("phone")?,
        phone_confirmed_at: get_ts(row, "phone_confirmed_at")?,
        // `''` is GoTrue's "none".
        phone_change: row.text("phone_change")?.filter(|n| !n.is_empty()),
        phone_change_sent_at: get_ts(row, "phone_change_sent_at")?,
        invited_at: get_ts(row, "invited_at")?,
        recovery_sent_at: get_ts(row, "recovery_sent_at")?,
        email_change: row.text("email_change")?.filter(|a| !a.is_empty()),
        email_change_sent_at: get_ts(row, "email_change_sent_at")?,
        email_change_confirm_status: row.int("email_change_confirm_status")?.unwrap_or(0) as i16,
        reauthentication_sent_at: get_ts(row, "reauthentication_sent_at")?,
        last_sign_in_at: get_ts(row, "last_sign_in_at")?,
        app_metadata: get_json(row, "raw_app_meta_data")?,
        user_metadata: get_json(row, "raw_user_meta_data")?,
        banned_until: get_ts(row, "banned_until")?,
        is_anonymous: row.flag("is_anonymous")?.unwrap_or(false),
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

/// A row of [`super::columns::IDENTITY_COLUMNS`].
pub(super) fn identity_from_row(row: &impl Columns) -> StoreResult<Identity> {
    Ok(Identity {
        id: get_uuid(row, "id")?,
        provider_id: required(row.text("provider_id")?, "provider_id")?,
        provider: required(row.text("provider")?, "provider")?,
        user_id: get_uuid(row, "user_id")?,
        identity_data: get_json(row, "identity_data")?,
        email: row.text("email")?,
        last_sign_in_at: get_ts(row, "last_sign_in_at")?,
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

/// A row of [`super::columns::SESSION_COLUMNS`].
pub(super) fn session_from_row(row: &impl Columns) -> StoreResult<Session> {
    session_from_columns(row, &SessionColumns::PLAIN)
}

fn session_from_columns(row: &impl Columns, names: &SessionColumns) -> StoreResult<Session> {
    let created_at = req_ts(row, names.created_at)?;
    Ok(Session {
        id: get_uuid(row, names.id)?,
        user_id: get_uuid(row, names.user_id)?,
        aal: row.text(names.aal)?.unwrap_or_else(|| "aal1".into()),
        not_after: get_ts(row, names.not_after)?,
        refreshed_at: get_ts(row, names.refreshed_at)?,
        user_agent: row.text(names.user_agent)?,
        ip: row.text(names.ip)?,
        amr: amr_from_json(row.text(names.amr)?.as_deref(), created_at)?,
        created_at,
        updated_at: req_ts(row, names.updated_at)?,
    })
}

/// A row of [`super::PRINCIPAL_SQL`].
pub(super) fn principal_from_row(row: &rusqlite::Row<'_>) -> StoreResult<Principal> {
    let session = match row.text("s_id")? {
        Some(_) => Some(session_from_columns(row, &SessionColumns::JOINED)?),
        None => None,
    };
    Ok(Principal::new(
        user_from_row(row)?,
        session,
        identities_from_json(row.text("identities")?.as_deref())?,
    ))
}

/// A row of [`super::columns::FLOW_COLUMNS`].
pub(super) fn flow_from_row(row: &impl Columns) -> StoreResult<FlowState> {
    let challenge = match (
        row.text("code_challenge")?,
        row.text("code_challenge_method")?,
    ) {
        (Some(value), Some(method)) => Some(Challenge {
            value,
            method: ChallengeMethod::parse(&method)
                .ok_or_else(|| StoreError::Corrupt(format!("challenge method {method}")))?,
        }),
        _ => None,
    };
    Ok(FlowState {
        id: get_uuid(row, "id")?,
        provider_type: required(row.text("provider_type")?, "provider_type")?,
        authentication_method: row.text("authentication_method")?.unwrap_or_default(),
        redirect_to: row.text("referrer")?.unwrap_or_default(),
        challenge,
        user_id: opt_uuid(row, "user_id")?,
        auth_code: row.text("auth_code")?,
        auth_code_issued_at: get_ts(row, "auth_code_issued_at")?,
        provider_access_token: row.text("provider_access_token")?,
        provider_refresh_token: row.text("provider_refresh_token")?,
        provider_code_hash: row.text("provider_code_hash")?,
        linking_target_id: opt_uuid(row, "linking_target_id")?,
        created_at: req_ts(row, "created_at")?,
    })
}

/// A row of [`super::columns::TOKEN_COLUMNS`].
pub(super) fn token_from_row(row: &impl Columns) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: required(row.int("id")?, "id")?,
        token_hash: required(row.text("token")?, "token")?,
        nonce: row.text("nonce")?.unwrap_or_default(),
        user_id: get_uuid(row, "user_id")?,
        session_id: get_uuid(row, "session_id")?,
        parent: row.text("parent")?,
        revoked: row.flag("revoked")?.unwrap_or(false),
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

/// A row of [`super::columns::AUDIT_COLUMNS`].
pub(super) fn audit_from_row(row: &impl Columns) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: get_uuid(row, "id")?,
        payload: get_json(row, "payload")?,
        ip_address: row.text("ip_address")?.unwrap_or_default(),
        created_at: req_ts(row, "created_at")?,
    })
}

/// A row of [`super::columns::ONE_TIME_TOKEN_COLUMNS`].
pub(super) fn one_time_token_from_row(row: &impl Columns) -> StoreResult<OneTimeToken> {
    let kind = required(row.text("token_type")?, "token_type")?;
    Ok(OneTimeToken {
        id: get_uuid(row, "id")?,
        user_id: get_uuid(row, "user_id")?,
        token_type: TokenType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token_type: {kind}")))?,
        token_hash: required(row.text("token_hash")?, "token_hash")?,
        relates_to: required(row.text("relates_to")?, "relates_to")?,
        created_at: req_ts(row, "created_at")?,
        wrong_guesses: u32::try_from(row.int("wrong_guesses")?.unwrap_or(0)).unwrap_or(u32::MAX),
    })
}

/// A row of [`super::columns::SCAN_TICKET_COLUMNS`].
pub(super) fn scan_ticket_from_row(row: &impl Columns) -> StoreResult<ScanTicket> {
    let status = required(row.text("status")?, "status")?;
    Ok(ScanTicket {
        scene: required(row.text("scene")?, "scene")?,
        provider: required(row.text("provider")?, "provider")?,
        flow_id: get_uuid(row, "flow_id")?,
        browser_secret_hash: required(row.text("browser_secret_hash")?, "browser_secret_hash")?,
        status: ScanStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("scan ticket status: {status}")))?,
        person: row.text("person")?,
        created_at: req_ts(row, "created_at")?,
        expires_at: req_ts(row, "expires_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

/// A row of [`super::columns::APP_TOKEN_COLUMNS`].
pub(super) fn app_token_from_row(row: &impl Columns) -> StoreResult<AppToken> {
    let forced_today = row.int("forced_today")?.unwrap_or(0);
    Ok(AppToken {
        app_id: required(row.text("app_id")?, "app_id")?,
        access_token: row.text("access_token")?,
        expires_at: get_ts(row, "expires_at")?,
        lease_holder: row.text("lease_holder")?,
        lease_until: get_ts(row, "lease_until")?,
        forced_at: get_ts(row, "forced_at")?,
        forced_today: i32::try_from(forced_today)
            .map_err(|e| StoreError::Corrupt(format!("forced_today: {e}")))?,
        updated_at: req_ts(row, "updated_at")?,
    })
}
