//! Storage: one trait, a SQLite and a Postgres implementation, one conformance suite
//! (`tests/store`) that both must pass.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

use crate::domain::{
    audit::AuditEntry,
    flow::FlowState,
    refresh::{MintedToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User, UserChanges,
};

mod postgres;
mod postgres_reads;
mod rotation;
mod sqlite;
mod sqlite_reads;

pub use postgres::PostgresStore;
/// The token check's statement in each dialect, public so that the benchmark's database floor
/// issues exactly what saoma issues.
pub use postgres::PRINCIPAL_SQL as POSTGRES_PRINCIPAL_SQL;
pub use postgres_reads::APPLICATION_NAME as POSTGRES_TOKEN_CHECK_APPLICATION_NAME;
pub use sqlite::SqliteStore;
pub use sqlite::PRINCIPAL_SQL as SQLITE_PRINCIPAL_SQL;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (e.g. an email address).
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite reads that run on the request's thread.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migration(String),
    /// The database could not be opened at start, with the cause in an operator's words.
    #[error("{0}")]
    Connect(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A part of the store that cannot answer now.
    #[error("database: {0}")]
    Unavailable(&'static str),
    /// One failure answered to every request whose read it was part of.
    #[error("{0}")]
    Shared(Arc<StoreError>),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database could not be reached, dropped the connection, or is too busy: nothing is
    /// wrong with the request, and the same request may work in a moment (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Shared(inner) => inner.is_unavailable(),
            Self::Database(err) => is_unavailable(err),
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Busy or locked past the busy timeout (primary codes 5 and 6 under the
                // extended code sqlx reports).
                return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            }
            // Postgres: connection exceptions (08), shutdowns and restarts (57P0x), too many
            // connections (53300).
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        }
        _ => false,
    }
}

/// Runs `read` again, up to twice, when the connection it ran on was found dead (a database
/// restart or a terminated backend leaves every pooled connection dead; each failed try
/// retires one). Only for statements that change nothing.
pub(crate) async fn retry_read<T, F, Fut>(read: F) -> StoreResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut tries = 0;
    loop {
        match read().await {
            Err(err) if err.is_unavailable() && tries < 2 => {
                tries += 1;
                tracing::debug!(error = %err, "read failed on a dead connection; retrying");
            }
            other => return other,
        }
    }
}

/// (user, session named by the token): what a token check reads.
pub(crate) type PrincipalKey = (Uuid, Option<Uuid>);

/// What an access token stands for: its user, the session it names and the user's identities.
/// Read in one statement, because every authenticated request needs it.
#[derive(Debug)]
pub struct Principal {
    pub user: User,
    /// The session asked for, when it exists and belongs to the user.
    pub session: Option<Session>,
    /// Oldest first.
    pub identities: Vec<Identity>,
    /// See [`Principal::rendered`].
    rendered: OnceLock<Bytes>,
}

impl Principal {
    pub fn new(user: User, session: Option<Session>, identities: Vec<Identity>) -> Self {
        Self {
            user,
            session,
            identities,
            rendered: OnceLock::new(),
        }
    }

    /// The HTTP answer made from this principal by `render`, made at most once per read: a
    /// principal read from the store is shared, never changed (on SQLite one read may answer
    /// many requests, see `sqlite_reads`).
    pub fn rendered<E>(
        &self,
        render: impl FnOnce(&Self) -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        if let Some(bytes) = self.rendered.get() {
            return Ok(bytes.clone());
        }
        let bytes = Bytes::from(render(self)?);
        Ok(self.rendered.get_or_init(|| bytes).clone())
    }
}

impl Clone for Principal {
    /// A copy may be changed: it starts without the rendered answer.
    fn clone(&self) -> Self {
        Self::new(
            self.user.clone(),
            self.session.clone(),
            self.identities.clone(),
        )
    }
}

impl PartialEq for Principal {
    /// The same rows; `rendered` is derived from them.
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.session == other.session
            && self.identities == other.identities
    }
}

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
    pub amr_method: &'static str,
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
        amr_method: "amr_method",
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
        amr_method: "s_amr_method",
        created_at: "s_created_at",
        updated_at: "s_updated_at",
    };
}

/// An identity as both backends aggregate them into JSON for [`Store::principal`].
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

/// What one housekeeping run deletes: rows nothing can use any more, at most `batch` of each
/// kind, so that a run after a long pause cannot hold the database for long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPlan {
    /// Flows (OAuth logins) started before this.
    pub flows_before: DateTime<Utc>,
    /// Rate-limit buckets last touched before this (in the buckets' seconds): full again.
    pub buckets_idle_before: f64,
    /// Sessions whose `not_after` has passed by then (their refresh tokens go with them).
    pub sessions_ended_before: DateTime<Utc>,
    pub batch: i64,
}

/// What a run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub flows: u64,
    pub rate_limit_buckets: u64,
    pub sessions: u64,
    /// Refresh tokens without a session (left by old GoTrue versions): nothing accepts them.
    pub orphan_refresh_tokens: u64,
    /// Another node held the sweep lock: this run did nothing.
    pub skipped: bool,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// No such token (or its session is gone).
    NotFound,
    /// The session has passed its `not_after`.
    SessionExpired,
    /// Reused outside the reuse window; `session_ended` when the session was ended for it.
    Reused { session_ended: bool, user_id: Uuid },
    /// A token to hand to the client: either the freshly minted one or, for a client that lost
    /// its last answer, the active token's nonce.
    Issued { session: Session, nonce: String },
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations; safe to call from several processes at once.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> StoreResult<()>;

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
    /// A page of users, oldest first, and how many there are in all (soft-deleted excluded).
    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)>;
    /// Deletes the user and everything hanging off it.
    async fn delete_user(&self, id: Uuid) -> StoreResult<bool>;
    /// Marks the user deleted and frees its email and phone; identities and sessions go.
    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// Takes one token from the bucket `key` (created full), refilled at `refill` per second
    /// up to `capacity`, atomically; `false` when it is empty. `now` is in seconds.
    async fn take_rate_limit_token(
        &self,
        key: &str,
        capacity: f64,
        refill: f64,
        now: f64,
    ) -> StoreResult<bool>;
    /// (open connections, idle connections) of the pool, for metrics.
    fn pool_stats(&self) -> (u32, u32);
    /// A page of audit entries, newest first, and the total.
    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)>;
    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>>;
    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>>;
    /// Every identity with this subject, whatever the provider (e.g. one WeChat unionid seen
    /// through several WeChat apps).
    async fn identities_by_provider_id(&self, provider_id: &str) -> StoreResult<Vec<Identity>>;
    /// Attaches an identity to an existing user; `Conflict("identity")` if it is taken.
    async fn add_identity(&self, identity: &Identity) -> StoreResult<()>;
    /// Deletes an identity of `user_id`; `false` when there was none.
    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool>;
    /// Writes `identity_data` and `last_sign_in_at` / `updated_at` of an identity.
    async fn update_identity(&self, identity: &Identity) -> StoreResult<()>;

    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()>;
    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>>;
    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>>;
    /// Records the provider's callback on a pending flow; `false` if it was already completed
    /// (a concurrent or repeated callback got there first).
    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool>;
    /// Deletes a flow; `false` when it was already gone (so a code is used once only).
    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool>;
    /// Housekeeping (see [`SweepPlan`]); on a database shared by several nodes only one
    /// sweeps at a time.
    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept>;

    /// Creates a session with its first refresh token and stamps the user's last sign-in.
    async fn create_session(&self, session: &Session, token: &MintedToken) -> StoreResult<()>;
    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>>;
    /// Ends sessions of `user_id` relative to `current` (see [`LogoutScope`]); returns how many.
    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64>;

    /// Presents a refresh token (by hash) atomically: decides with
    /// [`crate::domain::refresh::decide`] under a row lock and applies the decision.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
    ) -> StoreResult<Rotation>;

    /// Presents a refresh token GoTrue issued before saoma took over its database (GoTrue keeps
    /// them in plain text; saoma's own rows never match), with the same rules as
    /// [`Store::rotate_refresh_token`]; the child is saoma's. Only a Postgres that GoTrue used
    /// can hold such tokens: elsewhere there are none.
    async fn rotate_gotrue_refresh_token(
        &self,
        _presented: &str,
        _fresh: &MintedToken,
        _now: DateTime<Utc>,
        _policy: &RotationPolicy,
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
    ) -> StoreResult<Rotation> {
        let hash = crate::domain::refresh::hash_token(presented);
        match self.rotate_refresh_token(&hash, fresh, now, policy).await? {
            Rotation::NotFound => {
                self.rotate_gotrue_refresh_token(presented, fresh, now, policy)
                    .await
            }
            found => Ok(found),
        }
    }
}

pub type SharedStore = Arc<dyn Store>;

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// SQLite only: answer token checks from memory until the database changes (see
    /// `sqlite_reads`). Postgres is shared by several nodes and is always asked.
    pub sqlite_read_cache: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_read_cache: true,
        }
    }
}

/// Opens the store a `database_url` names: `postgres://` / `postgresql://` for Postgres,
/// anything else is a SQLite file path (optionally prefixed `sqlite://`).
pub async fn connect(database_url: &str) -> StoreResult<SharedStore> {
    connect_with(database_url, StoreOptions::default()).await
}

/// [`connect_with`], trying again for up to `wait` while the database cannot be reached (it
/// may start after saoma); each failed try is logged with its cause. Failures that waiting
/// cannot fix (wrong password, unknown database) end at once.
pub async fn connect_waiting(
    database_url: &str,
    options: StoreOptions,
    wait: std::time::Duration,
) -> StoreResult<SharedStore> {
    let deadline = std::time::Instant::now() + wait;
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        match connect_with(database_url, options).await {
            Err(err) if err.is_unavailable() && std::time::Instant::now() + pause < deadline => {
                tracing::warn!(
                    cause = %describe_connect_failure(&err),
                    "database not reachable yet; trying again"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            Err(err) => return Err(StoreError::Connect(describe_connect_failure(&err))),
            ok => return ok,
        }
    }
}

/// Why opening the database failed, in the words an operator looks for.
pub fn describe_connect_failure(err: &StoreError) -> String {
    if let StoreError::Database(sqlx::Error::Io(io)) = err {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return format!("connection refused ({io})");
        }
    }
    if let StoreError::Database(sqlx::Error::Database(db)) = err {
        match db.code().as_deref() {
            Some("28P01") | Some("28000") => {
                return format!("authentication failed ({})", db.message())
            }
            Some("3D000") => return format!("unknown database ({})", db.message()),
            _ => {}
        }
    }
    err.to_string()
}

pub async fn connect_with(database_url: &str, options: StoreOptions) -> StoreResult<SharedStore> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        Ok(Arc::new(
            SqliteStore::open(database_url, options.sqlite_read_cache).await?,
        ))
    }
}
