//! Website login by scanning a code with WeChat (the work is in `auth::scan_login`):
//! - `GET /scan_login?state=` — saoma's waiting page, where `/authorize` sends the browser;
//! - `POST /scan_login/ticket {state}` and `POST /scan_login/poll {scene, secret}` — what the
//!   page calls, and what an app that draws its own page calls (the embedded variant);
//! - `POST /wechat_mini/qr/{scan,confirm,cancel}` — the mini-program page's calls;
//! - `GET|POST /wechat_mp/notify` — the 公众号's server URL (URL check and event pushes);
//! - `POST /wechat_mini/unlimited_qrcode` — MemFire's `getUnlimitedQRCode`, for signed-in users.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    auth::{
        present,
        rate_limit::{self, Bucket},
        scan_login, AuthError,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{ApiJson, ApiQuery, Authenticated, Client, RawBody},
    },
    providers::{wechat::push, UnlimitedCodeRequest},
    state::SharedState,
};

mod page;

#[derive(Debug, Default, Deserialize)]
pub struct StateParam {
    #[serde(default)]
    state: Option<String>,
}

/// The waiting page. Problems with the flow are shown on it: a person is looking.
pub async fn waiting_page(
    State(state): State<SharedState>,
    ApiQuery(params): ApiQuery<StateParam>,
) -> Response {
    let flow_state = present(&params.state).unwrap_or_default();
    let (status, body) = match scan_login::waiting(&state, flow_state).await {
        Ok(provider) => (StatusCode::OK, page::render(provider, flow_state)),
        Err(err) => (err.wire().status, page::refusal(&err.public_message())),
    };
    (status, page::headers(), Html(body)).into_response()
}

/// A ticket and its code for the flow `state` names.
pub async fn ticket(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(params): ApiJson<StateParam>,
) -> ApiResult<Json<scan_login::Shown>> {
    // Each ticket costs a WeChat API call: counted as a start of a login.
    rate_limit::check(&state, Bucket::Authorize, &client).await?;
    let flow_state =
        present(&params.state).ok_or_else(|| ApiError::validation("state is required"))?;
    Ok(Json(scan_login::show(&state, flow_state).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct PollParams {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    secret: Option<String>,
}

/// A POST, so that the secret stays out of URLs (access logs, proxies, history).
pub async fn poll(
    State(state): State<SharedState>,
    ApiJson(params): ApiJson<PollParams>,
) -> ApiResult<Json<scan_login::Poll>> {
    let (Some(scene), Some(secret)) = (present(&params.scene), present(&params.secret)) else {
        return Err(ApiError::validation("scene and secret are required"));
    };
    Ok(Json(scan_login::poll(&state, scene, secret).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct SceneBody {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

impl SceneBody {
    fn scene(&self) -> ApiResult<&str> {
        present(&self.scene).ok_or_else(|| ApiError::validation("scene is required"))
    }
}

const MINI_QR: &str = "wechat_mini_qr";

pub async fn mini_scan(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<SceneBody>,
) -> ApiResult<Json<scan_login::Scanned>> {
    Ok(Json(
        scan_login::scanned(&state, MINI_QR, body.scene()?).await?,
    ))
}

pub async fn mini_confirm(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<SceneBody>,
) -> ApiResult<Json<Value>> {
    let scene = body.scene()?;
    let code = present(&body.code)
        .ok_or_else(|| ApiError::validation("code (from wx.login) is required"))?;
    scan_login::confirm(&state, MINI_QR, scene, code).await?;
    Ok(Json(json!({ "status": "confirmed" })))
}

pub async fn mini_cancel(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<SceneBody>,
) -> ApiResult<Json<Value>> {
    scan_login::cancel(&state, MINI_QR, body.scene()?).await?;
    Ok(Json(json!({ "status": "cancelled" })))
}

/// WeChat's check of the server URL: the `echostr`, only to a correct signature.
pub async fn mp_verify(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<push::PushQuery>,
) -> Response {
    match scan_login::verify_push_url(&state, &query) {
        Ok(echo) => plain(StatusCode::OK, echo),
        Err(err) => push_refused(err),
    }
}

/// An event push. Answered `success` once its signature is checked, whatever it says, so
/// WeChat stops retrying; a login it confirms is done before answering.
pub async fn mp_notify(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<push::PushQuery>,
    body: RawBody,
) -> Response {
    match scan_login::pushed(&state, &query, body.bytes()).await {
        Ok(()) => plain(StatusCode::OK, "success".into()),
        Err(err) => push_refused(err),
    }
}

fn push_refused(err: AuthError) -> Response {
    let wire = err.wire();
    tracing::warn!(code = wire.code, reason = %err, "WeChat push refused");
    plain(wire.status, err.public_message().into_owned())
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// MemFire's `getUnlimitedQRCode`: a mini-program code drawn by WeChat, for a signed-in user
/// (each call spends the mini-program's WeChat quota).
pub async fn unlimited_qrcode(
    State(state): State<SharedState>,
    auth: Authenticated,
    ApiJson(request): ApiJson<UnlimitedCodeRequest>,
) -> ApiResult<Json<Value>> {
    let bytes = scan_login::unlimited_code(&state, auth.user().id, &request).await?;
    Ok(Json(json!({ "imgBase64": STANDARD.encode(bytes) })))
}
