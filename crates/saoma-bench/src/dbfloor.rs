//! The database floor: the statements saoma issues for each measured endpoint, in the same
//! order and the same transaction grouping, through sqlx on pools (SQLite: a 4-connection
//! read-only pool and a 1-connection writer, WAL, synchronous NORMAL, foreign keys, busy
//! timeout 5 s, each write autocommitted unless saoma writes it in one transaction with
//! others; Postgres: a 16-connection pool), alone: no HTTP, no JSON, no row decoding beyond
//! what the next statement needs. Where saoma left the pools, the floor follows for the
//! measured targets: the token check reads on a connection of each worker's own (rusqlite on
//! SQLite), and the Postgres rotation runs on one too (no ping when it is given back). The
//! other SQLite point reads saoma now makes on its inline rusqlite readers go through the
//! sqlx pool here, and the SQLite writer is sqlx's, not saoma's group writer (the engine
//! floor is SQLite's limit for those writes).
//!
//! The token check's statement and SQLite's column lists are saoma's own constants; the other
//! statements, and Postgres's column lists, are copied from
//! crates/saoma/src/store/{sqlite,postgres}/*.rs: keep them in step when those change.

// The session columns saoma's rotation reads (AMR claims included), so the refresh floor
// reads a session exactly as saoma does; the user, identity and flow columns its stores read.
use saoma::store::{
    POSTGRES_SESSION_COLUMNS as PG_SESSION_COLUMNS, POSTGRES_UPDATE_USER_SQL, SQLITE_FLOW_COLUMNS,
    SQLITE_IDENTITY_COLUMNS, SQLITE_SESSION_COLUMNS, SQLITE_UPDATE_USER_SQL, SQLITE_USER_COLUMNS,
};
use std::{str::FromStr, time::Duration};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Executor, PgPool, Row, SqlitePool,
};
use uuid::Uuid;

use crate::load::Job;

pub const TOKEN_COLUMNS: &str =
    "id, token, nonce, user_id, session_id, parent, revoked, created_at, updated_at";
// Postgres's column lists (crates/saoma/src/store/postgres/columns.rs, not exported).
const PG_USER_COLUMNS: &str = "id, aud, role, email, encrypted_password, email_confirmed_at, \
    confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at, \
    invited_at, recovery_sent_at, email_change, email_change_sent_at, \
    email_change_confirm_status, reauthentication_sent_at, last_sign_in_at, raw_app_meta_data, \
    raw_user_meta_data, banned_until, is_anonymous, created_at, updated_at";
const PG_IDENTITY_COLUMNS: &str = "id, provider_id, provider, user_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at";
const PG_FLOW_COLUMNS: &str =
    "id, user_id, auth_code, code_challenge_method::text AS code_challenge_method, \
    code_challenge, provider_type, provider_access_token, provider_refresh_token, created_at, \
    auth_code_issued_at, referrer, provider_code_hash, linking_target_id, authentication_method";

/// Pools laid out as saoma's store lays them out.
#[derive(Clone)]
pub enum Db {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
        path: String,
    },
    Postgres(PgPool),
}

impl Db {
    /// Pools as saoma opens them, without a ping before each acquire.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let test_before_acquire = false;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(test_before_acquire)
                .connect(url)
                .await?;
            return Ok(Self::Postgres(pool));
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{url}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(test_before_acquire)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(test_before_acquire)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self::Sqlite {
            reader,
            writer,
            path: url.to_owned(),
        })
    }

    pub async fn close(self) {
        match self {
            Self::Sqlite { reader, writer, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn audit_payload(user_id: &str, action: &str, traits: Value) -> Value {
    serde_json::json!({
        "actor_id": user_id,
        "actor_username": "someone@bench.example.com",
        "actor_via_sso": false,
        "action": action,
        "log_type": if action == "login" { "account" } else { "token" },
        "traits": traits,
    })
}

/// The audit-log entry saoma writes, on `conn`, inside the caller's transaction (a refresh's
/// rotation, a login's session).
async fn sqlite_audit(
    conn: &mut sqlx::SqliteConnection,
    user_id: &str,
    action: &str,
    traits: Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log_entries (id, payload, created_at, ip_address) VALUES (?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7().to_string()) // as saoma's `AuditEntry`
    .bind(audit_payload(user_id, action, traits).to_string())
    .bind(ts(Utc::now()))
    .bind("127.0.0.1")
    .execute(conn)
    .await?;
    Ok(())
}

async fn pg_audit(
    conn: &mut sqlx::PgConnection,
    user_id: &str,
    action: &str,
    traits: Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, CAST($2 AS json), $3, $4)",
    )
    .bind(Uuid::now_v7()) // as saoma's `AuditEntry`
    .bind(sqlx::types::Json(audit_payload(user_id, action, traits)))
    .bind(Utc::now())
    .bind("127.0.0.1")
    .execute(conn)
    .await?;
    Ok(())
}

/// A signed-in user: ids as text (SQLite keeps them so), parsed for Postgres.
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: String,
    pub session_id: String,
    pub email: String,
}

/// Users with a session, one per worker (cycled when there are fewer).
pub async fn accounts(db: &Db, count: usize) -> anyhow::Result<Vec<Account>> {
    let limit = i64::try_from(count)?;
    let rows = match db {
        Db::Sqlite { reader, .. } => sqlx::query(
            "SELECT s.id AS session_id, s.user_id AS user_id, u.email AS email \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE u.email IS NOT NULL ORDER BY s.created_at LIMIT ?",
        )
        .bind(limit)
        .fetch_all(reader)
        .await?
        .iter()
        .map(|row| {
            Ok(Account {
                session_id: row.try_get("session_id")?,
                user_id: row.try_get("user_id")?,
                email: row.try_get("email")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
        Db::Postgres(pool) => sqlx::query(
            "SELECT s.id AS session_id, s.user_id AS user_id, u.email AS email \
                 FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id \
                 WHERE u.email IS NOT NULL ORDER BY s.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Account {
                session_id: row.try_get::<Uuid, _>("session_id")?.to_string(),
                user_id: row.try_get::<Uuid, _>("user_id")?.to_string(),
                email: row.try_get("email")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
    };
    anyhow::ensure!(!rows.is_empty(), "no signed-in users in the database");
    Ok((0..count).map(|i| rows[i % rows.len()].clone()).collect())
}

/// The active refresh token (its hash) of distinct sessions, one per worker.
pub async fn active_tokens(db: &Db, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let limit = i64::try_from(count)?;
    let pairs: Vec<(String, String)> = match db {
        Db::Sqlite { reader, .. } => {
            sqlx::query_as(
                "SELECT r.token, r.user_id FROM refresh_tokens r WHERE r.revoked = 0 AND r.id = \
                 (SELECT max(id) FROM refresh_tokens t WHERE t.session_id = r.session_id) LIMIT ?",
            )
            .bind(limit)
            .fetch_all(reader)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_as(
                "SELECT r.token, r.user_id FROM auth.refresh_tokens r WHERE r.revoked = false AND r.id = \
                 (SELECT max(id) FROM auth.refresh_tokens t WHERE t.session_id = r.session_id) LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    anyhow::ensure!(
        pairs.len() == count,
        "only {} sessions with an active refresh token, {count} needed",
        pairs.len()
    );
    Ok(pairs)
}

/// `GET /user`: saoma's token-check statement (the user, the session and the identities),
/// one per check, each task with its own connection as saoma's readers: on SQLite through
/// rusqlite on the task's own thread, on Postgres through sqlx on a connection of its own
/// (not the pool, which pings on every release).
pub struct GetUser {
    account: Account,
    conn: GetUserConn,
}

enum GetUserConn {
    Sqlite(rusqlite::Connection),
    Postgres(sqlx::PgConnection),
}

/// A read-only rusqlite connection to the SQLite file, as saoma's inline readers open it.
fn open_inline(path: &str) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

pub async fn get_user_jobs(db: &Db, concurrency: usize) -> anyhow::Result<Vec<GetUser>> {
    let mut jobs = Vec::with_capacity(concurrency);
    for account in accounts(db, concurrency).await? {
        let conn = match db {
            Db::Sqlite { path, .. } => GetUserConn::Sqlite(open_inline(path)?),
            Db::Postgres(pool) => GetUserConn::Postgres(
                <sqlx::PgConnection as sqlx::Connection>::connect_with(&pool.connect_options())
                    .await?,
            ),
        };
        jobs.push(GetUser { account, conn });
    }
    Ok(jobs)
}

impl Job for GetUser {
    async fn run(&mut self) -> anyhow::Result<()> {
        match &mut self.conn {
            GetUserConn::Sqlite(conn) => {
                read_inline(conn, &self.account)?;
                // A server yields on its socket between requests; without this the
                // harness's CPU watcher never runs during the window.
                tokio::task::yield_now().await;
            }
            GetUserConn::Postgres(conn) => {
                sqlx::query(saoma::store::POSTGRES_PRINCIPAL_SQL)
                    .bind(Uuid::parse_str(&self.account.user_id)?)
                    .bind(Some(Uuid::parse_str(&self.account.session_id)?))
                    .fetch_optional(&mut *conn)
                    .await?
                    .context("user not found")?;
            }
        }
        Ok(())
    }
}

fn read_inline(conn: &rusqlite::Connection, account: &Account) -> anyhow::Result<()> {
    let mut statement = conn.prepare_cached(saoma::store::SQLITE_PRINCIPAL_SQL)?;
    let columns = statement.column_count();
    let mut rows = statement.query([&account.user_id, &account.session_id])?;
    let row = rows.next()?.context("user not found")?;
    for i in 0..columns {
        std::hint::black_box(row.get_ref(i)?);
    }
    Ok(())
}

/// What a token check answered from memory costs the database: `PRAGMA data_version` on
/// SQLite (is the remembered answer still what the file holds?).
pub struct DataVersion {
    conn: rusqlite::Connection,
}

pub fn data_version_jobs(db: &Db, concurrency: usize) -> anyhow::Result<Vec<DataVersion>> {
    let Db::Sqlite { path, .. } = db else {
        anyhow::bail!("SQLite only");
    };
    (0..concurrency)
        .map(|_| {
            Ok(DataVersion {
                conn: open_inline(path)?,
            })
        })
        .collect()
}

impl Job for DataVersion {
    async fn run(&mut self) -> anyhow::Result<()> {
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        std::hint::black_box(version);
        tokio::task::yield_now().await;
        Ok(())
    }
}

/// `user_by_id` (`USER_BY_ID` in store/sqlite/users.rs), on the reader pool.
async fn sqlite_user_by_id(
    reader: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    id: &str,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "SELECT {SQLITE_USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(reader)
    .await?
    .context("user not found")?;
    Ok(())
}

/// `identities_of` (store/sqlite/identities.rs), on the reader pool.
async fn sqlite_identities_of(
    reader: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    user_id: &str,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "SELECT {SQLITE_IDENTITY_COLUMNS} FROM identities WHERE user_id = ? ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(reader)
    .await?;
    Ok(())
}

async fn pg_user_by_id(
    pool: impl sqlx::Executor<'_, Database = sqlx::Postgres>,
    id: Uuid,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "SELECT {PG_USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .context("user not found")?;
    Ok(())
}

async fn pg_identities_of(
    pool: impl sqlx::Executor<'_, Database = sqlx::Postgres>,
    user_id: Uuid,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "SELECT {PG_IDENTITY_COLUMNS} FROM auth.identities WHERE user_id = $1 \
         ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(())
}

/// Refresh-token rotation of an active token: in one transaction the session (locked on
/// Postgres) by token, the token, the user, the session's newest unrevoked token, revoke,
/// insert the child, touch the session, the audit entry, the user's identities.
pub struct Refresh {
    db: Db,
    /// Hash of the token presented next (the chain's active one).
    token: String,
    /// On Postgres, the rotation's connection: one of its own, as saoma's write connections,
    /// which no pool pings when they are given back (issue 17, item 4).
    write: Option<sqlx::PgConnection>,
}

pub async fn refresh_jobs(db: &Db, concurrency: usize) -> anyhow::Result<Vec<Refresh>> {
    let mut jobs = Vec::with_capacity(concurrency);
    for (token, _) in active_tokens(db, concurrency).await? {
        let write = match db {
            Db::Sqlite { .. } => None,
            Db::Postgres(pool) => Some(
                <sqlx::PgConnection as sqlx::Connection>::connect_with(&pool.connect_options())
                    .await?,
            ),
        };
        jobs.push(Refresh {
            db: db.clone(),
            token,
            write,
        });
    }
    Ok(jobs)
}

impl Job for Refresh {
    async fn run(&mut self) -> anyhow::Result<()> {
        let now = Utc::now();
        let fresh = random_hex(32);
        let nonce = random_hex(16);
        match &self.db {
            Db::Sqlite { writer, .. } => {
                let mut conn = writer.acquire().await?;
                Executor::execute(&mut *conn, "BEGIN IMMEDIATE").await?;
                let session = sqlx::query(&format!(
                    "SELECT {SQLITE_SESSION_COLUMNS} FROM sessions WHERE id = \
                     (SELECT session_id FROM refresh_tokens WHERE token = ?)"
                ))
                .bind(&self.token)
                .fetch_optional(&mut *conn)
                .await?
                .context("session of token not found")?;
                let session_id: String = session.try_get("id")?;
                let user_id: String = session.try_get("user_id")?;
                let presented = sqlx::query(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token = ?"
                ))
                .bind(&self.token)
                .fetch_optional(&mut *conn)
                .await?
                .context("token not found")?;
                let presented_id: i64 = presented.try_get("id")?;
                // The user, read before anything changes (store/rotation.rs).
                sqlite_user_by_id(&mut *conn, &user_id).await?;
                sqlx::query(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE session_id = ? AND revoked = 0 ORDER BY id DESC LIMIT 1"
                ))
                .bind(&session_id)
                .fetch_optional(&mut *conn)
                .await?;
                sqlx::query("UPDATE refresh_tokens SET revoked = 1, updated_at = ? WHERE id = ?")
                    .bind(ts(now))
                    .bind(presented_id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                )
                .bind(&fresh)
                .bind(&nonce)
                .bind(&user_id)
                .bind(&session_id)
                .bind(&self.token)
                .bind(ts(now))
                .bind(ts(now))
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE sessions SET refreshed_at = ?, updated_at = ? WHERE id = ?")
                    .bind(ts(now))
                    .bind(ts(now))
                    .bind(&session_id)
                    .execute(&mut *conn)
                    .await?;
                // The audit entry, in the rotation's transaction.
                let traits = serde_json::json!({ "session_id": session_id });
                sqlite_audit(&mut conn, &user_id, "token_refreshed", traits).await?;
                // The identities, for the answer, in the same transaction.
                sqlite_identities_of(&mut *conn, &user_id).await?;
                Executor::execute(&mut *conn, "COMMIT").await?;
            }
            Db::Postgres(_) => {
                let write = self.write.as_mut().context("no write connection")?;
                let mut tx = sqlx::Connection::begin(write).await?;
                let session = sqlx::query(&format!(
                    "SELECT {PG_SESSION_COLUMNS} FROM auth.sessions WHERE id = \
                     (SELECT session_id FROM auth.refresh_tokens WHERE token = $1) FOR UPDATE"
                ))
                .bind(&self.token)
                .fetch_optional(&mut *tx)
                .await?
                .context("session of token not found")?;
                let session_id: Uuid = session.try_get("id")?;
                let user_id: Uuid = session.try_get("user_id")?;
                let presented = sqlx::query(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE token = $1"
                ))
                .bind(&self.token)
                .fetch_optional(&mut *tx)
                .await?
                .context("token not found")?;
                let presented_id: i64 = presented.try_get("id")?;
                // The user, read before anything changes (store/rotation.rs).
                pg_user_by_id(&mut *tx, user_id).await?;
                sqlx::query(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM auth.refresh_tokens WHERE session_id = $1 AND revoked = false \
                     ORDER BY id DESC LIMIT 1"
                ))
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE auth.refresh_tokens SET revoked = true, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(presented_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO auth.refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, false, $6, $6)",
                )
                .bind(&fresh)
                .bind(&nonce)
                .bind(user_id.to_string())
                .bind(session_id)
                .bind(&self.token)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE auth.sessions SET refreshed_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
                // The audit entry, in the rotation's transaction.
                let traits = serde_json::json!({ "session_id": session_id });
                pg_audit(&mut tx, &user_id.to_string(), "token_refreshed", traits).await?;
                // The identities, for the answer, in the same transaction.
                pg_identities_of(&mut *tx, user_id).await?;
                tx.commit().await?;
            }
        }
        self.token = fresh;
        Ok(())
    }
}

/// Password sign-in without the hash: the user by email, then a new session (session, its
/// first refresh token, its AMR claim, the user's last sign-in, the `login` audit entry) in
/// one transaction, then the identities.
pub struct SignIn {
    db: Db,
    account: Account,
}

pub async fn sign_in_jobs(db: &Db, concurrency: usize) -> anyhow::Result<Vec<SignIn>> {
    Ok(accounts(db, concurrency)
        .await?
        .into_iter()
        .map(|account| SignIn {
            db: db.clone(),
            account,
        })
        .collect())
}

impl Job for SignIn {
    async fn run(&mut self) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite { reader, writer, .. } => {
                let user = sqlx::query(&format!(
                    "SELECT {SQLITE_USER_COLUMNS} FROM users WHERE email = ? AND is_sso_user = 0 AND deleted_at IS NULL"
                ))
                .bind(&self.account.email)
                .fetch_optional(reader)
                .await?
                .context("user not found")?;
                let user_id: String = user.try_get("id")?;
                let login = serde_json::json!({ "provider": "email" });
                sqlite_create_session(writer, &user_id, "password", login).await?;
                sqlite_identities_of(reader, &user_id).await?;
            }
            Db::Postgres(pool) => {
                let user = sqlx::query(&format!(
                    "SELECT {PG_USER_COLUMNS} FROM auth.users \
                     WHERE email = $1 AND is_sso_user = false AND deleted_at IS NULL"
                ))
                .bind(&self.account.email)
                .fetch_optional(pool)
                .await?
                .context("user not found")?;
                let user_id: Uuid = user.try_get("id")?;
                let login = serde_json::json!({ "provider": "email" });
                pg_create_session(pool, user_id, "password", login).await?;
                pg_identities_of(pool, user_id).await?;
            }
        }
        Ok(())
    }
}

/// `create_session` (store/sqlite/sessions.rs `insert_session`), one transaction on the
/// writer: the session, its first refresh token, its AMR claim, the user's last sign-in, and
/// the `login` audit entry with `login` as its traits.
async fn sqlite_create_session(
    writer: &SqlitePool,
    user_id: &str,
    amr: &str,
    login: Value,
) -> anyhow::Result<()> {
    let now = ts(Utc::now());
    let session_id = Uuid::new_v4().to_string();
    let mut tx = writer.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&session_id)
    .bind(user_id)
    .bind("aal1")
    .bind(None::<String>)
    .bind(None::<String>)
    .bind("saoma-bench")
    .bind(None::<String>)
    .bind(&now)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
    )
    .bind(random_hex(32))
    .bind(random_hex(16))
    .bind(user_id)
    .bind(&session_id)
    .bind(None::<String>)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    // `upsert_amr_claim`: the session's one claim, recorded or moved to now.
    sqlx::query(
        "INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(&session_id)
    .bind(&now)
    .bind(amr)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
        .bind(&now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlite_audit(&mut tx, user_id, "login", login).await?;
    tx.commit().await?;
    Ok(())
}

/// `create_session` (store/postgres/sessions.rs `insert_session`) with the `login` audit
/// entry, in one transaction.
async fn pg_create_session(
    pool: &PgPool,
    user_id: Uuid,
    amr: &str,
    login: Value,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let session_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO auth.sessions (id, user_id, aal, not_after, refreshed_at, user_agent, ip, created_at, updated_at) \
         VALUES ($1, $2, $3::auth.aal_level, $4, $5, $6, $7::inet, $8, $9)",
    )
    .bind(session_id)
    .bind(user_id)
    .bind("aal1")
    .bind(None::<DateTime<Utc>>)
    .bind(None::<DateTime<Utc>>)
    .bind("saoma-bench")
    .bind(None::<String>)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (token, nonce, user_id, session_id, parent, revoked, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, false, $6, $6)",
    )
    .bind(random_hex(32))
    .bind(random_hex(16))
    .bind(user_id.to_string())
    .bind(session_id)
    .bind(None::<String>)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // `upsert_amr_claim`: the session's one claim, recorded or moved to now.
    sqlx::query(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) \
         SELECT $1, $2, $3, $3, $4 WHERE EXISTS (SELECT 1 FROM auth.sessions WHERE id = $2) \
         ON CONFLICT (session_id, authentication_method) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(Uuid::new_v4())
    .bind(session_id)
    .bind(now)
    .bind(amr)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE auth.users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    pg_audit(&mut tx, &user_id.to_string(), "login", login).await?;
    tx.commit().await?;
    Ok(())
}

/// One WeChat QR login of an existing WeChat user, all three requests of it: every statement
/// saoma's store runs for them, in order and in saoma's transactions.
///
/// - `/authorize?provider=wechat_qr` (PKCE): the new flow (expired flows are swept by the
///   background sweeper, not here).
/// - `/callback`: the flow by id, the identity by provider id, the user read and rewritten
///   with the identity's profile in one transaction (`change_user`; on Postgres the read
///   takes the row lock), the flow completed.
/// - `/token?grant_type=pkce`: the flow by its code, deleted, the user, the new session (one
///   transaction: session, refresh token, AMR claim upserted, last sign-in, the `login`
///   audit entry), the user's identities.
///
/// The WeChat calls in between are not database work and are left out.
pub struct QrLogin {
    db: Db,
    identity: QrIdentity,
}

/// The WeChat identity the simulator's persona signed in as.
#[derive(Clone)]
struct QrIdentity {
    identity_id: String,
    provider_id: String,
    user_id: String,
    /// Written back on each login, as saoma writes the merged profile.
    identity_data: Value,
    /// The `provider` trait of the `login` audit entry.
    login_provider: String,
}

/// Where the flow sends the browser back to (the flow's `referrer`).
const QR_REDIRECT_TO: &str = "http://localhost:3000/x";

/// The `provider` a login's audit entry names (`tokens::new_session`): the user's
/// `app_metadata.provider`, else the sign-in's AMR method (`oauth` for a provider's).
fn login_provider(raw_app_meta_data: Option<&str>) -> String {
    raw_app_meta_data
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|meta| meta.get("provider")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "oauth".to_owned())
}

pub async fn qr_jobs(db: &Db, concurrency: usize) -> anyhow::Result<Vec<QrLogin>> {
    let identity = match db {
        Db::Sqlite { reader, .. } => {
            let row = sqlx::query(
                "SELECT i.id AS identity_id, i.provider_id, i.user_id, i.identity_data, \
                 u.raw_app_meta_data FROM identities i JOIN users u ON u.id = i.user_id \
                 WHERE i.provider = 'wechat_qr' AND u.deleted_at IS NULL LIMIT 1",
            )
            .fetch_optional(reader)
            .await?
            .context("no wechat_qr identity: run saoma's QR login first")?;
            QrIdentity {
                identity_id: row.try_get("identity_id")?,
                provider_id: row.try_get("provider_id")?,
                user_id: row.try_get("user_id")?,
                identity_data: serde_json::from_str(row.try_get("identity_data")?)?,
                login_provider: login_provider(row.try_get("raw_app_meta_data")?),
            }
        }
        Db::Postgres(pool) => {
            let row = sqlx::query(
                "SELECT i.id AS identity_id, i.provider_id, i.user_id, i.identity_data, \
                 u.raw_app_meta_data::text AS raw_app_meta_data \
                 FROM auth.identities i JOIN auth.users u ON u.id = i.user_id \
                 WHERE i.provider = 'wechat_qr' AND u.deleted_at IS NULL LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
            .context("no wechat_qr identity: run saoma's QR login first")?;
            QrIdentity {
                identity_id: row.try_get::<Uuid, _>("identity_id")?.to_string(),
                provider_id: row.try_get("provider_id")?,
                user_id: row.try_get::<Uuid, _>("user_id")?.to_string(),
                identity_data: row.try_get("identity_data")?,
                login_provider: login_provider(row.try_get("raw_app_meta_data")?),
            }
        }
    };
    Ok((0..concurrency)
        .map(|_| QrLogin {
            db: db.clone(),
            identity: identity.clone(),
        })
        .collect())
}

/// `change_user` of a login's profile refresh (`external::refresh`), as store/sqlite/users.rs
/// runs it: in ONE write of the writer (`BEGIN IMMEDIATE`, as the group writer's batches),
/// the user by id (`USER_BY_ID`), the signed-in identity's profile (`update_identity`), then
/// `write_user`'s 22 columns, as read but `updated_at`.
async fn sqlite_change_user(writer: &SqlitePool, id: &QrIdentity, now: &str) -> anyhow::Result<()> {
    let user_id = id.user_id.as_str();
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let user = sqlx::query(&format!(
        "SELECT {SQLITE_USER_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .context("user not found")?;
    sqlx::query(
        "UPDATE identities SET identity_data = ?, email = ?, last_sign_in_at = ?, \
         updated_at = ? WHERE id = ? AND user_id = ?",
    )
    .bind(id.identity_data.to_string())
    .bind(None::<String>)
    .bind(now)
    .bind(now)
    .bind(&id.identity_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let text = |column: &str| user.try_get::<Option<String>, _>(column);
    sqlx::query(SQLITE_UPDATE_USER_SQL)
        .bind(text("aud")?)
        .bind(text("role")?)
        .bind(text("email")?)
        .bind(text("encrypted_password")?)
        .bind(text("email_confirmed_at")?)
        .bind(text("confirmation_sent_at")?)
        .bind(text("phone")?)
        .bind(text("phone_confirmed_at")?)
        // GoTrue's "none" is `''`, not null.
        .bind(text("phone_change")?.unwrap_or_default())
        .bind(text("phone_change_sent_at")?)
        .bind(text("invited_at")?)
        .bind(text("recovery_sent_at")?)
        .bind(text("email_change")?.unwrap_or_default())
        .bind(text("email_change_sent_at")?)
        .bind(
            user.try_get::<Option<i64>, _>("email_change_confirm_status")?
                .unwrap_or(0),
        )
        .bind(text("reauthentication_sent_at")?)
        .bind(text("last_sign_in_at")?)
        .bind(text("raw_app_meta_data")?)
        .bind(text("raw_user_meta_data")?)
        .bind(text("banned_until")?)
        .bind(user.try_get::<bool, _>("is_anonymous")?)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `change_user` as store/postgres/users.rs runs it: in one transaction, the user by id
/// `FOR UPDATE` (the row lock), the signed-in identity's profile (`update_identity`), then
/// `write_user`'s 22 columns, as read but `updated_at`.
async fn pg_change_user(
    pool: &PgPool,
    id: &QrIdentity,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let user = sqlx::query(&format!(
        "SELECT {PG_USER_COLUMNS} FROM auth.users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .context("user not found")?;
    sqlx::query(
        "UPDATE auth.identities SET identity_data = $1, last_sign_in_at = $2, \
         updated_at = $3 WHERE id = $4 AND user_id = $5",
    )
    .bind(&id.identity_data)
    .bind(now)
    .bind(now)
    .bind(Uuid::parse_str(&id.identity_id)?)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let text = |column: &str| user.try_get::<Option<String>, _>(column);
    let time = |column: &str| user.try_get::<Option<DateTime<Utc>>, _>(column);
    let json = |column: &str| user.try_get::<Option<Value>, _>(column);
    sqlx::query(POSTGRES_UPDATE_USER_SQL)
        .bind(text("aud")?)
        .bind(text("role")?)
        .bind(text("email")?)
        .bind(text("encrypted_password")?)
        .bind(time("email_confirmed_at")?)
        .bind(time("confirmation_sent_at")?)
        .bind(text("phone")?)
        .bind(time("phone_confirmed_at")?)
        // GoTrue's "none" is `''`, not null.
        .bind(text("phone_change")?.unwrap_or_default())
        .bind(time("phone_change_sent_at")?)
        .bind(time("invited_at")?)
        .bind(time("recovery_sent_at")?)
        .bind(text("email_change")?.unwrap_or_default())
        .bind(time("email_change_sent_at")?)
        .bind(
            user.try_get::<Option<i16>, _>("email_change_confirm_status")?
                .unwrap_or(0),
        )
        .bind(time("reauthentication_sent_at")?)
        .bind(time("last_sign_in_at")?)
        .bind(json("raw_app_meta_data")?.unwrap_or_default())
        .bind(json("raw_user_meta_data")?.unwrap_or_default())
        .bind(time("banned_until")?)
        .bind(user.try_get::<bool, _>("is_anonymous")?)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

impl Job for QrLogin {
    async fn run(&mut self) -> anyhow::Result<()> {
        let id = &self.identity;
        let flow_id = Uuid::new_v4();
        let auth_code = Uuid::new_v4().to_string();
        let now = Utc::now();
        let challenge = random_hex(22);
        let login = serde_json::json!({ "provider": id.login_provider });
        match &self.db {
            Db::Sqlite { reader, writer, .. } => {
                let (flow, now_s) = (flow_id.to_string(), ts(now));
                // /authorize: `create_flow`.
                sqlx::query(
                    "INSERT INTO flow_state (id, provider_type, referrer, code_challenge, \
                     code_challenge_method, authentication_method, linking_target_id, user_id, \
                     created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&flow)
                .bind("wechat_qr")
                .bind(QR_REDIRECT_TO)
                .bind(&challenge)
                .bind("s256")
                .bind("oauth")
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(&now_s)
                .bind(&now_s)
                .execute(writer)
                .await?;
                // /callback: `flow_by_id`, `identity_by_provider`, `change_user` (the
                // identity's profile in it), `complete_flow`.
                sqlx::query(&format!(
                    "SELECT {SQLITE_FLOW_COLUMNS} FROM flow_state WHERE id = ?"
                ))
                .bind(&flow)
                .fetch_optional(reader)
                .await?
                .context("flow not found")?;
                sqlx::query(&format!(
                    "SELECT {SQLITE_IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_id = ?"
                ))
                .bind("wechat_qr")
                .bind(&id.provider_id)
                .fetch_optional(reader)
                .await?
                .context("identity not found")?;
                sqlite_change_user(writer, id, &now_s).await?;
                let completed = sqlx::query(
                    "UPDATE flow_state SET user_id = ?, auth_code = ?, auth_code_issued_at = ?, \
                     provider_access_token = ?, provider_refresh_token = ?, \
                     provider_code_hash = ?, updated_at = ? \
                     WHERE id = ? AND auth_code_issued_at IS NULL",
                )
                .bind(&id.user_id)
                .bind(&auth_code)
                .bind(&now_s)
                .bind(random_hex(16))
                .bind(random_hex(16))
                .bind(random_hex(32))
                .bind(&now_s)
                .bind(&flow)
                .execute(writer)
                .await?;
                anyhow::ensure!(completed.rows_affected() == 1, "the flow was not completed");
                // grant_type=pkce: `flow_by_auth_code`, `delete_flow`, `user_by_id`, then
                // `start_session`: `create_session` with the login entry, `identities_of`.
                sqlx::query(&format!(
                    "SELECT {SQLITE_FLOW_COLUMNS} FROM flow_state WHERE auth_code = ?"
                ))
                .bind(&auth_code)
                .fetch_optional(reader)
                .await?
                .context("flow by code not found")?;
                let deleted = sqlx::query("DELETE FROM flow_state WHERE id = ?")
                    .bind(&flow)
                    .execute(writer)
                    .await?;
                anyhow::ensure!(deleted.rows_affected() == 1, "the flow was not deleted");
                sqlite_user_by_id(reader, &id.user_id).await?;
                sqlite_create_session(writer, &id.user_id, "oauth", login).await?;
                sqlite_identities_of(reader, &id.user_id).await?;
            }
            Db::Postgres(pool) => {
                let user_id = Uuid::parse_str(&id.user_id)?;
                // /authorize: `create_flow`.
                sqlx::query(
                    "INSERT INTO auth.flow_state (id, provider_type, referrer, code_challenge, code_challenge_method, \
                     authentication_method, linking_target_id, user_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5::auth.code_challenge_method, $6, $7, $8, $9, $9)",
                )
                .bind(flow_id)
                .bind("wechat_qr")
                .bind(QR_REDIRECT_TO)
                .bind(Some(&challenge))
                .bind(Some("s256"))
                .bind("oauth")
                .bind(None::<Uuid>)
                .bind(None::<Uuid>)
                .bind(now)
                .execute(pool)
                .await?;
                // /callback: `flow_by_id`, `identity_by_provider`, `change_user` (the
                // identity's profile in it), `complete_flow`.
                sqlx::query(&format!(
                    "SELECT {PG_FLOW_COLUMNS} FROM auth.flow_state WHERE id = $1"
                ))
                .bind(flow_id)
                .fetch_optional(pool)
                .await?
                .context("flow not found")?;
                sqlx::query(&format!(
                    "SELECT {PG_IDENTITY_COLUMNS} FROM auth.identities \
                     WHERE provider = $1 AND provider_id = $2"
                ))
                .bind("wechat_qr")
                .bind(&id.provider_id)
                .fetch_optional(pool)
                .await?
                .context("identity not found")?;
                pg_change_user(pool, id, user_id, now).await?;
                let completed = sqlx::query(
                    "UPDATE auth.flow_state SET user_id = $1, auth_code = $2, auth_code_issued_at = $3, \
                     provider_access_token = $4, provider_refresh_token = $5, provider_code_hash = $6, updated_at = $3 \
                     WHERE id = $7 AND auth_code_issued_at IS NULL",
                )
                .bind(user_id)
                .bind(&auth_code)
                .bind(now)
                .bind(random_hex(16))
                .bind(random_hex(16))
                .bind(random_hex(32))
                .bind(flow_id)
                .execute(pool)
                .await?;
                anyhow::ensure!(completed.rows_affected() == 1, "the flow was not completed");
                // grant_type=pkce: `flow_by_auth_code`, `delete_flow`, `user_by_id`, then
                // `start_session`: `create_session` with the login entry, `identities_of`.
                sqlx::query(&format!(
                    "SELECT {PG_FLOW_COLUMNS} FROM auth.flow_state WHERE auth_code = $1"
                ))
                .bind(&auth_code)
                .fetch_optional(pool)
                .await?
                .context("flow by code not found")?;
                let deleted = sqlx::query("DELETE FROM auth.flow_state WHERE id = $1")
                    .bind(flow_id)
                    .execute(pool)
                    .await?;
                anyhow::ensure!(deleted.rows_affected() == 1, "the flow was not deleted");
                pg_user_by_id(pool, user_id).await?;
                pg_create_session(pool, user_id, "oauth", login).await?;
                pg_identities_of(pool, user_id).await?;
            }
        }
        Ok(())
    }
}

/// The bare hash cost: bcrypt verification (cost 10) on tokio's blocking pool, as saoma
/// runs it.
pub struct BcryptVerify {
    hash: std::sync::Arc<String>,
}

pub fn bcrypt_jobs(concurrency: usize, password: &str) -> anyhow::Result<Vec<BcryptVerify>> {
    let hash = std::sync::Arc::new(bcrypt::hash(password, 10)?);
    Ok((0..concurrency)
        .map(|_| BcryptVerify { hash: hash.clone() })
        .collect())
}

impl Job for BcryptVerify {
    async fn run(&mut self) -> anyhow::Result<()> {
        let hash = self.hash.clone();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(crate::PASSWORD, &hash)).await??;
        anyhow::ensure!(ok, "bcrypt verification failed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saoma::store::{Housekeeping, PostgresStore, SqliteStore};

    const LOGINS: i64 = 3;

    /// The column names of a list (`expr AS name` by its name).
    fn names(columns: &str) -> std::collections::BTreeSet<&str> {
        columns
            .split(',')
            .map(|column| column.rsplit(" AS ").next().unwrap_or(column).trim())
            .collect()
    }

    /// Both of saoma's stores read the same columns of a user, an identity and a flow: the
    /// Postgres copies above name exactly the columns of saoma's exported SQLite lists.
    #[test]
    fn postgres_column_lists_name_saomas_columns() {
        assert_eq!(names(PG_USER_COLUMNS), names(SQLITE_USER_COLUMNS));
        assert_eq!(names(PG_IDENTITY_COLUMNS), names(SQLITE_IDENTITY_COLUMNS));
        assert_eq!(names(PG_FLOW_COLUMNS), names(SQLITE_FLOW_COLUMNS));
    }

    #[test]
    fn a_login_names_the_users_provider_else_oauth() {
        let meta = r#"{"provider":"wechat_qr","providers":["wechat_qr"]}"#;
        assert_eq!(login_provider(Some(meta)), "wechat_qr");
        assert_eq!(login_provider(Some("{}")), "oauth");
        assert_eq!(login_provider(None), "oauth");
    }

    /// Runs [`LOGINS`] QR logins of the database's WeChat user.
    async fn log_in(db: &Db) -> anyhow::Result<()> {
        let mut jobs = qr_jobs(db, 1).await?;
        for _ in 0..LOGINS {
            jobs[0].run().await?;
        }
        Ok(())
    }

    /// The sign-in and refresh floors, which share the QR floor's helpers, on the same user
    /// (it has an email address and, after [`log_in`], sessions).
    async fn sign_in_and_refresh(db: &Db) -> anyhow::Result<()> {
        sign_in_jobs(db, 1).await?[0].run().await?;
        let mut refresh = refresh_jobs(db, 1).await?;
        refresh[0].run().await?;
        refresh[0].run().await?;
        Ok(())
    }

    /// The QR floor runs on saoma's own SQLite schema: each login completes its flow (the
    /// guarded update matched), the exchange deletes it, and each leaves a session with one
    /// AMR claim and a `login` entry naming the user's provider. The sign-in and refresh
    /// floors then run on the same user.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn qr_login_floor_runs_on_saomas_sqlite_schema() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("saoma.db").display().to_string();
        SqliteStore::open(&path, false).await?.migrate().await?;
        let db = Db::open(&path).await?;
        let Db::Sqlite { reader, writer, .. } = &db else {
            anyhow::bail!("not SQLite");
        };
        let (user_id, now) = (Uuid::new_v4().to_string(), ts(Utc::now()));
        sqlx::query(
            "INSERT INTO users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, \
             created_at, updated_at) \
             VALUES (?, 'authenticated', 'authenticated', 'qr@bench.example.com', ?, '{}', ?, ?)",
        )
        .bind(&user_id)
        .bind(r#"{"provider":"wechat_qr","providers":["wechat_qr"]}"#)
        .bind(&now)
        .bind(&now)
        .execute(writer)
        .await?;
        sqlx::query(
            "INSERT INTO identities (id, provider_id, provider, user_id, identity_data, \
             created_at, updated_at) VALUES (?, 'o-bench', 'wechat_qr', ?, ?, ?, ?)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(&user_id)
        .bind(r#"{"sub":"o-bench","nickname":"扫码"}"#)
        .bind(&now)
        .bind(&now)
        .execute(writer)
        .await?;

        log_in(&db).await?;

        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql).fetch_one(reader).await
        };
        assert_eq!(count("SELECT count(*) FROM flow_state").await?, 0);
        assert_eq!(count("SELECT count(*) FROM sessions").await?, LOGINS);
        assert_eq!(count("SELECT count(*) FROM refresh_tokens").await?, LOGINS);
        assert_eq!(
            count("SELECT count(*) FROM mfa_amr_claims WHERE authentication_method = 'oauth'")
                .await?,
            LOGINS
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM audit_log_entries \
                 WHERE json_extract(payload, '$.action') = 'login' \
                 AND json_extract(payload, '$.traits.provider') = 'wechat_qr'"
            )
            .await?,
            LOGINS
        );
        // `change_user` wrote the row back as read: GoTrue's `''` for no pending change.
        assert_eq!(
            count(
                "SELECT count(*) FROM users WHERE phone_change = '' AND email_change = '' \
                 AND last_sign_in_at IS NOT NULL AND updated_at > created_at"
            )
            .await?,
            1
        );
        sign_in_and_refresh(&db).await?;
        assert_eq!(count("SELECT count(*) FROM sessions").await?, LOGINS + 1);
        db.close().await;
        Ok(())
    }

    /// The same on saoma's Postgres schema, in a database of its own on the server
    /// `SAOMA_TEST_PG_URL` names (skipped without it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn qr_login_floor_runs_on_saomas_postgres_schema() -> anyhow::Result<()> {
        let Some(admin_url) = std::env::var("SAOMA_TEST_PG_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres QR floor check");
            return Ok(());
        };
        let name = format!("saoma_bench_test_{}", Uuid::new_v4().simple());
        let admin = PgPool::connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&name);
        let checked = pg_qr_logins(url.as_str()).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        checked
    }

    async fn pg_qr_logins(url: &str) -> anyhow::Result<()> {
        PostgresStore::connect(url).await?.migrate().await?;
        let db = Db::open(url).await?;
        let Db::Postgres(pool) = &db else {
            anyhow::bail!("not Postgres");
        };
        let user_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, raw_app_meta_data, \
             raw_user_meta_data, created_at, updated_at) \
             VALUES ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', \
             'authenticated', 'qr@bench.example.com', $2, '{}', now(), now())",
        )
        .bind(user_id)
        .bind(serde_json::json!({ "provider": "wechat_qr", "providers": ["wechat_qr"] }))
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO auth.identities (id, provider_id, provider, user_id, identity_data, \
             created_at, updated_at) VALUES ($1, 'o-bench', 'wechat_qr', $2, $3, now(), now())",
        )
        .bind(Uuid::new_v4())
        .bind(user_id)
        .bind(serde_json::json!({ "sub": "o-bench", "nickname": "扫码" }))
        .execute(pool)
        .await?;

        log_in(&db).await?;

        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await
        };
        assert_eq!(count("SELECT count(*) FROM auth.flow_state").await?, 0);
        assert_eq!(count("SELECT count(*) FROM auth.sessions").await?, LOGINS);
        assert_eq!(
            count("SELECT count(*) FROM auth.refresh_tokens").await?,
            LOGINS
        );
        assert_eq!(
            count("SELECT count(*) FROM auth.mfa_amr_claims WHERE authentication_method = 'oauth'")
                .await?,
            LOGINS
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM auth.audit_log_entries \
                 WHERE payload ->> 'action' = 'login' \
                 AND payload -> 'traits' ->> 'provider' = 'wechat_qr'"
            )
            .await?,
            LOGINS
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM auth.users WHERE phone_change = '' AND email_change = '' \
                 AND last_sign_in_at IS NOT NULL AND updated_at > created_at"
            )
            .await?,
            1
        );
        sign_in_and_refresh(&db).await?;
        assert_eq!(
            count("SELECT count(*) FROM auth.sessions").await?,
            LOGINS + 1
        );
        db.close().await;
        Ok(())
    }
}
