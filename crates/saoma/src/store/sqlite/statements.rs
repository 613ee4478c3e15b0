//! Statements on a rusqlite connection, prepared once per connection (the group writer's and
//! the inline readers'): every write of the store and the reads that run beside it.

use rusqlite::{Connection, Params, Row};

use crate::store::{StoreError, StoreResult};

/// Runs `sql`; the rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Runs `sql`; a unique key it would break is `Conflict(what)`, not a failure.
pub(super) fn execute_unique(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: &'static str,
) -> StoreResult<usize> {
    match conn.prepare_cached(sql)?.execute(params) {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(what)),
        other => Ok(other?),
    }
}

/// The first row of `sql`, decoded.
pub(super) fn optional<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Every row of `sql`, decoded.
pub(super) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next()? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// A UNIQUE or PRIMARY KEY constraint refused the row.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
