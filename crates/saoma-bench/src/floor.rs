//! The HTTP floors: an empty handler in saoma's HTTP stack (axum 0.8 on hyper, tokio's
//! multi-threaded runtime as `#[tokio::main]` sets it up), and the same plus one HS256
//! verification with jsonwebtoken 9 into saoma's claims shape. Run as its own process
//! (`saoma-bench floor-server`), like saoma.

use std::sync::{Arc, Mutex};

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    routing::get,
    Router,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::dbfloor::Db;

/// saoma's own access-token claims, so the floor decodes exactly what saoma decodes.
pub use saoma::jwt::Claims;

struct Keys {
    decoding: DecodingKey,
    validation: Validation,
    /// For the composite floor, `/user`: saoma's pools on saoma's database.
    db: Option<Db>,
    /// For `/user-inline` (SQLite only): rusqlite connections used on the tokio worker
    /// itself, no thread hop, the same pragmas.
    inline: Option<Mutex<Vec<rusqlite::Connection>>>,
    sqlite_path: Option<String>,
}

const INLINE_USER: &str = "SELECT id, aud, role, email, encrypted_password, email_confirmed_at, \
    confirmation_sent_at, phone, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, \
    raw_user_meta_data, banned_until, is_anonymous, created_at, updated_at \
    FROM users WHERE id = ?1 AND deleted_at IS NULL";
const INLINE_SESSION: &str = "SELECT id, user_id, aal, not_after, refreshed_at, user_agent, ip, \
    created_at, updated_at, (SELECT authentication_method FROM mfa_amr_claims a \
    WHERE a.session_id = sessions.id ORDER BY a.created_at LIMIT 1) AS amr_method \
    FROM sessions WHERE id = ?1";
const INLINE_IDENTITIES: &str = "SELECT id, provider_id, provider, user_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at FROM identities WHERE user_id = ?1 \
    ORDER BY created_at, id";

fn open_inline(path: &str) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Runs `GET /user`'s three SELECTs on `conn`, reading every column of every row.
fn inline_statements(
    conn: &rusqlite::Connection,
    user_id: &str,
    session_id: &str,
) -> rusqlite::Result<usize> {
    let mut read = 0;
    for (sql, key) in [
        (INLINE_USER, user_id),
        (INLINE_SESSION, session_id),
        (INLINE_IDENTITIES, user_id),
    ] {
        let mut statement = conn.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query([key])?;
        while let Some(row) = rows.next()? {
            for i in 0..columns {
                if let rusqlite::types::ValueRef::Text(t) = row.get_ref(i)? {
                    read += t.len();
                }
            }
        }
    }
    Ok(read)
}

/// Serves the floors on 127.0.0.1:`port` until killed; with `database`, also `/user`: the
/// JWT check plus `GET /user`'s statements through sqlx and a small JSON answer, nothing else
/// (no middleware, no row decoding): the composite floor.
pub async fn serve(port: u16, secret: &str, database: Option<&str>) -> anyhow::Result<()> {
    let db = match database {
        Some(url) => Some(Db::open(url).await?),
        None => None,
    };
    let sqlite_path = database
        .filter(|url| !url.starts_with("postgres"))
        .map(str::to_owned);
    let inline = sqlite_path.as_ref().map(|_| Mutex::new(Vec::new()));
    let mut validation = Validation::new(Algorithm::HS256);
    // As saoma: expiry checked against the clock by hand, no audience check.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let keys = Arc::new(Keys {
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        db,
        inline,
        sqlite_path,
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/empty", get(|| async {}))
        .route("/jwt", get(jwt))
        .route("/user", get(user))
        .route("/user-inline", get(user_inline))
        .with_state(keys);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

fn verify(keys: &Keys, headers: &HeaderMap) -> Option<Claims> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) {
        Ok(data) if data.claims.exp > chrono::Utc::now().timestamp() => Some(data.claims),
        _ => None,
    }
}

async fn jwt(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> StatusCode {
    match verify(&keys, &headers) {
        Some(_) => StatusCode::OK,
        None => StatusCode::UNAUTHORIZED,
    }
}

async fn user(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> (StatusCode, String) {
    let Some(claims) = verify(&keys, &headers) else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let (Some(db), Some(sub), Some(session)) = (&keys.db, &claims.sub, &claims.session_id) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    match crate::dbfloor::get_user_statements(db, sub, session).await {
        Ok(()) => (StatusCode::OK, format!("{{\"id\":\"{sub}\"}}")),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")),
    }
}

/// `/user` with the statements run by rusqlite on the tokio worker thread itself: what
/// saoma's SQLite reads cost without sqlx's worker-thread hop per statement.
async fn user_inline(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> (StatusCode, String) {
    let Some(claims) = verify(&keys, &headers) else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let (Some(pool), Some(path), Some(sub), Some(session)) = (
        &keys.inline,
        &keys.sqlite_path,
        &claims.sub,
        &claims.session_id,
    ) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let taken = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let conn = match taken {
        Some(conn) => conn,
        None => match open_inline(path) {
            Ok(conn) => conn,
            Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
        },
    };
    let outcome = inline_statements(&conn, sub, session);
    pool.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    match outcome {
        Ok(_) => (StatusCode::OK, format!("{{\"id\":\"{sub}\"}}")),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}
