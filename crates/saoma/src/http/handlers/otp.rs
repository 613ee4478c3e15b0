//! `POST /otp`, `POST /verify`, `POST /resend`: one-time codes by text message (supabase-js's
//! `signInWithOtp({phone})`, `verifyOtp`, `resend`). Email codes need a mailer, which this
//! server does not have.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    auth::{
        phone::{self, CodeKind},
        AuthError,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiJson, Client},
    },
    state::SharedState,
};

const NO_MAILER: &str = "Email one-time codes are not supported: this server sends no email";

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct OtpRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default = "default_true")]
    create_user: bool,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    channel: Option<String>,
}

pub async fn otp(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(req): ApiJson<OtpRequest>,
) -> ApiResult<Json<Value>> {
    let number = match (present(&req.email), present(&req.phone)) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only an email address or phone number should be provided",
            ))
        }
        (Some(_), None) => return Err(AuthError::EmailProviderDisabled(NO_MAILER).into()),
        (None, None) => return Err(ApiError::validation("One of email or phone must be set")),
        (None, Some(number)) => number,
    };
    check_channel(&req.channel)?;
    let data = req.data.unwrap_or_default();
    let answer = phone::send_otp(&state, &client, number, req.create_user, data).await?;
    Ok(Json(answer))
}

/// Text messages only: WhatsApp needs Twilio, which saoma does not speak.
fn check_channel(channel: &Option<String>) -> ApiResult<()> {
    match present(channel) {
        None | Some("sms") => Ok(()),
        Some(_) => Err(ApiError::validation(
            "Invalid channel, the only supported value is 'sms'",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyRequest {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_hash: Option<String>,
}

pub async fn verify(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    let kind = code_kind(&req.kind, &req.email)?;
    if present(&req.token_hash).is_some() {
        // Hashed tokens come from email links, which this server never sends.
        return Err(AuthError::OtpExpired.into());
    }
    let number = present(&req.phone)
        .ok_or_else(|| ApiError::validation("Only a phone number can be verified with a code"))?;
    let code = present(&req.token)
        .ok_or_else(|| ApiError::validation("Verify requires a token or a token hash"))?;
    Ok(Json(
        phone::verify(&state, &client, kind, number, code).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResendRequest {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

pub async fn resend(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(req): ApiJson<ResendRequest>,
) -> ApiResult<Json<Value>> {
    let kind = code_kind(&req.kind, &req.email)?;
    let number = present(&req.phone)
        .ok_or_else(|| ApiError::validation("Phone number is required for sms verification"))?;
    Ok(Json(phone::resend(&state, &client, kind, number).await?))
}

/// `sms` or `phone_change`; the email types (`signup`, `magiclink`, ...) need a mailer.
fn code_kind(raw: &Option<String>, email: &Option<String>) -> ApiResult<CodeKind> {
    let raw = present(raw).ok_or_else(|| ApiError::validation("Missing verification type"))?;
    if let Some(kind) = CodeKind::parse(raw) {
        return Ok(kind);
    }
    let email_type = matches!(
        raw,
        "signup" | "invite" | "magiclink" | "recovery" | "email_change" | "email"
    );
    if email_type || present(email).is_some() {
        return Err(AuthError::EmailProviderDisabled(NO_MAILER).into());
    }
    Err(ApiError::validation(format!(
        "Unsupported verification type: {raw}"
    )))
}
