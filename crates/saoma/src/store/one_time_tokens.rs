//! One-time codes: GoTrue's `one_time_tokens` rows, with saoma's count of wrong guesses kept
//! in a table of its own beside them (GoTrue's schema has no place for it).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::one_time_token::{OneTimeToken, TokenType};

#[async_trait]
pub trait OneTimeTokenStore: Send + Sync {
    /// Stores `token`, replacing the user's code of the same kind (and its wrong guesses) in
    /// one transaction: a user has at most one live code per kind, as in GoTrue.
    async fn issue_one_time_token(&self, token: &OneTimeToken) -> StoreResult<()> {
        self.issue_one_time_token_unless_sent_after(token, token.created_at)
            .await
            .map(|_| ())
    }
    /// [`OneTimeTokenStore::issue_one_time_token`], unless the user's code of the same kind
    /// was issued after `not_before` (the resend interval): `false` then, and nothing is
    /// written. Decided under a lock, so of concurrent requests for one user and kind exactly
    /// one issues (and one text message goes out).
    async fn issue_one_time_token_unless_sent_after(
        &self,
        token: &OneTimeToken,
        not_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The user's code of `token_type`, if any.
    async fn one_time_token_of(
        &self,
        user_id: Uuid,
        token_type: TokenType,
    ) -> StoreResult<Option<OneTimeToken>>;
    /// Every code of the given kinds sent to `relates_to` (a phone number), oldest first.
    async fn one_time_tokens_for(
        &self,
        relates_to: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>>;
    /// The codes of the given kinds whose hash is `token_hash` (an emailed link carries the
    /// hash, not the code).
    async fn one_time_tokens_by_hash(
        &self,
        token_hash: &str,
        types: &[TokenType],
    ) -> StoreResult<Vec<OneTimeToken>>;
    /// Deletes the code `id` if it still has `token_hash`; `true` for exactly one caller
    /// however many present the same code at once.
    async fn consume_one_time_token(&self, id: Uuid, token_hash: &str) -> StoreResult<bool>;
    /// Counts a guess at code `id` if it has had fewer than `max_guesses`: `true` when this
    /// guess may be checked, `false` when the code is dead or gone. Counting before checking
    /// holds the limit for guesses that arrive at once. A dead code is kept until it expires,
    /// so that its send time still counts for the resend interval; it must never match again.
    async fn take_guess(&self, id: Uuid, max_guesses: u32) -> StoreResult<bool>;
}
