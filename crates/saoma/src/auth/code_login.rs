//! WeChat logins that arrive as a bare code, from a mini-program (`wx.login()`) or a mobile
//! app (the WeChat SDK), and what a signed-in mini-program user can bind with one.

use serde_json::Value;

use crate::{
    auth::{external, phone, sign_in, user, AuthError, AuthResult, Client},
    domain::{User, UserChanges},
    providers::{CodeLogin, PhoneNumbers},
    state::AppState,
    store::StoreError,
};

const MINI: &str = "wechat_mini";
const APP: &str = "wechat_app";

fn code_login<'a>(state: &'a AppState, provider: &str) -> AuthResult<&'a dyn CodeLogin> {
    state
        .providers
        .code_login(provider)
        .map(|login| login.as_ref())
        .ok_or_else(|| AuthError::ProviderDisabled(provider.to_owned()))
}

/// A mini-program's `wx.login()` code: the user behind it, signed in.
pub async fn mini_program(state: &AppState, client: &Client, code: &str) -> AuthResult<Value> {
    let profile = code_login(state, MINI)?.profile(code).await?;
    sign_in::external(state, MINI, &profile, client).await
}

/// A mobile app's WeChat SDK code: the user behind it, signed in.
pub async fn mobile_app(state: &AppState, client: &Client, code: &str) -> AuthResult<Value> {
    let profile = code_login(state, APP)?.profile(code).await?;
    sign_in::external(state, APP, &profile, client).await
}

/// Binds the mini-program identity behind `code` to the signed-in `user`.
pub async fn bind_account(
    state: &AppState,
    client: &Client,
    user: &User,
    code: &str,
) -> AuthResult<Value> {
    let profile = code_login(state, MINI)?.profile(code).await?;
    let user = external::link_to(state, user.clone(), MINI, &profile, client).await?;
    user::user_json(state, &user).await
}

/// Sets the signed-in user's phone from a `getPhoneNumber` code: WeChat has verified it.
pub async fn bind_phone(state: &AppState, user: &User, code: &str) -> AuthResult<Value> {
    let numbers: &dyn PhoneNumbers = state
        .providers
        .phone_numbers(MINI)
        .map(|numbers| numbers.as_ref())
        .ok_or_else(|| AuthError::ProviderDisabled(MINI.to_owned()))?;
    // Stored as every other number is, so that the number is one user however it arrives
    // (and SMS sign-in finds this user).
    let number = phone::normalize(state, &numbers.phone_number(code).await?)?;
    if let Some(holder) = state.store.user_by_phone(&number).await? {
        if holder.id != user.id {
            return Err(AuthError::PhoneExists);
        }
    }
    let now = state.clock.now();
    let changes = UserChanges {
        phone: Some(Some(number)),
        phone_confirmed_at: Some(Some(now)),
        ..Default::default()
    };
    let user = match state.store.change_user(user.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(AuthError::PhoneExists),
        other => other?.ok_or(AuthError::TokenUserGone)?,
    };
    user::user_json(state, &user).await
}
