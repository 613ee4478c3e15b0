//! `POST /signup`: email or phone + password, or anonymous when neither is given.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    auth::{phone, signup},
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiJson, ApiQuery, Client},
        handlers::email::{link_options, PkceFields, RedirectQuery},
    },
    state::SharedState,
};

#[derive(Debug, Deserialize)]
pub struct SignupRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(flatten)]
    pkce: PkceFields,
}

pub async fn signup(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<Json<Value>> {
    let metadata = Value::Object(req.data.unwrap_or_default());
    let answer = match (present(&req.email), present(&req.phone)) {
        // GoTrue ignores a password given without email or phone: that is an anonymous sign-in.
        (None, None) => signup::anonymous(&state, metadata, &client).await?,
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only an email address or phone number should be provided on signup.",
            ))
        }
        (None, Some(number)) => {
            let password = req.password.unwrap_or_default();
            phone::sign_up(&state, &client, number, password, metadata).await?
        }
        (Some(address), None) => {
            let options = link_options(query, &req.pkce)?;
            let password = req.password.unwrap_or_default();
            signup::with_email(&state, address, password, metadata, &client, &options).await?
        }
    };
    Ok(Json(answer))
}
