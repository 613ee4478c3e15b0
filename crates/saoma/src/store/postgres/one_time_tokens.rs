use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{columns::ONE_TIME_TOKEN_COLUMNS, decode::one_time_token_from_row, PostgresStore};
use crate::{
    domain::one_time_token::{OneTimeToken, TokenType},
    store::{retry_read, OneTimeTokenStore, StoreResult},
};

const FROM: &str = "FROM auth.one_time_tokens t \
    LEFT JOIN auth.saoma_one_time_token_guesses g ON g.token_id = t.id";

#[async_trait]
impl OneTimeTokenStore for PostgresStore {
    async fn issue_one_time_token_unless_sent_after(
        &self,
        token: &OneTimeToken,
        not_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // The user's row lock holds off a concurrent request for the user's codes until this
        // one commits (the code's own row is replaced, so it cannot be what is locked); the
        // read below then sees what that request wrote.
        sqlx::query("SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE")
            .bind(token.user_id)
            .execute(&mut *tx)
            .await?;
        let last: Option<chrono::NaiveDateTime> = sqlx::query_scalar(
            "SELECT created_at FROM auth.one_time_tokens \
             WHERE user_id = $1 AND token_type = $2::auth.one_time_token_type",
        )
        .bind(token.user_id)
        .bind(token.token_type.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if last.is_some_and(|at| at > not_before.naive_utc()) {
            return Ok(false);
        }
        // Deleting the old code takes its wrong guesses with it (ON DELETE CASCADE).
        sqlx::query(
            "DELETE FROM auth.one_time_tokens \
             WHERE user_id = $1 AND token_type = $2::auth.one_time_token_type",
        )
        .bind(token.user_id)
        .bind(token.token_type.as_str())
        .execute(&mut *tx)
        .await?;
        // `created_at` is GoTrue's `timestamp without time zone`, in UTC.
        let inserted = sqlx::query(
            "INSERT INTO auth.one_time_tokens \
             (id, user_id, token_type, token_hash, relates_to, created_at, updated_at) \
             VALUES ($1, $2, $3::auth.one_time_token_type, $4, $5, $6, $6) \
             ON CONFLICT DO NOTHING",
        )
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.token_type.as_str())
        .bind(&token.token_hash)
        .bind(&token.relates_to)
        .bind(token.created_at.naive_utc())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // A concurrent request issued the first code of this kind a moment ago.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn one_time_token_of(
        &self,
        user_id: Uuid,
        token_type: TokenType,
    ) -> StoreResult<Option<OneTimeToken>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {ONE_TIME_TOKEN_COLUMNS} {FROM} \
                 WHERE t.user_id = $1 AND t.token_type = $2::auth.one_time_token_type"
            ))
            .bind(user_id)
            .bind(token_type.as_str())
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(one_time_token_from_row).transpose()
    }

    async fn one_time_tokens_for(
        &self,
        relates_to: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        self.tokens_where(Matched::RelatesTo, relates_to, types)
            .await
    }

    async fn one_time_tokens_by_hash(
        &self,
        token_hash: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        self.tokens_where(Matched::TokenHash, token_hash, types)
            .await
    }

    async fn consume_one_time_token(&self, id: Uuid, token_hash: &str) -> StoreResult<bool> {
        let deleted =
            sqlx::query("DELETE FROM auth.one_time_tokens WHERE id = $1 AND token_hash = $2")
                .bind(id)
                .bind(token_hash)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted == 1)
    }

    async fn take_guess(&self, id: Uuid, max_guesses: u32) -> StoreResult<bool> {
        let counted: Result<Option<i32>, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO auth.saoma_one_time_token_guesses AS g (token_id, wrong_guesses) \
             SELECT id, 1 FROM auth.one_time_tokens WHERE id = $1 \
             ON CONFLICT (token_id) DO UPDATE SET wrong_guesses = g.wrong_guesses + 1 \
             WHERE g.wrong_guesses < $2 \
             RETURNING wrong_guesses",
        )
        .bind(id)
        .bind(i64::from(max_guesses))
        .fetch_optional(&self.pool)
        .await;
        match counted {
            Ok(counted) => Ok(counted.is_some()),
            // The code was consumed between this statement's read of it and its insert (a
            // concurrent right answer): there is nothing left to guess at.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}

/// The column a lookup of codes matches on (both are indexed).
#[derive(Clone, Copy)]
enum Matched {
    RelatesTo,
    TokenHash,
}

impl PostgresStore {
    /// The codes of `types` whose `column` is `value`, oldest first.
    async fn tokens_where(
        &self,
        column: Matched,
        value: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>> {
        let condition = match column {
            Matched::RelatesTo => "t.relates_to = $1",
            Matched::TokenHash => "t.token_hash = $1",
        };
        let kinds: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        let rows = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {ONE_TIME_TOKEN_COLUMNS} {FROM} \
                 WHERE {condition} AND t.token_type::text = ANY($2) \
                 ORDER BY t.created_at, t.id"
            ))
            .bind(value)
            .bind(&kinds)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        rows.iter().map(one_time_token_from_row).collect()
    }
}
