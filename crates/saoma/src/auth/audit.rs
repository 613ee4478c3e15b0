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
    let entry = entry(state, action, actor, traits, client);
    state.store.record_audit(&entry).await?;
    Ok(())
}

/// The entry for `action` by `actor` now, to write with the change it records (see
/// `UserChanges::audit`).
pub fn entry(
    state: &AppState,
    action: Action,
    actor: &User,
    traits: Value,
    client: &Client,
) -> AuditEntry {
    AuditEntry::new(action, actor, traits, &client.ip, state.clock.now())
}
