use async_trait::async_trait;
use uuid::Uuid;

use super::{
    columns::FLOW_COLUMNS,
    decode::{flow_from_row, opt_ts, ts},
    SqliteStore,
};
use crate::domain::flow::FlowState;
use crate::store::{FlowStore, StoreResult};

#[async_trait]
impl FlowStore for SqliteStore {
    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO flow_state (id, provider_type, referrer, code_challenge, code_challenge_method, \
             authentication_method, linking_target_id, user_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(flow.id.to_string())
        .bind(&flow.provider_type)
        .bind(&flow.redirect_to)
        .bind(flow.challenge.as_ref().map(|c| c.value.clone()))
        .bind(flow.challenge.as_ref().map(|c| c.method.as_str()))
        .bind(&flow.authentication_method)
        .bind(flow.linking_target_id.map(|id| id.to_string()))
        .bind(flow.user_id.map(|id| id.to_string()))
        .bind(ts(flow.created_at))
        .bind(ts(flow.created_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flow_state WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
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

    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flow_state WHERE auth_code = ?"
        ))
        .bind(auth_code)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE flow_state SET user_id = ?, auth_code = ?, auth_code_issued_at = ?, \
             provider_access_token = ?, provider_refresh_token = ?, provider_code_hash = ?, updated_at = ? \
             WHERE id = ? AND auth_code_issued_at IS NULL",
        )
        .bind(flow.user_id.map(|id| id.to_string()))
        .bind(&flow.auth_code)
        .bind(opt_ts(flow.auth_code_issued_at))
        .bind(&flow.provider_access_token)
        .bind(&flow.provider_refresh_token)
        .bind(&flow.provider_code_hash)
        .bind(opt_ts(flow.auth_code_issued_at))
        .bind(flow.id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM flow_state WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
