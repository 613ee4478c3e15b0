//! `POST /token?grant_type=password|refresh_token|pkce|wechat_mini`.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::{
        code_login, pkce,
        rate_limit::{self, Bucket},
        refresh, sign_in,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiQuery, Client, RawBody},
    },
    state::SharedState,
};

#[derive(Debug, Deserialize)]
pub struct GrantQuery {
    #[serde(default)]
    grant_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PasswordGrant {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// A mini-program's `wx.login()` code, for clients that prefer a POST.
#[derive(Debug, Deserialize)]
pub struct CodeGrant {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PkceGrant {
    #[serde(default)]
    auth_code: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RefreshGrant {
    #[serde(default)]
    refresh_token: Option<String>,
}

pub async fn token(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<GrantQuery>,
    client: Client,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    let grant = query.grant_type.as_deref().unwrap_or_default();
    if !matches!(grant, "password" | "refresh_token" | "pkce" | "wechat_mini") {
        return Err(ApiError::bad_request(
            "invalid_credentials",
            "unsupported_grant_type",
        ));
    }
    rate_limit::check(&state, Bucket::Token, &client).await?;
    // The grant type decides the body's shape, so the body is parsed per grant.
    let session = match grant {
        "password" => {
            let grant: PasswordGrant = body.json()?;
            let password = grant.password.clone().unwrap_or_default();
            match (present(&grant.email), present(&grant.phone)) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::validation(
                        "Only an email address or phone number should be provided on login.",
                    ))
                }
                (None, Some(number)) => {
                    sign_in::with_phone_password(&state, &client, number, password).await?
                }
                (None, None) => return Err(ApiError::validation("missing email or phone")),
                (Some(address), None) => {
                    sign_in::with_password(&state, &client, address, password).await?
                }
            }
        }
        "refresh_token" => {
            let grant: RefreshGrant = body.json()?;
            let presented = grant.refresh_token.unwrap_or_default();
            refresh::refresh(&state, &client, &presented).await?
        }
        "pkce" => {
            let grant: PkceGrant = body.json()?;
            let auth_code = grant.auth_code.unwrap_or_default();
            let verifier = grant.code_verifier.unwrap_or_default();
            pkce::exchange(&state, &client, &auth_code, &verifier).await?
        }
        _ => {
            let grant: CodeGrant = body.json()?;
            let code =
                present(&grant.code).ok_or_else(|| ApiError::validation("code is required"))?;
            code_login::mini_program(&state, &client, code).await?
        }
    };
    Ok(Json(session))
}
