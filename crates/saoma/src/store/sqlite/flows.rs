use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{params_from_iter, types::Value};
use uuid::Uuid;

use super::{
    columns::FLOW_COLUMNS,
    decode::{flow_from_row, opt_ts, ts},
    statements::{execute, optional},
    SqliteStore,
};
use crate::domain::flow::FlowState;
use crate::store::{FlowStore, StoreResult};

static FLOW_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {FLOW_COLUMNS} FROM flow_state WHERE id = ?"));
static FLOW_BY_AUTH_CODE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {FLOW_COLUMNS} FROM flow_state WHERE auth_code = ?"));

#[async_trait]
impl FlowStore for SqliteStore {
    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()> {
        let values: [Value; 10] = [
            flow.id.to_string().into(),
            flow.provider_type.clone().into(),
            flow.redirect_to.clone().into(),
            flow.challenge.as_ref().map(|c| c.value.clone()).into(),
            flow.challenge
                .as_ref()
                .map(|c| c.method.as_str().to_owned())
                .into(),
            flow.authentication_method.clone().into(),
            flow.linking_target_id.map(|id| id.to_string()).into(),
            flow.user_id.map(|id| id.to_string()).into(),
            ts(flow.created_at).into(),
            ts(flow.created_at).into(),
        ];
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO flow_state (id, provider_type, referrer, code_challenge, \
                     code_challenge_method, authentication_method, linking_target_id, user_id, \
                     created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params_from_iter(values),
                )?;
                Ok(())
            })
            .await
    }

    /// On the request's thread, as the other point lookups of a login (`user_by_id`):
    /// sqlx's hand-off to a connection thread and back cost more than the lookup.
    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>> {
        self.inline.read(|conn| {
            optional(conn, &FLOW_BY_ID, [id.to_string()], |row| {
                flow_from_row(row)
            })
        })
    }

    async fn pending_flow_of(
        &self,
        user_id: Uuid,
        authentication_method: &str,
    ) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flow_state WHERE user_id = ? \
             AND authentication_method = ? AND auth_code_issued_at IS NULL \
             ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(user_id.to_string())
        .bind(authentication_method)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    /// On the request's thread, as `flow_by_id` (`idx_auth_code`).
    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>> {
        self.inline.read(|conn| {
            optional(conn, &FLOW_BY_AUTH_CODE, [auth_code], |row| {
                flow_from_row(row)
            })
        })
    }

    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool> {
        let values: [Value; 8] = [
            flow.user_id.map(|id| id.to_string()).into(),
            flow.auth_code.clone().into(),
            opt_ts(flow.auth_code_issued_at).into(),
            flow.provider_access_token.clone().into(),
            flow.provider_refresh_token.clone().into(),
            flow.provider_code_hash.clone().into(),
            opt_ts(flow.auth_code_issued_at).into(),
            flow.id.to_string().into(),
        ];
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE flow_state SET user_id = ?, auth_code = ?, auth_code_issued_at = ?, \
                     provider_access_token = ?, provider_refresh_token = ?, \
                     provider_code_hash = ?, updated_at = ? \
                     WHERE id = ? AND auth_code_issued_at IS NULL",
                    params_from_iter(values),
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                Ok(execute(
                    conn,
                    "DELETE FROM flow_state WHERE id = ?",
                    [id.to_string()],
                )? == 1)
            })
            .await
    }
}
