//! The browser side of an external sign-in: starting a flow (`/authorize`, and linking from
//! `/user/identities/authorize`) and finishing it when the provider calls back.
//!
//! Problems at the start are the app's own (bad provider, bad PKCE challenge): refusals the
//! handler answers as JSON. Problems after the provider was involved end in a redirect
//! carrying `error`, `error_code` and `error_description`, because a person is looking at the
//! browser; their values come from [`AuthError::wire`], the same table as every other answer.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::{
        external::{self, PendingLink},
        scan_login, sign_in, AuthError, AuthResult, Client,
    },
    domain::{
        flow::{hash_code, Challenge, FlowState, DUPLICATE_CALLBACK_WINDOW},
        redirect,
    },
    providers::{push_query, urlencode, ProviderError, ProviderTokens, ProviderUser},
    state::AppState,
};

/// Parameters `/authorize` understands; anything else goes on to the provider, except the
/// ones a caller must never be able to set (GoTrue's reserved list).
const OWN_PARAMS: &[&str] = &[
    "provider",
    "redirect_to",
    "scopes",
    "code_challenge",
    "code_challenge_method",
    "skip_http_redirect",
    "flow_type",
];
const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "redirect_uri",
    "response_type",
    "state",
    "code_verifier",
];

const LINK_NEEDS_PKCE: &str =
    "Linking an identity requires the PKCE flow: send code_challenge and code_challenge_method";

/// Starts a flow: validates the request, records the flow, and answers the provider's URL to
/// send the browser to. `linking_target` is the signed-in user who will receive the identity.
pub async fn start(
    state: &AppState,
    client: &Client,
    params: &[(String, String)],
    linking_target: Option<Uuid>,
) -> AuthResult<String> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let provider_name = param("provider").unwrap_or_default();
    // The provider decides whether this browser needs another one (inside WeChat a QR code
    // cannot be scanned: its 公众号 login takes over). A scan login has no provider page:
    // the browser waits on saoma's own.
    let redirect_provider = state
        .providers
        .for_browser(provider_name, client.user_agent.as_deref());
    let scan_provider = state.providers.scan_login(provider_name);
    let name = match (redirect_provider, scan_provider) {
        (Some(provider), _) => provider.name(),
        (None, Some(provider)) => provider.name(),
        (None, None) => {
            return Err(AuthError::validation(format!(
            "Unsupported provider: provider {provider_name:?} could not be found or is not enabled"
        )))
        }
    };
    // Linking by a scan would attach whoever scans (anyone shown the code, on a page the
    // account's owner controls) to that account: a scan login signs in only.
    if linking_target.is_some() && redirect_provider.is_none() {
        return Err(AuthError::validation(format!(
            "{name} signs in only: link a WeChat identity through wechat_qr, wechat_mp or the mini-program's bind_account"
        )));
    }
    let challenge = Challenge::parse(param("code_challenge"), param("code_challenge_method"))
        .map_err(AuthError::validation)?;
    // Without PKCE, whoever completes a link URL would get the target's session: the verifier
    // is what ties the link's completion to the client that started it.
    if linking_target.is_some() && challenge.is_none() {
        return Err(AuthError::validation(LINK_NEEDS_PKCE));
    }
    let config = &state.config;
    let redirect_to = redirect::resolve(
        param("redirect_to"),
        &config.site_url,
        &config.uri_allow_list,
    );
    let mut flow = FlowState::new(name, redirect_to, challenge, state.clock.now());
    flow.linking_target_id = linking_target;
    state.store.create_flow(&flow).await?;

    let extra: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| {
            !OWN_PARAMS.contains(&k.as_str()) && !RESERVED_PARAMS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    match redirect_provider {
        Some(provider) => Ok(provider.authorize_url(&flow.state_param(), param("scopes"), &extra)),
        None => Ok(scan_login::page_url(state, &flow)),
    }
}

/// What the provider sent back.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Where the browser goes after the provider called back: to the app, with an auth code, a
/// session in the fragment, or an error.
pub async fn callback(state: &AppState, client: &Client, params: &CallbackParams) -> String {
    let flow = match find_flow(state, params).await {
        Ok(flow) => flow,
        Err(err) => return error_location(&state.config.site_url, &err),
    };
    match finish(state, client, &flow, params).await {
        Ok(location) => location,
        Err(err) => error_location(&flow.redirect_to, &err),
    }
}

async fn find_flow(state: &AppState, params: &CallbackParams) -> AuthResult<FlowState> {
    let id = params
        .state
        .as_deref()
        .and_then(FlowState::parse_state)
        .ok_or(AuthError::BadOAuthState)?;
    let flow = state
        .store
        .flow_by_id(id)
        .await?
        .ok_or(AuthError::FlowStateNotFound)?;
    if flow.callback_expired(state.clock.now()) {
        return Err(AuthError::FlowStateExpired);
    }
    Ok(flow)
}

/// The provider called back for `flow`: sign the user in (or hold a link until its PKCE
/// exchange) and say where the browser goes next.
async fn finish(
    state: &AppState,
    client: &Client,
    flow: &FlowState,
    params: &CallbackParams,
) -> AuthResult<String> {
    if let Some(error) = params.error.as_deref().filter(|e| !e.is_empty()) {
        let description = params
            .error_description
            .clone()
            .unwrap_or_else(|| error.to_owned());
        let _ = state.store.delete_flow(flow.id).await;
        return Err(AuthError::ProviderRefused(description));
    }
    // WeChat reports a cancel as a callback with the state and no code.
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        let _ = state.store.delete_flow(flow.id).await;
        return Err(AuthError::LoginCancelled);
    };
    let now = state.clock.now();
    if flow.auth_code_issued_at.is_some() {
        return repeat(flow, code, now);
    }
    // A link flow started before linking required PKCE: never completed.
    if flow.linking_target_id.is_some() && flow.challenge.is_none() {
        let _ = state.store.delete_flow(flow.id).await;
        return Err(AuthError::validation(LINK_NEEDS_PKCE));
    }
    let (provider_tokens, profile) = exchange(state, flow, code).await?;
    let pkce = flow.challenge.is_some();
    let (user, provider_access_token, found) = match flow.linking_target_id {
        Some(target_id) => {
            let target = state
                .store
                .user_by_id(target_id)
                .await?
                .ok_or(AuthError::LinkTargetGone)?;
            // Attached only at the code exchange, by the client holding the verifier; refusing
            // a taken identity now tells the person in the browser at once.
            external::linkable(state, &target, &flow.provider_type, &profile).await?;
            let pending = PendingLink {
                provider_token: provider_tokens.access_token.clone(),
                profile,
            };
            (target, pending.encode()?, None)
        }
        None => {
            // The implicit flow signs in here: a new account is stored with its session in
            // one transaction. A PKCE flow's session waits for the code exchange.
            let sign_in = (!pkce).then_some(sign_in::OAUTH);
            let found =
                external::user_for(state, &flow.provider_type, &profile, client, sign_in).await?;
            let token = provider_tokens.access_token.clone();
            (found.user.clone(), token, Some(found))
        }
    };
    sign_in::allowed(state, &user)?;
    let completed = FlowState {
        user_id: Some(user.id),
        auth_code: pkce.then(|| Uuid::new_v4().to_string()),
        auth_code_issued_at: Some(now),
        // A scan login has no provider token to hand on.
        provider_access_token: Some(provider_access_token).filter(|t| !t.is_empty()),
        provider_refresh_token: provider_tokens.refresh_token.clone(),
        provider_code_hash: Some(hash_code(code)),
        ..flow.clone()
    };
    if !state.store.complete_flow(&completed).await? {
        // A concurrent duplicate callback completed it first; answer as that one did.
        let current = state
            .store
            .flow_by_id(flow.id)
            .await?
            .ok_or(AuthError::FlowStateNotFound)?;
        return repeat(&current, code, now);
    }
    match (&completed.auth_code, found) {
        (Some(auth_code), _) => Ok(with_query(&flow.redirect_to, &[("code", auth_code)])),
        (None, Some(found)) => {
            let session = sign_in::complete_external(state, &found, client).await?;
            Ok(implicit_location(&completed, &session))
        }
        // Links always use PKCE (checked above).
        (None, None) => Err(AuthError::internal("implicit link flow")),
    }
}

/// The callback's code → the provider's tokens and the person: from the provider, or from
/// saoma's own ticket for a scan login.
async fn exchange(
    state: &AppState,
    flow: &FlowState,
    code: &str,
) -> AuthResult<(ProviderTokens, ProviderUser)> {
    if state.providers.scan_login(&flow.provider_type).is_some() {
        let person = scan_login::redeem(state, flow, code).await?;
        let no_tokens = ProviderTokens {
            access_token: String::new(),
            refresh_token: None,
        };
        return Ok((no_tokens, person));
    }
    let provider = state
        .providers
        .get(&flow.provider_type)
        .ok_or_else(|| AuthError::ProviderDisabled(flow.provider_type.clone()))?;
    provider.exchange(code).await.map_err(|err| match err {
        ProviderError::InvalidCode(message) => AuthError::BadOAuthCallback(message),
        other => AuthError::Provider(other),
    })
}

/// A second callback for a flow that already finished. WeChat's duplicate redirect (same code,
/// soon after) must not break the login that succeeded, but must not mint anything either:
/// a PKCE flow gets the same auth code again (worthless without the verifier); an implicit
/// flow gets the bare redirect target, because its session went out once, in the first
/// redirect's fragment, and anyone who replays the callback URL (proxy logs, history) must not
/// get another. No error goes in that redirect: supabase-js drops the session it stored from
/// the first redirect when it sees one. Anything else (another code, later) is refused.
fn repeat(flow: &FlowState, code: &str, now: DateTime<Utc>) -> AuthResult<String> {
    let same_code = flow.provider_code_hash.as_deref() == Some(hash_code(code).as_str());
    let recent = flow
        .auth_code_issued_at
        .is_some_and(|at| now <= at + DUPLICATE_CALLBACK_WINDOW);
    if !(same_code && recent) {
        return Err(AuthError::FlowStateAlreadyUsed);
    }
    match &flow.auth_code {
        Some(auth_code) => Ok(with_query(&flow.redirect_to, &[("code", auth_code)])),
        None => Ok(flow.redirect_to.clone()),
    }
}

/// The implicit flow: the session travels in the redirect's fragment, never to a server.
fn implicit_location(flow: &FlowState, session: &Value) -> String {
    let mut extra = Vec::new();
    if let Some(token) = &flow.provider_access_token {
        extra.push(("provider_token", token.clone()));
    }
    if let Some(token) = &flow.provider_refresh_token {
        extra.push(("provider_refresh_token", token.clone()));
    }
    session_location(&flow.redirect_to, session, &extra)
}

/// `redirect_to` with `session` (a token response) and `extra` pairs in its fragment, which
/// replaces any fragment it had.
pub(crate) fn session_location(
    redirect_to: &str,
    session: &Value,
    extra: &[(&str, String)],
) -> String {
    let text = |key: &str| {
        session[key]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| session[key].to_string())
    };
    let mut pairs = vec![
        ("access_token", text("access_token")),
        ("expires_at", text("expires_at")),
        ("expires_in", text("expires_in")),
        ("refresh_token", text("refresh_token")),
        ("token_type", "bearer".to_owned()),
    ];
    pairs.extend(extra.iter().cloned());
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_fragment(redirect_to, &pairs)
}

/// `url` with `pairs` as its fragment (replacing any it had).
pub(crate) fn with_fragment(url: &str, pairs: &[(&str, &str)]) -> String {
    let base = url.split('#').next().unwrap_or_default();
    let fragment: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    format!("{base}#{}", fragment.join("&"))
}

/// The `error`, `error_code` and `error_description` a redirect carries for `err` (its row
/// of [`AuthError::wire`]). Faults are logged here: the browser is told only their kind.
pub(crate) fn error_pairs(err: &AuthError) -> [(&'static str, String); 3] {
    let wire = err.wire();
    if let Some(detail) = err.log_detail() {
        tracing::error!(code = wire.code, %detail, "browser flow failed");
    }
    [
        ("error", wire.oauth_error.to_owned()),
        ("error_code", wire.code.to_owned()),
        ("error_description", err.public_message().into_owned()),
    ]
}

/// The redirect that ends a browser login with `err`, to `to` (the app, or the site URL
/// when the flow is unknown).
fn error_location(to: &str, err: &AuthError) -> String {
    let pairs = error_pairs(err);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_query(to, &pairs)
}

/// Adds query parameters to `url`, keeping its existing query and fragment.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let mut out = base.to_owned();
    push_query(&mut out, pairs);
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_merging_keeps_existing_params_and_fragment() {
        assert_eq!(
            with_query("http://a/p", &[("code", "x y")]),
            "http://a/p?code=x%20y"
        );
        assert_eq!(
            with_query("http://a/p?sb_flow_id=1#top", &[("code", "c")]),
            "http://a/p?sb_flow_id=1&code=c#top"
        );
    }

    #[test]
    fn a_refusal_redirects_with_its_table_row() {
        let location = error_location("http://app/cb", &AuthError::LoginCancelled);
        assert_eq!(
            location,
            "http://app/cb?error=access_denied&error_code=access_denied&error_description=The%20user%20cancelled%20the%20login"
        );
        let fault = error_location("http://app/cb", &AuthError::internal("db at 10.0.0.1"));
        assert!(fault.contains("error=server_error&error_code=unexpected_failure"));
        assert!(!fault.contains("10.0.0.1"));
    }
}
