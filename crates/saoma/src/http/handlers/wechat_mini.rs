//! WeChat logins that arrive as a bare code, from a mini-program (`wx.login()`) or a mobile app
//! (the WeChat SDK), compatible with MemFire's mini-program SDK:
//! `GET /wechat_mini/login?code=`, `GET /wechat_mini/bind_account?code=`,
//! `GET /wechat_mini/bind_phone?code=`, `GET /wechat_app/login?code=` (the
//! `POST /token?grant_type=wechat_mini` `{code}` form is in `token`).

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::code_login,
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiQuery, Authenticated, Client},
    },
    state::SharedState,
};

#[derive(Debug, Deserialize)]
pub struct CodeParams {
    #[serde(default)]
    code: Option<String>,
}

impl CodeParams {
    pub fn code(&self) -> ApiResult<&str> {
        present(&self.code).ok_or_else(|| ApiError::validation("code is required"))
    }
}

pub async fn mini_login(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let code = params.code()?;
    Ok(Json(code_login::mini_program(&state, &client, code).await?))
}

pub async fn app_login(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let code = params.code()?;
    Ok(Json(code_login::mobile_app(&state, &client, code).await?))
}

pub async fn bind_account(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let code = params.code()?;
    let user = code_login::bind_account(&state, &client, auth.user(), code).await?;
    Ok(Json(user))
}

pub async fn bind_phone(
    State(state): State<SharedState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let code = params.code()?;
    Ok(Json(
        code_login::bind_phone(&state, auth.user(), code).await?,
    ))
}
