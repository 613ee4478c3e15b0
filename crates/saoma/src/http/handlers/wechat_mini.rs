//! WeChat logins that arrive as a bare code, from a mini-program (`wx.login()`) or a mobile app
//! (the WeChat SDK), compatible with MemFire's mini-program SDK:
//! `GET /wechat_mini/login?code=`, `GET /wechat_mini/bind_account?code=`,
//! `GET /wechat_mini/bind_phone?code=`, `GET /wechat_app/login?code=`, and the
//! `POST /token?grant_type=wechat_mini` `{code}` form of the mini-program login.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    domain::UserChanges,
    http::{
        error::{ApiError, ApiResult},
        extract::{present, user_from_token_gone, ApiQuery, Authenticated, Client},
        handlers::user::user_json,
    },
    oauth,
    providers::wechat::WeChatClient,
    state::SharedState,
    store::StoreError,
    tokens,
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

fn wechat_client(
    client: &Option<std::sync::Arc<WeChatClient>>,
    provider: &str,
) -> ApiResult<std::sync::Arc<WeChatClient>> {
    client.clone().ok_or_else(|| {
        ApiError::bad_request(
            "provider_disabled",
            format!("Unsupported provider: {provider} is not enabled"),
        )
    })
}

pub async fn mini_login(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    mini_login_with_code(&state, &client, params.code()?).await
}

/// Shared by `GET /wechat_mini/login` and `POST /token?grant_type=wechat_mini`.
pub async fn mini_login_with_code(
    state: &SharedState,
    client: &Client,
    code: &str,
) -> ApiResult<Json<Value>> {
    let wechat = wechat_client(&state.providers.wechat_mini, "wechat_mini")?;
    let profile = wechat.mini_program_profile(code).await?;
    let user = oauth::user_for(state, "wechat_mini", &profile, client).await?;
    sign_in(state, client, &user).await
}

pub async fn app_login(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let wechat = wechat_client(&state.providers.wechat_app, "wechat_app")?;
    let (_, profile) = wechat.oauth_profile(params.code()?).await?;
    let user = oauth::user_for(&state, "wechat_app", &profile, &client).await?;
    sign_in(&state, &client, &user).await
}

async fn sign_in(
    state: &SharedState,
    client: &Client,
    user: &crate::domain::User,
) -> ApiResult<Json<Value>> {
    if user.is_banned(state.clock.now()) {
        return Err(ApiError::bad_request("user_banned", "User is banned"));
    }
    Ok(Json(
        tokens::start_session(state, user, "oauth", client).await?,
    ))
}

/// Binds the mini-program identity behind `code` to the signed-in user.
pub async fn bind_account(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let wechat = wechat_client(&state.providers.wechat_mini, "wechat_mini")?;
    let profile = wechat.mini_program_profile(params.code()?).await?;
    let user = oauth::link_to(
        &state,
        auth.user().clone(),
        "wechat_mini",
        &profile,
        &client,
    )
    .await?;
    Ok(Json(user_json(&state, &user).await?))
}

/// Sets the signed-in user's phone from a `getPhoneNumber` code: WeChat has verified it.
pub async fn bind_phone(
    State(state): State<SharedState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<CodeParams>,
) -> ApiResult<Json<Value>> {
    let wechat = wechat_client(&state.providers.wechat_mini, "wechat_mini")?;
    let number = wechat.phone_number(params.code()?).await?;
    let now = state.clock.now();
    let changes = UserChanges {
        phone: Some(Some(number)),
        phone_confirmed_at: Some(Some(now)),
        ..Default::default()
    };
    let user = match state.store.change_user(auth.user().id, &changes, now).await {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::unprocessable(
                "phone_exists",
                "A user with this phone number has already been registered",
            ))
        }
        other => other?.ok_or_else(user_from_token_gone)?,
    };
    Ok(Json(user_json(&state, &user).await?))
}
