use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, types::Value};
use uuid::Uuid;

use super::{
    columns::ONE_TIME_TOKEN_COLUMNS,
    decode::{one_time_token_from_row, ts},
    statements::{execute, optional},
    SqliteStore,
};
use crate::{
    domain::one_time_token::{OneTimeToken, TokenType},
    store::{OneTimeTokenStore, StoreResult},
};

const FROM: &str =
    "FROM one_time_tokens t LEFT JOIN saoma_one_time_token_guesses g ON g.token_id = t.id";

#[async_trait]
impl OneTimeTokenStore for SqliteStore {
    async fn issue_one_time_token_unless_sent_after(
        &self,
        token: &OneTimeToken,
        not_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user_id, token_type) = (token.user_id.to_string(), token.token_type.as_str());
        let values: [Value; 7] = [
            token.id.to_string().into(),
            user_id.clone().into(),
            token_type.to_owned().into(),
            token.token_hash.clone().into(),
            token.relates_to.clone().into(),
            ts(token.created_at).into(),
            ts(token.created_at).into(),
        ];
        let not_before = ts(not_before);
        // One write: nothing comes between the check and the insert.
        self.writer
            .write(move |conn| {
                let recent = optional(
                    conn,
                    "SELECT 1 FROM one_time_tokens WHERE user_id = ? AND token_type = ? \
                     AND created_at > ?",
                    rusqlite::params![user_id, token_type, not_before],
                    |_| Ok(()),
                )?;
                if recent.is_some() {
                    return Ok(false);
                }
                // Deleting the old code takes its wrong guesses with it (ON DELETE CASCADE).
                execute(
                    conn,
                    "DELETE FROM one_time_tokens WHERE user_id = ? AND token_type = ?",
                    rusqlite::params![user_id, token_type],
                )?;
                execute(
                    conn,
                    "INSERT INTO one_time_tokens \
                     (id, user_id, token_type, token_hash, relates_to, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                    params_from_iter(values),
                )?;
                Ok(true)
            })
            .await
    }

    async fn one_time_token_of(
        &self,
        user_id: Uuid,
        token_type: TokenType,
    ) -> StoreResult<Option<OneTimeToken>> {
        let row = sqlx::query(&format!(
            "SELECT {ONE_TIME_TOKEN_COLUMNS} {FROM} WHERE t.user_id = ? AND t.token_type = ?"
        ))
        .bind(user_id.to_string())
        .bind(token_type.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(one_time_token_from_row).transpose()
    }

    async fn one_time_tokens_for(
        &self,
        relates_to: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        self.tokens_where("t.relates_to = ?", relates_to, types)
            .await
    }

    async fn one_time_tokens_by_hash(
        &self,
        token_hash: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        self.tokens_where("t.token_hash = ?", token_hash, types)
            .await
    }

    async fn consume_one_time_token(&self, id: Uuid, token_hash: &str) -> StoreResult<bool> {
        let params = [id.to_string(), token_hash.to_owned()];
        self.writer
            .write(move |conn| {
                let deleted = execute(
                    conn,
                    "DELETE FROM one_time_tokens WHERE id = ? AND token_hash = ?",
                    params,
                )?;
                Ok(deleted == 1)
            })
            .await
    }

    async fn take_guess(&self, id: Uuid, max_guesses: u32) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                let counted = optional(
                    conn,
                    "INSERT INTO saoma_one_time_token_guesses (token_id, wrong_guesses) \
                     SELECT id, 1 FROM one_time_tokens WHERE id = ?1 \
                     ON CONFLICT (token_id) DO UPDATE SET wrong_guesses = wrong_guesses + 1 \
                     WHERE wrong_guesses < ?2 \
                     RETURNING wrong_guesses",
                    rusqlite::params![id.to_string(), i64::from(max_guesses)],
                    |_| Ok(()),
                )?;
                Ok(counted.is_some())
            })
            .await
    }
}

impl SqliteStore {
    /// The codes of `types` matching `condition` (one column, both indexed) on `value`, oldest
    /// first.
    async fn tokens_where(
        &self,
        condition: &'static str,
        value: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {ONE_TIME_TOKEN_COLUMNS} {FROM} WHERE {condition} ORDER BY t.created_at, t.id"
        ))
        .bind(value)
        .fetch_all(&self.reader)
        .await?;
        let tokens = rows
            .iter()
            .map(one_time_token_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(tokens
            .into_iter()
            .filter(|t| types.contains(&t.token_type))
            .collect())
    }
}
