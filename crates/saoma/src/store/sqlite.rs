//! The embedded default: one SQLite file in WAL mode. Writes go through a single-connection
//! pool (SQLite has one writer anyway, and this avoids lock-upgrade deadlocks); reads use a
//! small pool of their own, and the read every authenticated request makes runs on the
//! request's own thread (see [`InlineReaders`]).

use std::{str::FromStr, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
    Executor, Row, SqlitePool,
};
use uuid::Uuid;

use super::{
    identities_from_json,
    rotation::{rotate, RotationSteps},
    sqlite_reads::InlineReaders,
    NewAccount, Principal, Rotation, SessionColumns, Store, StoreError, StoreResult, SweepPlan,
    Swept,
};
use crate::domain::{
    audit::AuditEntry,
    flow::{Challenge, ChallengeMethod, FlowState},
    refresh::{MintedToken, RefreshToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User, UserChanges,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "auth_schema",
        include_str!("../../migrations/sqlite/0001_auth_schema.sql"),
    ),
    (
        2,
        "flow_provider_code",
        include_str!("../../migrations/sqlite/0002_flow_provider_code.sql"),
    ),
    (
        3,
        "rate_limits",
        include_str!("../../migrations/sqlite/0003_rate_limits.sql"),
    ),
];

const USER_COLUMNS: &str = "id, aud, role, email, encrypted_password, email_confirmed_at, \
    confirmation_sent_at, phone, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, \
    raw_user_meta_data, banned_until, is_anonymous, created_at, updated_at";
const IDENTITY_COLUMNS: &str = "id, provider_id, provider, user_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at";
const SESSION_COLUMNS: &str = "id, user_id, aal, not_after, refreshed_at, user_agent, ip, \
    created_at, updated_at, (SELECT authentication_method FROM mfa_amr_claims a \
    WHERE a.session_id = sessions.id ORDER BY a.created_at LIMIT 1) AS amr_method";
const FLOW_COLUMNS: &str = "id, user_id, auth_code, code_challenge_method, code_challenge, \
    provider_type, provider_access_token, provider_refresh_token, created_at, auth_code_issued_at, \
    referrer, provider_code_hash, linking_target_id";
/// One statement, so that concurrent requests cannot both take the last token.
const RATE_LIMIT_SQL_SQLITE: &str = "INSERT INTO saoma_rate_limits AS r (key, tokens, updated_at) \
    VALUES (?1, ?2 - 1, ?3) ON CONFLICT (key) DO UPDATE SET \
    tokens = min(?2, r.tokens + max(0, ?3 - r.updated_at) * ?4) - 1, updated_at = ?3 \
    WHERE min(?2, r.tokens + max(0, ?3 - r.updated_at) * ?4) >= 1 RETURNING tokens";
const TOKEN_COLUMNS: &str =
    "id, token, nonce, user_id, session_id, parent, revoked, created_at, updated_at";
/// [`Store::principal`]: the user, the session (columns as in [`SessionColumns::JOINED`]) and
/// the identities as a JSON array, in one statement.
pub const PRINCIPAL_SQL: &str = "SELECT u.id, u.aud, u.role, u.email, u.encrypted_password, \
    u.email_confirmed_at, u.confirmation_sent_at, u.phone, u.phone_confirmed_at, \
    u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.banned_until, \
    u.is_anonymous, u.created_at, u.updated_at, s.id AS s_id, s.user_id AS s_user_id, \
    s.aal AS s_aal, s.not_after AS s_not_after, s.refreshed_at AS s_refreshed_at, \
    s.user_agent AS s_user_agent, s.ip AS s_ip, s.created_at AS s_created_at, \
    s.updated_at AS s_updated_at, (SELECT authentication_method FROM mfa_amr_claims a \
    WHERE a.session_id = s.id ORDER BY a.created_at LIMIT 1) AS s_amr_method, \
    (SELECT json_group_array(json_object('id', i.id, 'provider_id', i.provider_id, \
    'provider', i.provider, 'user_id', i.user_id, 'identity_data', json(i.identity_data), \
    'email', i.email, 'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at, \
    'updated_at', i.updated_at) ORDER BY i.created_at, i.id) \
    FROM identities i WHERE i.user_id = u.id) AS identities \
    FROM users u LEFT JOIN sessions s ON s.id = ?2 AND s.user_id = u.id \
    WHERE u.id = ?1 AND u.deleted_at IS NULL";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    inline: Arc<InlineReaders>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `url` (`sqlite://` prefix optional);
    /// `read_cache` keeps token checks' reads in memory until the database changes.
    pub async fn open(url: &str, read_cache: bool) -> StoreResult<Self> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        // A file connection does not go stale: no ping before each use (it cost ~7% of a
        // `GET /user` in the benchmarks).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let inline = Arc::new(InlineReaders::open(options.get_filename(), read_cache)?);
        Ok(Self {
            reader,
            writer,
            inline,
        })
    }
}

impl SqliteStore {
    /// A write transaction that takes SQLite's write lock at once (no deferred lock upgrade
    /// that could fail halfway) and rolls back when dropped, e.g. when the request that
    /// opened it is cancelled: the writer connection never returns to the pool inside it.
    async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

pub(super) fn ts(at: DateTime<Utc>) -> String {
    // Fixed width, so that text comparison is time comparison.
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

/// Column access for both SQLite drivers (sqlx for most statements, rusqlite for the inline
/// read), so that users and sessions are decoded in one place.
trait Columns {
    fn text(&self, column: &str) -> StoreResult<Option<String>>;
    fn flag(&self, column: &str) -> StoreResult<Option<bool>>;
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> StoreResult<Option<bool>> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.get(column)?)
    }

    fn flag(&self, column: &str) -> StoreResult<Option<bool>> {
        Ok(self.get(column)?)
    }
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
    get_ts(row, column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
}

fn get_uuid(row: &impl Columns, column: &str) -> StoreResult<Uuid> {
    let raw = row
        .text(column)?
        .ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))?;
    Uuid::parse_str(&raw).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn get_json(row: &impl Columns, column: &str) -> StoreResult<serde_json::Value> {
    let raw = row.text(column)?;
    match raw {
        None => Ok(serde_json::json!({})),
        Some(s) => {
            serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
        }
    }
}

fn user_from_row(row: &impl Columns) -> StoreResult<User> {
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
        last_sign_in_at: get_ts(row, "last_sign_in_at")?,
        app_metadata: get_json(row, "raw_app_meta_data")?,
        user_metadata: get_json(row, "raw_user_meta_data")?,
        banned_until: get_ts(row, "banned_until")?,
        is_anonymous: row.flag("is_anonymous")?.unwrap_or(false),
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

fn identity_from_row(row: &SqliteRow) -> StoreResult<Identity> {
    Ok(Identity {
        id: get_uuid(row, "id")?,
        provider_id: row.try_get("provider_id")?,
        provider: row.try_get("provider")?,
        user_id: get_uuid(row, "user_id")?,
        identity_data: get_json(row, "identity_data")?,
        email: row.try_get("email")?,
        last_sign_in_at: get_ts(row, "last_sign_in_at")?,
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<Session> {
    session_from_columns(row, &SessionColumns::PLAIN)
}

fn session_from_columns(row: &impl Columns, names: &SessionColumns) -> StoreResult<Session> {
    Ok(Session {
        id: get_uuid(row, names.id)?,
        user_id: get_uuid(row, names.user_id)?,
        aal: row.text(names.aal)?.unwrap_or_else(|| "aal1".into()),
        not_after: get_ts(row, names.not_after)?,
        refreshed_at: get_ts(row, names.refreshed_at)?,
        user_agent: row.text(names.user_agent)?,
        ip: row.text(names.ip)?,
        amr_method: row
            .text(names.amr_method)?
            .unwrap_or_else(|| "password".into()),
        created_at: req_ts(row, names.created_at)?,
        updated_at: req_ts(row, names.updated_at)?,
    })
}

/// Decodes a row of [`PRINCIPAL_SQL`].
fn principal_from_row(row: &rusqlite::Row<'_>) -> StoreResult<Principal> {
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

fn opt_uuid(row: &SqliteRow, column: &str) -> StoreResult<Option<Uuid>> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|s| Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{column}: {e}"))))
        .transpose()
}

fn flow_from_row(row: &SqliteRow) -> StoreResult<FlowState> {
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
        id: get_uuid(row, "id")?,
        provider_type: row.try_get("provider_type")?,
        redirect_to: row
            .try_get::<Option<String>, _>("referrer")?
            .unwrap_or_default(),
        challenge,
        user_id: opt_uuid(row, "user_id")?,
        auth_code: row.try_get("auth_code")?,
        auth_code_issued_at: get_ts(row, "auth_code_issued_at")?,
        provider_access_token: row.try_get("provider_access_token")?,
        provider_refresh_token: row.try_get("provider_refresh_token")?,
        provider_code_hash: row.try_get("provider_code_hash")?,
        linking_target_id: opt_uuid(row, "linking_target_id")?,
        created_at: req_ts(row, "created_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: row.try_get("id")?,
        token_hash: row.try_get("token")?,
        nonce: row
            .try_get::<Option<String>, _>("nonce")?
            .unwrap_or_default(),
        user_id: get_uuid(row, "user_id")?,
        session_id: get_uuid(row, "session_id")?,
        parent: row.try_get("parent")?,
        revoked: row.try_get::<Option<bool>, _>("revoked")?.unwrap_or(false),
        created_at: req_ts(row, "created_at")?,
        updated_at: req_ts(row, "updated_at")?,
    })
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

async fn insert_identity(
    conn: &mut sqlx::SqliteConnection,
    identity: &Identity,
) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, email, \
         last_sign_in_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(identity.id.to_string())
    .bind(&identity.provider_id)
    .bind(&identity.provider)
    .bind(identity.user_id.to_string())
    .bind(identity.identity_data.to_string())
    .bind(&identity.email)
    .bind(opt_ts(identity.last_sign_in_at))
    .bind(ts(identity.created_at))
    .bind(ts(identity.updated_at))
    .execute(conn)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("identity")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_token(
    conn: &mut sqlx::SqliteConnection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
    .bind(&token.token_hash)
    .bind(&token.nonce)
    .bind(session.user_id.to_string())
    .bind(session.id.to_string())
    .bind(parent)
    .bind(ts(now))
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's own columns, in the order both statements below name them, bound to `query`.
fn bind_user_columns<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    user: &'q User,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    query
        .bind(&user.aud)
        .bind(&user.role)
        .bind(&user.email)
        .bind(&user.encrypted_password)
        .bind(opt_ts(user.email_confirmed_at))
        .bind(opt_ts(user.confirmation_sent_at))
        .bind(&user.phone)
        .bind(opt_ts(user.phone_confirmed_at))
        .bind(opt_ts(user.last_sign_in_at))
        .bind(user.app_metadata.to_string())
        .bind(user.user_metadata.to_string())
        .bind(opt_ts(user.banned_until))
        .bind(user.is_anonymous)
        .bind(ts(user.updated_at))
}

/// Unique-key clashes on the users table are the caller's `Conflict`, not a failure.
fn user_conflict(result: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>) -> StoreResult<()> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("user")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_user(conn: &mut sqlx::SqliteConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, \
         raw_user_meta_data, banned_until, is_anonymous, updated_at, id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    let query = bind_user_columns(query, user)
        .bind(user.id.to_string())
        .bind(ts(user.created_at));
    user_conflict(query.execute(conn).await)
}

/// Writes the user's own columns (under the write lock taken by [`Store::change_user`]).
async fn write_user(conn: &mut sqlx::SqliteConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "UPDATE users SET aud = ?, role = ?, email = ?, encrypted_password = ?, \
         email_confirmed_at = ?, confirmation_sent_at = ?, phone = ?, phone_confirmed_at = ?, \
         last_sign_in_at = ?, raw_app_meta_data = ?, raw_user_meta_data = ?, banned_until = ?, \
         is_anonymous = ?, updated_at = ? WHERE id = ?",
    );
    user_conflict(
        bind_user_columns(query, user)
            .bind(user.id.to_string())
            .execute(conn)
            .await,
    )
}

async fn insert_audit(conn: &mut sqlx::SqliteConnection, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log_entries (id, payload, created_at, ip_address) VALUES (?, ?, ?, ?)",
    )
    .bind(entry.id.to_string())
    .bind(entry.payload.to_string())
    .bind(ts(entry.created_at))
    .bind(&entry.ip_address)
    .execute(conn)
    .await?;
    Ok(())
}

/// A session, its first refresh token, its AMR claim, and the user's last sign-in.
async fn insert_session(
    conn: &mut sqlx::SqliteConnection,
    session: &Session,
    token: &MintedToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.id.to_string())
    .bind(session.user_id.to_string())
    .bind(&session.aal)
    .bind(opt_ts(session.not_after))
    .bind(opt_ts(session.refreshed_at))
    .bind(&session.user_agent)
    .bind(&session.ip)
    .bind(ts(session.created_at))
    .bind(ts(session.updated_at))
    .execute(&mut *conn)
    .await?;
    insert_token(conn, token, session, None, session.created_at).await?;
    sqlx::query(
        "INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(session.id.to_string())
    .bind(ts(session.created_at))
    .bind(ts(session.created_at))
    .bind(&session.amr_method)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
        .bind(ts(session.created_at))
        .bind(session.user_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn delete_sessions(
    conn: &mut sqlx::SqliteConnection,
    user_id: Uuid,
    current: Uuid,
    scope: LogoutScope,
) -> StoreResult<u64> {
    let query = match scope {
        LogoutScope::Global => {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(user_id.to_string())
        }
        LogoutScope::Local => sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id = ?")
            .bind(user_id.to_string())
            .bind(current.to_string()),
        LogoutScope::Others => sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id <> ?")
            .bind(user_id.to_string())
            .bind(current.to_string()),
    };
    Ok(query.execute(conn).await?.rows_affected())
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        Executor::execute(
            &mut *conn,
            "CREATE TABLE IF NOT EXISTS saoma_migrations \
             (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .await?;
        drop(conn);
        for (version, name, sql) in MIGRATIONS {
            // IMMEDIATE takes the write lock first, so two processes never both apply one; the
            // transaction rolls back when dropped, whatever interrupts it.
            let mut tx = self.write_transaction().await?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM saoma_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            let result = async {
                Executor::execute(&mut *tx, *sql).await?;
                sqlx::query(
                    "INSERT INTO saoma_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                )
                .bind(version)
                .bind(name)
                .bind(ts(Utc::now()))
                .execute(&mut *tx)
                .await
            }
            .await;
            if let Err(err) = result {
                return Err(StoreError::Migration(format!("{version}_{name}: {err}")));
            }
            tx.commit().await?;
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_user(&mut tx, account.user).await?;
        for identity in account.identities {
            insert_identity(&mut tx, identity).await?;
        }
        if let Some((session, token)) = account.session {
            insert_session(&mut tx, session, token).await?;
        }
        for entry in account.audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn change_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        // The write lock is taken before the read: nobody changes the row in between.
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut user) = row.as_ref().map(user_from_row).transpose()? else {
            return Ok(None);
        };
        changes.apply(&mut user, now);
        write_user(&mut tx, &user).await?;
        if let Some((scope, current)) = changes.end_sessions {
            delete_sessions(&mut tx, id, current, scope).await?;
        }
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn principal(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> StoreResult<Option<Arc<Principal>>> {
        self.inline.principal((user_id, session_id), |conn| {
            let mut statement = conn.prepare_cached(PRINCIPAL_SQL)?;
            let mut rows = statement.query(rusqlite::params![
                user_id.to_string(),
                session_id.map(|id| id.to_string())
            ])?;
            rows.next()?.map(principal_from_row).transpose()
        })
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = ? AND is_sso_user = 0 AND deleted_at IS NULL"
        ))
        .bind(email)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE deleted_at IS NULL")
            .fetch_one(&self.reader)
            .await?;
        Ok((
            rows.iter().map(user_from_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "UPDATE users SET deleted_at = ?, updated_at = ?, email = NULL, phone = NULL, \
             encrypted_password = NULL WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(ts(now))
        .bind(ts(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        for table in ["identities", "sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        insert_audit(&mut conn, entry).await
    }

    async fn take_rate_limit_token(
        &self,
        key: &str,
        capacity: f64,
        refill: f64,
        now: f64,
    ) -> StoreResult<bool> {
        let left: Option<f64> = sqlx::query_scalar(RATE_LIMIT_SQL_SQLITE)
            .bind(key)
            .bind(capacity)
            .bind(now)
            .bind(refill)
            .fetch_optional(&self.writer)
            .await?;
        Ok(left.is_some())
    }

    fn pool_stats(&self) -> (u32, u32) {
        let size = self.reader.size() + self.writer.size();
        let idle = (self.reader.num_idle() + self.writer.num_idle()) as u32;
        (size, idle)
    }

    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = sqlx::query(
            "SELECT id, payload, created_at, ip_address FROM audit_log_entries \
             ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log_entries")
            .fetch_one(&self.reader)
            .await?;
        let entries = rows
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: get_uuid(row, "id")?,
                    payload: get_json(row, "payload")?,
                    ip_address: row.try_get("ip_address")?,
                    created_at: req_ts(row, "created_at")?,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok((entries, total))
    }

    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        let rows = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = ? ORDER BY created_at, id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_id = ?"
        ))
        .bind(provider)
        .bind(provider_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(identity_from_row).transpose()
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
        let mut conn = self.writer.acquire().await?;
        insert_identity(&mut conn, identity).await
    }

    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM identities WHERE id = ? AND user_id = ?")
            .bind(identity_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        sqlx::query(
            "UPDATE identities SET identity_data = ?, email = ?, last_sign_in_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(identity.identity_data.to_string())
        .bind(&identity.email)
        .bind(opt_ts(identity.last_sign_in_at))
        .bind(ts(identity.updated_at))
        .bind(identity.id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO flow_state (id, provider_type, referrer, code_challenge, code_challenge_method, \
             authentication_method, linking_target_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'oauth', ?, ?, ?)",
        )
        .bind(flow.id.to_string())
        .bind(&flow.provider_type)
        .bind(&flow.redirect_to)
        .bind(flow.challenge.as_ref().map(|c| c.value.clone()))
        .bind(flow.challenge.as_ref().map(|c| c.method.as_str()))
        .bind(flow.linking_target_id.map(|id| id.to_string()))
        .bind(ts(flow.created_at))
        .bind(ts(flow.created_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flow_state WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flow_state WHERE auth_code = ?"
        ))
        .bind(auth_code)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE flow_state SET user_id = ?, auth_code = ?, auth_code_issued_at = ?, \
             provider_access_token = ?, provider_refresh_token = ?, provider_code_hash = ?, updated_at = ? \
             WHERE id = ? AND auth_code_issued_at IS NULL",
        )
        .bind(flow.user_id.map(|id| id.to_string()))
        .bind(&flow.auth_code)
        .bind(opt_ts(flow.auth_code_issued_at))
        .bind(&flow.provider_access_token)
        .bind(&flow.provider_refresh_token)
        .bind(&flow.provider_code_hash)
        .bind(opt_ts(flow.auth_code_issued_at))
        .bind(flow.id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM flow_state WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept> {
        // One transaction, so that processes sharing the file never sweep at once; each
        // statement is bounded by the batch.
        let mut tx = self.write_transaction().await?;
        let flows = sqlx::query(
            "DELETE FROM flow_state WHERE id IN \
             (SELECT id FROM flow_state WHERE created_at < ? LIMIT ?)",
        )
        .bind(ts(plan.flows_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let rate_limit_buckets = sqlx::query(
            "DELETE FROM saoma_rate_limits WHERE key IN \
             (SELECT key FROM saoma_rate_limits WHERE updated_at < ? LIMIT ?)",
        )
        .bind(plan.buckets_idle_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE id IN \
             (SELECT id FROM sessions WHERE not_after < ? LIMIT ?)",
        )
        .bind(ts(plan.sessions_ended_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let orphan_refresh_tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE id IN \
             (SELECT id FROM refresh_tokens WHERE session_id IS NULL LIMIT ?)",
        )
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Swept {
            flows,
            rate_limit_buckets,
            sessions,
            orphan_refresh_tokens,
            skipped: false,
        })
    }

    async fn create_session(&self, session: &Session, token: &MintedToken) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_session(&mut tx, session, token).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await?;
        delete_sessions(&mut conn, user_id, current, scope).await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
    ) -> StoreResult<Rotation> {
        // The single writer connection serialises rotations; BEGIN IMMEDIATE also fences off
        // other processes sharing the file. The transaction is a value: a request dropped
        // mid-rotation rolls it back instead of handing the writer back inside it.
        let mut tx = self.write_transaction().await?;
        let outcome = rotate(
            &mut SqliteRotation(&mut tx),
            presented_hash,
            fresh,
            now,
            policy,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Rotation's statements on the writer connection, inside `BEGIN IMMEDIATE`.
struct SqliteRotation<'a>(&'a mut sqlx::SqliteConnection);

#[async_trait]
impl RotationSteps for SqliteRotation<'_> {
    async fn lock_session_of(&mut self, token_hash: &str) -> StoreResult<Option<Session>> {
        // The write lock taken by BEGIN IMMEDIATE already serialises rotations.
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE token = ?)"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 ORDER BY id DESC LIMIT 1"
        ))
        .bind(session_id.to_string())
        .fetch_optional(&mut *self.0)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked = 1, updated_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(token_id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_child(
        &mut self,
        fresh: &MintedToken,
        session: &Session,
        parent: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        insert_token(self.0, fresh, session, Some(parent), now).await
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET refreshed_at = ?, updated_at = ? WHERE id = ?")
            .bind(ts(now))
            .bind(ts(now))
            .bind(session_id.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(session_id.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}
