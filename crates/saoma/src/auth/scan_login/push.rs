//! The 公众号's pushes for `wechat_mp_qr`: WeChat's URL check and the events that confirm a
//! ticket as the follower WeChat names.

use super::{confirm, scan_provider};
use crate::{
    auth::{AuthError, AuthResult},
    providers::wechat::push::{self, PushError, PushKeys, PushQuery},
    state::AppState,
};

/// WeChat's check of the 公众号's server URL: the `echostr` to echo.
pub fn verify_push_url(state: &AppState, query: &PushQuery) -> AuthResult<String> {
    push::check_fresh(query, state.clock.now().timestamp()).map_err(push_refusal)?;
    push::verify_url(push_keys(state)?, query).map_err(push_refusal)
}

/// A 公众号 push: a scan of a login code (a new follower's `subscribe`, a follower's `SCAN`)
/// confirms its ticket as the openid WeChat signed. Anything else is acknowledged and ignored,
/// and so is a push for a ticket that is finished, expired or unknown: answering anything but
/// `success` would only make WeChat retry it.
pub async fn pushed(state: &AppState, query: &PushQuery, body: &[u8]) -> AuthResult<()> {
    let keys = push_keys(state)?;
    push::check_fresh(query, state.clock.now().timestamp()).map_err(push_refusal)?;
    let event = push::open(keys, query, body).map_err(push_refusal)?;
    let Some(scene) = event.scanned_scene() else {
        return Ok(());
    };
    match confirm(state, MP_QR, scene, &event.openid).await {
        Ok(()) => Ok(()),
        Err(
            AuthError::ScanTicketNotFound
            | AuthError::ScanTicketExpired
            | AuthError::ScanTicketFinished,
        ) => {
            tracing::info!(dedupe = %event.dedupe_key(), "push for a finished or unknown login code ignored");
            Ok(())
        }
        Err(err) => Err(err),
    }
}

const MP_QR: &str = "wechat_mp_qr";

fn push_keys(state: &AppState) -> AuthResult<&PushKeys> {
    scan_provider(state, MP_QR)?
        .push_keys()
        .ok_or_else(|| AuthError::ProviderDisabled(MP_QR.to_owned()))
}

/// A push that is not WeChat's (bad signature, another app) or cannot be read.
fn push_refusal(err: PushError) -> AuthError {
    match err {
        PushError::BadSignature => AuthError::PushRefused("Invalid signature"),
        PushError::NotOurApp => AuthError::PushRefused("The message is for another app"),
        PushError::PlainInSafeMode => {
            AuthError::PushRefused("A plain message, while this account is in safe mode")
        }
        PushError::Stale => AuthError::PushRefused("The message's timestamp is too old"),
        PushError::TooLarge => AuthError::validation("The message is too large"),
        PushError::Malformed(reason) => {
            AuthError::validation(format!("The message cannot be read: {reason}"))
        }
    }
}
