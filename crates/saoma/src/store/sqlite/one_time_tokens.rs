use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    columns::ONE_TIME_TOKEN_COLUMNS,
    decode::{one_time_token_from_row, ts},
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
        // The write lock (BEGIN IMMEDIATE) is held from the check to the commit.
        let mut tx = self.write_transaction().await?;
        let recent: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM one_time_tokens WHERE user_id = ? AND token_type = ? AND created_at > ?",
        )
        .bind(token.user_id.to_string())
        .bind(token.token_type.as_str())
        .bind(ts(not_before))
        .fetch_optional(&mut *tx)
        .await?;
        if recent.is_some() {
            return Ok(false);
        }
        // Deleting the old code takes its wrong guesses with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM one_time_tokens WHERE user_id = ? AND token_type = ?")
            .bind(token.user_id.to_string())
            .bind(token.token_type.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, user_id, token_type, token_hash, relates_to, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(token.token_type.as_str())
        .bind(&token.token_hash)
        .bind(&token.relates_to)
        .bind(ts(token.created_at))
        .bind(ts(token.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
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
        let deleted = sqlx::query("DELETE FROM one_time_tokens WHERE id = ? AND token_hash = ?")
            .bind(id.to_string())
            .bind(token_hash)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn take_guess(&self, id: Uuid, max_guesses: u32) -> StoreResult<bool> {
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO saoma_one_time_token_guesses (token_id, wrong_guesses) \
             SELECT id, 1 FROM one_time_tokens WHERE id = ?1 \
             ON CONFLICT (token_id) DO UPDATE SET wrong_guesses = wrong_guesses + 1 \
             WHERE wrong_guesses < ?2 \
             RETURNING wrong_guesses",
        )
        .bind(id.to_string())
        .bind(i64::from(max_guesses))
        .fetch_optional(&self.writer)
        .await?;
        Ok(counted.is_some())
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
