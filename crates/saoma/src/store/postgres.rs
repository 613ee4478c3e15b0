//! Postgres, in Supabase's `auth` schema. Several saoma processes may share one database:
//! migrations take an advisory lock and rotations lock the token row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
    Connection, Executor, PgConnection, PgPool, Row,
};
use std::{str::FromStr, sync::Arc};
use uuid::Uuid;

use super::{
    identities_from_json,
    postgres_reads::PrincipalReads,
    rotation::{rotate, RotationSteps},
    NewAccount, Principal, Rotation, SessionColumns, Store, StoreError, StoreResult, SweepPlan,
    Swept,
};
use crate::domain::{
    audit::AuditEntry,
    flow::{Challenge, ChallengeMethod, FlowState},
    refresh::{could_be_from_gotrue, plaintext_matches, MintedToken, RefreshToken, RotationPolicy},
    session::LogoutScope,
    Identity, Session, User, UserChanges,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "auth_schema",
        include_str!("../../migrations/postgres/0001_auth_schema.sql"),
    ),
    (
        2,
        "flow_provider_code",
        include_str!("../../migrations/postgres/0002_flow_provider_code.sql"),
    ),
    (
        3,
        "rate_limits",
        include_str!("../../migrations/postgres/0003_rate_limits.sql"),
    ),
    (
        4,
        "adopt_gotrue",
        include_str!("../../migrations/postgres/0004_adopt_gotrue.sql"),
    ),
];
/// Arbitrary, fixed: serialises migrations across processes.
const MIGRATION_LOCK_KEY: i64 = 0x5a0a_5a0a;
/// Held (for its transaction) by the node that sweeps; the others skip their run.
const SWEEP_LOCK_KEY: i64 = 0x5a0a_5e3e;

const USER_COLUMNS: &str = "id, aud, role, email, encrypted_password, email_confirmed_at, \
    confirmation_sent_at, phone, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, \
    raw_user_meta_data, banned_until, is_anonymous, created_at, updated_at";
const IDENTITY_COLUMNS: &str = "id, provider_id, provider, user_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at";
/// `refreshed_at` is cast because GoTrue's column is a `timestamp` without time zone (in UTC,
/// as saoma's connections run): on a database saoma adopted it would not decode otherwise.
const SESSION_COLUMNS: &str = "id, user_id, aal::text AS aal, not_after, \
    refreshed_at::timestamptz AS refreshed_at, \
    user_agent, host(ip) AS ip, created_at, updated_at, (SELECT authentication_method \
    FROM auth.mfa_amr_claims a WHERE a.session_id = sessions.id ORDER BY a.created_at LIMIT 1) AS amr_method";
const FLOW_COLUMNS: &str =
    "id, user_id, auth_code, code_challenge_method::text AS code_challenge_method, \
    code_challenge, provider_type, provider_access_token, provider_refresh_token, created_at, \
    auth_code_issued_at, referrer, provider_code_hash, linking_target_id";
const TOKEN_COLUMNS: &str =
    "id, token, nonce, user_id, session_id, parent, revoked, created_at, updated_at";
/// What [`Store::principal`] selects: the user, the session (columns as in
/// [`SessionColumns::JOINED`]) and the identities as a JSON array.
macro_rules! principal_columns {
    () => {
        "u.id, u.aud, u.role, u.email, u.encrypted_password, \
    u.email_confirmed_at, u.confirmation_sent_at, u.phone, u.phone_confirmed_at, \
    u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.banned_until, \
    u.is_anonymous, u.created_at, u.updated_at, s.id AS s_id, s.user_id AS s_user_id, \
    s.aal::text AS s_aal, s.not_after AS s_not_after, \
    s.refreshed_at::timestamptz AS s_refreshed_at, \
    s.user_agent AS s_user_agent, host(s.ip) AS s_ip, s.created_at AS s_created_at, \
    s.updated_at AS s_updated_at, (SELECT authentication_method FROM auth.mfa_amr_claims a \
    WHERE a.session_id = s.id ORDER BY a.created_at LIMIT 1) AS s_amr_method, \
    (SELECT json_agg(i ORDER BY i.created_at, i.id)::text FROM (SELECT id, provider_id, \
    provider, user_id, identity_data, email, last_sign_in_at, created_at, updated_at \
    FROM auth.identities WHERE user_id = u.id) i) AS identities"
    };
}

/// [`Store::principal`] for one (user, session), in one round trip.
pub const PRINCIPAL_SQL: &str = concat!(
    "SELECT ",
    principal_columns!(),
    " FROM auth.users u LEFT JOIN auth.sessions s ON s.id = $2 AND s.user_id = u.id \
    WHERE u.id = $1 AND u.deleted_at IS NULL"
);

/// [`Store::principal`] for several (user, session) pairs read together: `$1` the users,
/// `$2` the sessions (null for none), the same length; each row names its pair's 1-based
/// position in `ord`, pairs without a live user have no row. Each pair is looked up by its
/// own index scans (the lateral subquery): a join over the whole array would let a planner
/// with stale statistics scan the users table for every batch.
pub const PRINCIPALS_SQL: &str = concat!(
    "SELECT k.ord, p.* \
    FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(user_id, session_id, ord) \
    CROSS JOIN LATERAL (SELECT ",
    principal_columns!(),
    " FROM auth.users u LEFT JOIN auth.sessions s ON s.id = k.session_id AND s.user_id = u.id \
    WHERE u.id = k.user_id AND u.deleted_at IS NULL) p"
);

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Token checks, on their own connections (see `postgres_reads`).
    principals: PrincipalReads,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        // One plain connection first: the pool retries a refused connection until its acquire
        // timeout and then reports only "pool timed out", hiding the cause.
        let probe = PgConnection::connect_with(&options).await?;
        let _ = probe.close().await;
        // No ping before each use (a round trip per request: ~20% of a `GET /user` in the
        // benchmarks). A connection broken by a database restart fails one request and is
        // dropped; idle connections are recycled after a minute so few go stale.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .idle_timeout(std::time::Duration::from_secs(60))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        Ok(Self {
            pool,
            principals: PrincipalReads::start(options),
        })
    }

    /// A transaction; opening it is retried on a dead connection (nothing has run yet).
    async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        super::retry_read(|| async { Ok(self.pool.begin().await?) }).await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn req<T>(value: Option<T>, column: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
}

fn user_from_row(row: &PgRow) -> StoreResult<User> {
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

fn identity_from_row(row: &PgRow) -> StoreResult<Identity> {
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

fn session_from_row(row: &PgRow) -> StoreResult<Session> {
    session_from_columns(row, &SessionColumns::PLAIN)
}

/// A row of [`PRINCIPAL_SQL`] or [`PRINCIPALS_SQL`].
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

fn session_from_columns(row: &PgRow, names: &SessionColumns) -> StoreResult<Session> {
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
        amr_method: row
            .try_get::<Option<String>, _>(names.amr_method)?
            .unwrap_or_else(|| "password".into()),
        created_at: req(row.try_get(names.created_at)?, names.created_at)?,
        updated_at: req(row.try_get(names.updated_at)?, names.updated_at)?,
    })
}

fn flow_from_row(row: &PgRow) -> StoreResult<FlowState> {
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
        created_at: req(row.try_get("created_at")?, "created_at")?,
    })
}

fn token_from_row(row: &PgRow) -> StoreResult<RefreshToken> {
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

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

async fn insert_identity(conn: &mut PgConnection, identity: &Identity) -> StoreResult<()> {
    // `email` is generated from identity_data in Supabase's schema.
    let inserted = sqlx::query(
        "INSERT INTO auth.identities (id, provider_id, provider, user_id, identity_data, \
         last_sign_in_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(identity.id)
    .bind(&identity.provider_id)
    .bind(&identity.provider)
    .bind(identity.user_id)
    .bind(&identity.identity_data)
    .bind(identity.last_sign_in_at)
    .bind(identity.created_at)
    .bind(identity.updated_at)
    .execute(conn)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("identity")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_token(
    conn: &mut PgConnection,
    token: &MintedToken,
    session: &Session,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, false, $6, $6)",
    )
    .bind(&token.token_hash)
    .bind(&token.nonce)
    .bind(session.user_id.to_string())
    .bind(session.id)
    .bind(parent)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's own columns, in the order both statements below name them, bound to `query`.
fn bind_user_columns<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    user: &'q User,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&user.aud)
        .bind(&user.role)
        .bind(&user.email)
        .bind(&user.encrypted_password)
        .bind(user.email_confirmed_at)
        .bind(user.confirmation_sent_at)
        .bind(&user.phone)
        .bind(user.phone_confirmed_at)
        .bind(user.last_sign_in_at)
        .bind(&user.app_metadata)
        .bind(&user.user_metadata)
        .bind(user.banned_until)
        .bind(user.is_anonymous)
        .bind(user.updated_at)
}

/// Unique-key clashes on the users table are the caller's `Conflict`, not a failure.
fn user_conflict(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> StoreResult<()> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("user")),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

async fn insert_user(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO auth.users (aud, role, email, encrypted_password, email_confirmed_at, \
         confirmation_sent_at, phone, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, \
         raw_user_meta_data, banned_until, is_anonymous, updated_at, id, created_at, instance_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         '00000000-0000-0000-0000-000000000000')",
    );
    let query = bind_user_columns(query, user)
        .bind(user.id)
        .bind(user.created_at);
    user_conflict(query.execute(conn).await)
}

/// Writes the user's own columns (under the row lock taken by [`Store::change_user`]).
async fn write_user(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
    let query = sqlx::query(
        "UPDATE auth.users SET aud = $1, role = $2, email = $3, encrypted_password = $4, \
         email_confirmed_at = $5, confirmation_sent_at = $6, phone = $7, phone_confirmed_at = $8, \
         last_sign_in_at = $9, raw_app_meta_data = $10, raw_user_meta_data = $11, \
         banned_until = $12, is_anonymous = $13, updated_at = $14 WHERE id = $15",
    );
    user_conflict(
        bind_user_columns(query, user)
            .bind(user.id)
            .execute(conn)
            .await,
    )
}

async fn insert_audit(conn: &mut PgConnection, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, CAST($2 AS json), $3, $4)",
    )
    .bind(entry.id)
    .bind(sqlx::types::Json(&entry.payload))
    .bind(entry.created_at)
    .bind(&entry.ip_address)
    .execute(conn)
    .await?;
    Ok(())
}

/// A session, its first refresh token, its AMR claim, and the user's last sign-in.
async fn insert_session(
    conn: &mut PgConnection,
    session: &Session,
    token: &MintedToken,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES ($1, $2, $3::auth.aal_level, $4, $5, $6, $7::inet, $8, $9)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(&session.aal)
    .bind(session.not_after)
    .bind(session.refreshed_at)
    .bind(&session.user_agent)
    .bind(&session.ip)
    .bind(session.created_at)
    .bind(session.updated_at)
    .execute(&mut *conn)
    .await?;
    insert_token(conn, token, session, None, session.created_at).await?;
    sqlx::query(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(Uuid::new_v4())
    .bind(session.id)
    .bind(session.created_at)
    .bind(&session.amr_method)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE auth.users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(session.created_at)
        .bind(session.user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn delete_sessions(
    conn: &mut PgConnection,
    user_id: Uuid,
    current: Uuid,
    scope: LogoutScope,
) -> StoreResult<u64> {
    let sql = match scope {
        LogoutScope::Global => {
            "DELETE FROM auth.sessions WHERE user_id = $1 AND $2::uuid IS NOT NULL"
        }
        LogoutScope::Local => "DELETE FROM auth.sessions WHERE user_id = $1 AND id = $2",
        LogoutScope::Others => "DELETE FROM auth.sessions WHERE user_id = $1 AND id <> $2",
    };
    let done = sqlx::query(sql)
        .bind(user_id)
        .bind(current)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        // saoma's own bookkeeping, apart from GoTrue's `auth.schema_migrations`. The schema is
        // created only where missing: `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege
        // on the database even when the schema exists, which GoTrue's role may not have.
        Executor::execute(
            &mut *tx,
            "DO $$ BEGIN IF to_regnamespace('auth') IS NULL THEN CREATE SCHEMA auth; END IF; END $$; \
             CREATE TABLE IF NOT EXISTS auth.saoma_migrations \
             (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
        for (version, name, sql) in MIGRATIONS {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM auth.saoma_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            Executor::execute(&mut *tx, *sql)
                .await
                .map_err(|e| StoreError::Migration(format!("{version}_{name}: {e}")))?;
            sqlx::query("INSERT INTO auth.saoma_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        super::retry_read(|| async { Ok(sqlx::query("SELECT 1").execute(&self.pool).await?) })
            .await?;
        Ok(())
    }

    async fn create_account(&self, account: &NewAccount<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
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
        // The row lock is taken by the read: concurrent changes queue behind each other.
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
        ))
        .bind(id)
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
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn principal(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> StoreResult<Option<Arc<Principal>>> {
        self.principals.principal((user_id, session_id)).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM auth.users \
             WHERE email = $1 AND is_sso_user = false AND deleted_at IS NULL"
            ))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<(Vec<User>, i64)> {
        let rows = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM auth.users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM auth.users WHERE deleted_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok((
            rows.iter().map(user_from_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth.users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn soft_delete_user(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE auth.users SET deleted_at = $1, updated_at = $1, email = NULL, phone = NULL, \
             encrypted_password = NULL WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for table in ["auth.identities", "auth.sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, entry).await
    }

    async fn take_rate_limit_token(
        &self,
        key: &str,
        capacity: f64,
        refill: f64,
        now: f64,
    ) -> StoreResult<bool> {
        let left: Option<f64> = super::retry_read(|| async {
            Ok(sqlx::query_scalar(
            "INSERT INTO auth.saoma_rate_limits AS r (key, tokens, updated_at) VALUES ($1, $2 - 1, $3) \
             ON CONFLICT (key) DO UPDATE SET \
             tokens = LEAST($2, r.tokens + GREATEST(0, $3 - r.updated_at) * $4) - 1, updated_at = $3 \
             WHERE LEAST($2, r.tokens + GREATEST(0, $3 - r.updated_at) * $4) >= 1 RETURNING tokens",
        )
        .bind(key)
        .bind(capacity)
        .bind(now)
        .bind(refill)
        .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        Ok(left.is_some())
    }

    fn pool_stats(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = super::retry_read(|| async {
            Ok(sqlx::query(
            "SELECT id, payload::jsonb AS payload, created_at, ip_address FROM auth.audit_log_entries \
             ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        let total: i64 = super::retry_read(|| async {
            Ok(
                sqlx::query_scalar("SELECT count(*) FROM auth.audit_log_entries")
                    .fetch_one(&self.pool)
                    .await?,
            )
        })
        .await?;
        let entries = rows
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    payload: row
                        .try_get::<Option<Value>, _>("payload")?
                        .unwrap_or_default(),
                    ip_address: row.try_get("ip_address")?,
                    created_at: req(row.try_get("created_at")?, "created_at")?,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok((entries, total))
    }

    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        let rows = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM auth.identities WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM auth.identities WHERE provider = $1 AND provider_id = $2"
        ))
        .bind(provider)
        .bind(provider_id)
        .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn identities_by_provider_id(&self, provider_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM auth.identities WHERE provider_id = $1"
            ))
            .bind(provider_id)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn add_identity(&self, identity: &Identity) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_identity(&mut conn, identity).await
    }

    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth.identities WHERE id = $1 AND user_id = $2")
            .bind(identity_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        sqlx::query("UPDATE auth.identities SET identity_data = $1, last_sign_in_at = $2, updated_at = $3 WHERE id = $4")
            .bind(&identity.identity_data)
            .bind(identity.last_sign_in_at)
            .bind(identity.updated_at)
            .bind(identity.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO auth.flow_state (id, provider_type, referrer, code_challenge, code_challenge_method, \
             authentication_method, linking_target_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5::auth.code_challenge_method, 'oauth', $6, $7, $7)",
        )
        .bind(flow.id)
        .bind(&flow.provider_type)
        .bind(&flow.redirect_to)
        .bind(flow.challenge.as_ref().map(|c| c.value.clone()))
        .bind(flow.challenge.as_ref().map(|c| c.method.as_str()))
        .bind(flow.linking_target_id)
        .bind(flow.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>> {
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {FLOW_COLUMNS} FROM auth.flow_state WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>> {
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {FLOW_COLUMNS} FROM auth.flow_state WHERE auth_code = $1"
            ))
            .bind(auth_code)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE auth.flow_state SET user_id = $1, auth_code = $2, auth_code_issued_at = $3, \
             provider_access_token = $4, provider_refresh_token = $5, provider_code_hash = $6, updated_at = $3 \
             WHERE id = $7 AND auth_code_issued_at IS NULL",
        )
        .bind(flow.user_id)
        .bind(&flow.auth_code)
        .bind(flow.auth_code_issued_at)
        .bind(&flow.provider_access_token)
        .bind(&flow.provider_refresh_token)
        .bind(&flow.provider_code_hash)
        .bind(flow.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth.flow_state WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept> {
        let mut tx = self.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SWEEP_LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(Swept {
                skipped: true,
                ..Swept::default()
            });
        }
        let flows = sqlx::query(
            "DELETE FROM auth.flow_state WHERE id IN \
             (SELECT id FROM auth.flow_state WHERE created_at < $1 LIMIT $2)",
        )
        .bind(plan.flows_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let rate_limit_buckets = sqlx::query(
            "DELETE FROM auth.saoma_rate_limits WHERE key IN \
             (SELECT key FROM auth.saoma_rate_limits WHERE updated_at < $1 LIMIT $2)",
        )
        .bind(plan.buckets_idle_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM auth.sessions WHERE id IN \
             (SELECT id FROM auth.sessions WHERE not_after < $1 LIMIT $2)",
        )
        .bind(plan.sessions_ended_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let orphan_refresh_tokens = sqlx::query(
            "DELETE FROM auth.refresh_tokens WHERE id IN \
             (SELECT id FROM auth.refresh_tokens WHERE session_id IS NULL LIMIT $1)",
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
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session, token).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_by_id(&self, id: Uuid) -> StoreResult<Option<Session>> {
        let row = super::retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM auth.sessions WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn end_sessions(
        &self,
        user_id: Uuid,
        current: Uuid,
        scope: LogoutScope,
    ) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await?;
        delete_sessions(&mut conn, user_id, current, scope).await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
    ) -> StoreResult<Rotation> {
        let mut tx = self.begin().await?;
        let mut steps = PgRotation {
            conn: &mut tx,
            lookup: TokenLookup::Hash,
        };
        let outcome = rotate(&mut steps, presented_hash, fresh, now, policy).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn rotate_gotrue_refresh_token(
        &self,
        presented: &str,
        fresh: &MintedToken,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
    ) -> StoreResult<Rotation> {
        if !could_be_from_gotrue(presented) {
            return Ok(Rotation::NotFound);
        }
        let mut tx = self.begin().await?;
        let mut steps = PgRotation {
            conn: &mut tx,
            lookup: TokenLookup::GoTruePlaintext,
        };
        let outcome = rotate(&mut steps, presented, fresh, now, policy).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// How rotation finds the presented token.
#[derive(Clone, Copy)]
enum TokenLookup {
    /// saoma's tokens, by the hash of the plaintext.
    Hash,
    /// GoTrue's, by the plaintext it stored. Only rows without saoma's nonce: a saoma row's
    /// `token` is a hash, which must never work as a token.
    GoTruePlaintext,
}

impl TokenLookup {
    fn condition(self) -> &'static str {
        match self {
            TokenLookup::Hash => "token = $1",
            TokenLookup::GoTruePlaintext => "token = $1 AND nonce IS NULL",
        }
    }
}

/// Rotation's statements inside one Postgres transaction.
struct PgRotation<'a> {
    conn: &'a mut PgConnection,
    lookup: TokenLookup,
}

#[async_trait]
impl RotationSteps for PgRotation<'_> {
    async fn lock_session_of(&mut self, key: &str) -> StoreResult<Option<Session>> {
        // Locking the session row serialises every rotation of one session across processes.
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM auth.sessions WHERE id = \
             (SELECT session_id FROM auth.refresh_tokens WHERE {}) FOR UPDATE",
            self.lookup.condition()
        ))
        .bind(key)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn token(&mut self, key: &str) -> StoreResult<Option<RefreshToken>> {
        let token = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE {}",
            self.lookup.condition()
        ))
        .bind(key)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()?;
        Ok(match self.lookup {
            TokenLookup::Hash => token,
            // The index found the row; the decision rests on an exact, constant-time match
            // (a column collation could compare more loosely than byte for byte).
            TokenLookup::GoTruePlaintext => token.filter(|t| plaintext_matches(key, &t.token_hash)),
        })
    }

    async fn active_token(&mut self, session_id: Uuid) -> StoreResult<Option<RefreshToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE session_id = $1 AND revoked = false \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(session_id)
        .fetch_optional(&mut *self.conn)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn revoke(&mut self, token_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE auth.refresh_tokens SET revoked = true, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(&mut *self.conn)
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
        insert_token(self.conn, fresh, session, Some(parent), now).await
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE auth.sessions SET refreshed_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn delete_session(&mut self, session_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM auth.sessions WHERE id = $1")
            .bind(session_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }
}
