//! `GET /authorize` and `GET|POST /callback`: the browser side of OAuth sign-in.
//!
//! Problems at `/authorize` (bad provider, bad PKCE challenge) are JSON 400s: the app's own
//! code made the request. Problems after the provider was involved end in a redirect carrying
//! `error`, `error_code` and `error_description`, because a person is looking at the browser.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{
        flow::{hash_code, Challenge, FlowState, DUPLICATE_CALLBACK_WINDOW},
        redirect,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{ApiForm, ApiQuery, Client},
    },
    oauth::{self, PendingLink},
    providers::{push_query, urlencode, ProviderError},
    state::SharedState,
    tokens,
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

pub async fn authorize(
    State(state): State<SharedState>,
    client: Client,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Response> {
    crate::rate_limit::check(&state, crate::rate_limit::Bucket::Authorize, &client).await?;
    start_flow(&state, &headers, &params, None).await
}

/// Starts an OAuth flow: validates the request, records the flow, sends the browser (or the
/// caller, with `skip_http_redirect=true`) to the provider. `linking_target` is the signed-in
/// user who will receive the identity, for `/user/identities/authorize`.
pub async fn start_flow(
    state: &SharedState,
    headers: &HeaderMap,
    params: &[(String, String)],
    linking_target: Option<Uuid>,
) -> ApiResult<Response> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut provider_name = param("provider").unwrap_or_default();
    // Inside WeChat's own browser a QR code cannot be scanned: use the 公众号 login instead.
    let in_wechat = headers
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"));
    if provider_name == "wechat_qr" && in_wechat && state.providers.get("wechat_mp").is_some() {
        provider_name = "wechat_mp";
    }
    let provider = state.providers.get(provider_name).ok_or_else(|| {
        ApiError::validation(format!(
            "Unsupported provider: provider {provider_name:?} could not be found or is not enabled"
        ))
    })?;
    let challenge = Challenge::parse(param("code_challenge"), param("code_challenge_method"))
        .map_err(ApiError::validation)?;
    // Without PKCE, whoever completes a link URL would get the target's session: the verifier
    // is what ties the link's completion to the client that started it.
    if linking_target.is_some() && challenge.is_none() {
        return Err(ApiError::validation(LINK_NEEDS_PKCE));
    }
    let config = &state.config;
    let redirect_to = redirect::resolve(
        param("redirect_to"),
        &config.site_url,
        &config.uri_allow_list,
    );

    let now = state.clock.now();
    let mut flow = FlowState::new(provider.name(), redirect_to, challenge, now);
    flow.linking_target_id = linking_target;
    state.store.create_flow(&flow).await?;

    let extra: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| {
            !OWN_PARAMS.contains(&k.as_str()) && !RESERVED_PARAMS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    let url = provider.authorize_url(&flow.state_param(), param("scopes"), &extra);
    if param("skip_http_redirect") == Some("true") {
        return Ok(Json(json!({ "url": url })).into_response());
    }
    Ok(found(&url))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

pub async fn callback_get(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    callback(&state, &client, params).await
}

/// Providers using `response_mode=form_post` call back with a form.
pub async fn callback_post(
    State(state): State<SharedState>,
    client: Client,
    ApiForm(params): ApiForm<CallbackParams>,
) -> Response {
    callback(&state, &client, params).await
}

async fn callback(state: &SharedState, client: &Client, params: CallbackParams) -> Response {
    let site_url = state.config.site_url.clone();
    let Some(flow_id) = params.state.as_deref().and_then(FlowState::parse_state) else {
        return error_redirect(
            &site_url,
            "invalid_request",
            "bad_oauth_state",
            "OAuth callback with missing or invalid state",
        );
    };
    let flow = match state.store.flow_by_id(flow_id).await {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            return error_redirect(
                &site_url,
                "invalid_request",
                "flow_state_not_found",
                "OAuth state not found, the login may have already finished or expired",
            )
        }
        Err(e) => return server_error(&site_url, e),
    };
    let now = state.clock.now();
    if flow.callback_expired(now) {
        return error_redirect(
            &site_url,
            "invalid_request",
            "flow_state_expired",
            "The login took too long, please try again",
        );
    }
    match finish(state, client, &flow, &params, now).await {
        Ok(location) => found(&location),
        Err(failure) => failure.into_redirect(&flow.redirect_to),
    }
}

/// Why a callback ended badly, as the three redirect parameters.
struct Failure {
    error: &'static str,
    code: &'static str,
    description: String,
}

impl Failure {
    fn new(error: &'static str, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            code,
            description: description.into(),
        }
    }

    fn into_redirect(self, to: &str) -> Response {
        error_redirect(to, self.error, self.code, &self.description)
    }
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        let error = match err.status {
            StatusCode::UNAUTHORIZED => "unauthorized_client",
            StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY => "access_denied",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request",
        };
        if err.status.is_server_error() {
            tracing::error!(internal = ?err.internal, "OAuth callback failed");
        }
        Self::new(error, err.code, err.message)
    }
}

impl From<ProviderError> for Failure {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::InvalidCode(message) => {
                Self::new("invalid_request", "bad_oauth_callback", message)
            }
            ProviderError::Unavailable(message) => {
                Self::new("server_error", "provider_unavailable", message)
            }
            ProviderError::Misconfigured(message) | ProviderError::Protocol(message) => {
                tracing::error!(%message, "OAuth provider failure");
                Self::new(
                    "server_error",
                    "unexpected_failure",
                    "Sign-in with the provider failed, please try again later",
                )
            }
        }
    }
}

/// The provider called back: sign the user in and say where the browser goes next.
async fn finish(
    state: &SharedState,
    client: &Client,
    flow: &FlowState,
    params: &CallbackParams,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, Failure> {
    if let Some(error) = params.error.as_deref().filter(|e| !e.is_empty()) {
        let description = params
            .error_description
            .clone()
            .unwrap_or_else(|| error.to_owned());
        let _ = state.store.delete_flow(flow.id).await;
        return Err(Failure::new("access_denied", "provider_error", description));
    }
    // WeChat reports a cancel as a callback with the state and no code.
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        let _ = state.store.delete_flow(flow.id).await;
        return Err(Failure::new(
            "access_denied",
            "access_denied",
            "The user cancelled the login",
        ));
    };
    if flow.auth_code_issued_at.is_some() {
        return repeat(flow, code, now);
    }
    // A link flow started before linking required PKCE: never completed.
    if flow.linking_target_id.is_some() && flow.challenge.is_none() {
        let _ = state.store.delete_flow(flow.id).await;
        return Err(Failure::new(
            "invalid_request",
            "validation_failed",
            LINK_NEEDS_PKCE,
        ));
    }
    let provider = state.providers.get(&flow.provider_type).ok_or_else(|| {
        Failure::new(
            "server_error",
            "provider_disabled",
            "This login method is no longer enabled",
        )
    })?;
    let (provider_tokens, profile) = provider.exchange(code).await?;
    let (user, provider_access_token) = match flow.linking_target_id {
        Some(target_id) => {
            let target = state
                .store
                .user_by_id(target_id)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| {
                    Failure::new(
                        "access_denied",
                        "user_not_found",
                        "The user to link to no longer exists",
                    )
                })?;
            // Attached only at the code exchange, by the client holding the verifier; refusing
            // a taken identity now tells the person in the browser at once.
            oauth::linkable(state, &target, &flow.provider_type, &profile).await?;
            let pending = PendingLink {
                provider_token: provider_tokens.access_token.clone(),
                profile,
            };
            (target, pending.encode()?)
        }
        None => {
            let user = oauth::user_for(state, &flow.provider_type, &profile, client).await?;
            (user, provider_tokens.access_token.clone())
        }
    };
    if user.is_banned(now) {
        return Err(Failure::new(
            "access_denied",
            "user_banned",
            "User is banned",
        ));
    }
    let completed = FlowState {
        user_id: Some(user.id),
        auth_code: flow.challenge.as_ref().map(|_| Uuid::new_v4().to_string()),
        auth_code_issued_at: Some(now),
        provider_access_token: Some(provider_access_token),
        provider_refresh_token: provider_tokens.refresh_token.clone(),
        provider_code_hash: Some(hash_code(code)),
        ..flow.clone()
    };
    if !state
        .store
        .complete_flow(&completed)
        .await
        .map_err(ApiError::from)?
    {
        // A concurrent duplicate callback completed it first; answer as that one did.
        let current = state
            .store
            .flow_by_id(flow.id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                Failure::new(
                    "invalid_request",
                    "flow_state_not_found",
                    "The login already finished",
                )
            })?;
        return repeat(&current, code, now);
    }
    match &completed.auth_code {
        Some(auth_code) => Ok(with_query(&flow.redirect_to, &[("code", auth_code)])),
        None => implicit_redirect(state, client, &completed, &user).await,
    }
}

/// A second callback for a flow that already finished. WeChat's duplicate redirect (same code,
/// soon after) must not break the login that succeeded, but must not mint anything either:
/// a PKCE flow gets the same auth code again (worthless without the verifier); an implicit
/// flow gets the bare redirect target, because its session went out once, in the first
/// redirect's fragment, and anyone who replays the callback URL (proxy logs, history) must not
/// get another. No error goes in that redirect: supabase-js drops the session it stored from
/// the first redirect when it sees one. Anything else (another code, later) is refused.
fn repeat(
    flow: &FlowState,
    code: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, Failure> {
    let same_code = flow.provider_code_hash.as_deref() == Some(hash_code(code).as_str());
    let recent = flow
        .auth_code_issued_at
        .is_some_and(|at| now <= at + DUPLICATE_CALLBACK_WINDOW);
    if !(same_code && recent) {
        return Err(Failure::new(
            "invalid_request",
            "flow_state_already_used",
            "This login was already used",
        ));
    }
    match &flow.auth_code {
        Some(auth_code) => Ok(with_query(&flow.redirect_to, &[("code", auth_code)])),
        None => Ok(flow.redirect_to.clone()),
    }
}

/// The implicit flow: the session travels in the redirect's fragment, never to a server.
async fn implicit_redirect(
    state: &SharedState,
    client: &Client,
    flow: &FlowState,
    user: &crate::domain::User,
) -> Result<String, Failure> {
    let session = tokens::start_session(state, user, "oauth", client).await?;
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
    if let Some(token) = &flow.provider_access_token {
        pairs.push(("provider_token", token.clone()));
    }
    if let Some(token) = &flow.provider_refresh_token {
        pairs.push(("provider_refresh_token", token.clone()));
    }
    let base = flow.redirect_to.split('#').next().unwrap_or_default();
    let fragment: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    Ok(format!("{base}#{}", fragment.join("&")))
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

fn error_redirect(to: &str, error: &str, code: &str, description: &str) -> Response {
    found(&with_query(
        to,
        &[
            ("error", error),
            ("error_code", code),
            ("error_description", description),
        ],
    ))
}

fn server_error(to: &str, cause: impl std::fmt::Display) -> Response {
    tracing::error!(%cause, "OAuth callback failed");
    error_redirect(
        to,
        "server_error",
        "unexpected_failure",
        "Unexpected failure, please try again",
    )
}

/// Adds query parameters to `url`, keeping its existing query and fragment.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
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
    use super::with_query;

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
}
