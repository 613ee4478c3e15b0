//! Writing the audit log from request handlers.

use serde_json::Value;

use crate::{
    auth::{AuthResult, Client},
    domain::{
        audit::{Action, AuditEntry},
        User,
    },
    state::AppState,
};

/// Records `action` by `actor`. Part of the request: if the log cannot be written, the
/// request fails rather than leaving an unrecorded login behind.
pub async fn record(
    state: &AppState,
    action: Action,
    actor: &User,
    traits: Value,
    client: &Client,
) -> AuthResult<()> {
    let entry = AuditEntry::new(action, actor, traits, &client.ip, state.clock.now());
    state.store.record_audit(&entry).await?;
    Ok(())
}
