//! `grant_type=pkce` (`exchangeCodeForSession`): the auth code from the callback redirect
//! plus the verifier the client kept, once. A link flow's identity is attached only here,
//! by the client that proves it started the link.

use serde_json::{json, Value};

use crate::{
    auth::{external, external::PendingLink, sign_in, AuthError, AuthResult, Client},
    domain::flow::check_verifier,
    state::AppState,
};

pub async fn exchange(
    state: &AppState,
    client: &Client,
    auth_code: &str,
    verifier: &str,
) -> AuthResult<Value> {
    if auth_code.is_empty() || verifier.is_empty() {
        return Err(AuthError::validation(
            "invalid request: both auth code and code verifier should be non-empty",
        ));
    }
    check_verifier(verifier).map_err(AuthError::validation)?;
    let flow = state
        .store
        .flow_by_auth_code(auth_code)
        .await?
        .ok_or(AuthError::FlowStateNotFound)?;
    if flow.auth_code_expired(state.clock.now()) {
        return Err(AuthError::FlowStateExpired);
    }
    let verified = flow
        .challenge
        .as_ref()
        .is_some_and(|challenge| challenge.verify(verifier));
    if !verified {
        return Err(AuthError::BadCodeVerifier);
    }
    // Deleting is the single-use check: of two concurrent exchanges only one deletes the row.
    if !state.store.delete_flow(flow.id).await? {
        return Err(AuthError::FlowStateNotFound);
    }
    // A link flow's session is the link target's, as in GoTrue.
    let user_id = flow
        .linking_target_id
        .or(flow.user_id)
        .ok_or(AuthError::FlowStateNotFound)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AuthError::FlowStateNotFound)?;
    sign_in::allowed(state, &user)?;
    let (user, provider_token) = if flow.linking_target_id.is_some() {
        // The verifier proved this is the client that started the link: attach only now.
        let pending = PendingLink::decode(flow.provider_access_token.as_deref())?;
        let user =
            external::link_to(state, user, &flow.provider_type, &pending.profile, client).await?;
        (user, Some(pending.provider_token))
    } else {
        (user, flow.provider_access_token)
    };
    // An email link's flow signs in by its link's method (`magiclink`, `recovery`...), as
    // GoTrue records it; a provider's by `oauth`.
    let method = match flow.authentication_method.as_str() {
        "" | "oauth" => sign_in::OAUTH,
        link => link,
    };
    let mut session = sign_in::complete(state, &user, method, client).await?;
    if let Some(token) = provider_token {
        session["provider_token"] = json!(token);
    }
    if let Some(token) = flow.provider_refresh_token {
        session["provider_refresh_token"] = json!(token);
    }
    Ok(session)
}
