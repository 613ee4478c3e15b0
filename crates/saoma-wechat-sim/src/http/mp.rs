//! `GET /connect/oauth2/authorize`: a 公众号's web authorization inside WeChat's browser, and
//! `POST /connect/oauth2/authorize/confirm`, the simulated user's 允许 / 拒绝. Refusals are
//! HTTP 200 pages that never redirect, as in WeChat. The `#wechat_redirect` fragment never
//! reaches a server, so it is neither needed nor seen here.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::mp_page::{authorize_page, refusal_page, Refusal};
use crate::config::{AppKind, SimApp, SimConfig};
use crate::domain::grants::{Purpose, Subject, SHORT_CODE_LIFETIME};
use crate::domain::scope::Scope;
use crate::simulator::Shared;

/// The authorization URL's query; the confirm form repeats it with the user's answer.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub appid: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    /// Confirm form only: the simulated WeChat user.
    pub persona: Option<String>,
    /// Confirm form only: `allow` or `deny`.
    pub decision: Option<String>,
}

/// A request WeChat accepts.
pub struct Valid<'c> {
    pub app: &'c SimApp,
    pub redirect_uri: &'c str,
    pub scope: Scope,
}

pub async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    match validate(&shared.config, &params) {
        Ok(valid) => {
            tracing::info!(appid = %valid.app.appid, scope = valid.scope.as_str(), "公众号 authorization page shown");
            authorize_page(&shared, &valid, params.state.as_deref().unwrap_or_default())
        }
        Err(refusal) => refusal_page(refusal),
    }
}

pub async fn confirm(
    State(shared): State<Arc<Shared>>,
    Form(form): Form<AuthorizeParams>,
) -> Response {
    let valid = match validate(&shared.config, &form) {
        Ok(valid) => valid,
        Err(refusal) => return refusal_page(refusal),
    };
    let persona = form
        .persona
        .as_deref()
        .and_then(|id| shared.config.persona(id));
    let Some(persona) = persona else {
        return bad_request("请选择要授权的微信账号");
    };
    let state = form.state.as_deref().unwrap_or_default();
    let code = match form.decision.as_deref() {
        Some("allow") => {
            let subject = Subject {
                appid: valid.app.appid.clone(),
                persona: persona.id.clone(),
                scope: valid.scope,
            };
            let code = shared.lock().grants.issue_code(
                subject,
                Purpose::OAuth,
                SHORT_CODE_LIFETIME,
                Instant::now(),
            );
            Some(code)
        }
        Some("deny") => None,
        _ => return bad_request("decision 只能是 allow 或 deny"),
    };
    tracing::info!(appid = %valid.app.appid, persona = %persona.id, allowed = code.is_some(), "公众号 authorization answered");
    match callback_url(valid.redirect_uri, code.as_deref(), state) {
        Some(location) => found(&location),
        None => refusal_page(Refusal::RedirectUri),
    }
}

/// In order: appid (参数错误), the app's kind (10005), the redirect_uri's host against the
/// 网页授权域名 (10003), then the scope.
pub fn validate<'c>(
    config: &'c SimConfig,
    params: &'c AuthorizeParams,
) -> Result<Valid<'c>, Refusal> {
    let app = params
        .appid
        .as_deref()
        .and_then(|appid| config.app(appid))
        .ok_or(Refusal::Appid)?;
    if app.kind != AppKind::OfficialAccount {
        return Err(Refusal::NoScopePermission);
    }
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    let host = url::Url::parse(redirect_uri)
        .ok()
        .and_then(|uri| uri.host_str().map(str::to_ascii_lowercase));
    if host.as_deref() != Some(app.callback_host.to_ascii_lowercase().as_str()) {
        return Err(Refusal::RedirectUri);
    }
    let scope = params
        .scope
        .as_deref()
        .and_then(Scope::parse_official_account)
        .ok_or(Refusal::Scope)?;
    Ok(Valid {
        app,
        redirect_uri,
        scope,
    })
}

/// `redirect_uri?code=CODE&state=STATE`, or `…&code=` after an existing query, before any
/// fragment; a denial carries the state alone.
fn callback_url(redirect_uri: &str, code: Option<&str>, state: &str) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(code) = code {
            query.append_pair("code", code);
        }
        query.append_pair("state", state);
    }
    Some(url.into())
}

/// WeChat's redirect is a 302.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => refusal_page(Refusal::RedirectUri),
    }
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        super::mp_page::message_page(message),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::callback_url;

    #[test]
    fn callback_keeps_query_and_fragment() {
        assert_eq!(
            callback_url("http://localhost/cb?a=b#/x", Some("C0DE"), "s t").as_deref(),
            Some("http://localhost/cb?a=b&code=C0DE&state=s+t#/x")
        );
        assert_eq!(
            callback_url("http://localhost/cb", None, "xyz").as_deref(),
            Some("http://localhost/cb?state=xyz")
        );
    }
}
