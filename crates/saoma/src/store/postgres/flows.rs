use async_trait::async_trait;
use uuid::Uuid;

use super::{columns::FLOW_COLUMNS, decode::flow_from_row, PostgresStore};
use crate::domain::flow::FlowState;
use crate::store::{retry_read, FlowStore, StoreResult};

#[async_trait]
impl FlowStore for PostgresStore {
    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO auth.flow_state (id, provider_type, referrer, code_challenge, code_challenge_method, \
             authentication_method, linking_target_id, user_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5::auth.code_challenge_method, $6, $7, $8, $9, $9)",
        )
        .bind(flow.id)
        .bind(&flow.provider_type)
        .bind(&flow.redirect_to)
        .bind(flow.challenge.as_ref().map(|c| c.value.clone()))
        .bind(flow.challenge.as_ref().map(|c| c.method.as_str()))
        .bind(&flow.authentication_method)
        .bind(flow.linking_target_id)
        .bind(flow.user_id)
        .bind(flow.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>> {
        let row = retry_read(|| async {
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

    async fn pending_flow_of(
        &self,
        user_id: Uuid,
        authentication_method: &str,
    ) -> StoreResult<Option<FlowState>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {FLOW_COLUMNS} FROM auth.flow_state WHERE user_id = $1 \
                 AND authentication_method = $2 AND auth_code_issued_at IS NULL \
                 ORDER BY created_at DESC LIMIT 1"
            ))
            .bind(user_id)
            .bind(authentication_method)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>> {
        let row = retry_read(|| async {
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
}
