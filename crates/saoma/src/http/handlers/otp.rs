//! `POST /otp`, `POST /verify`, `POST /resend`: one-time codes by text message or email
//! (supabase-js's `signInWithOtp`, `verifyOtp`, `resend`).

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    auth::{
        email::{
            flows::{self, Resend},
            verify, LinkType,
        },
        phone::{self, CodeKind},
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiJson, ApiQuery, Client},
        handlers::email::{link_options, PkceFields, RedirectQuery},
    },
    state::SharedState,
};

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
    #[serde(flatten)]
    pkce: PkceFields,
}

pub async fn otp(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<OtpRequest>,
) -> ApiResult<Json<Value>> {
    let data = req.data.unwrap_or_default();
    let answer = match (present(&req.email), present(&req.phone)) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only an email address or phone number should be provided",
            ))
        }
        (None, None) => return Err(ApiError::validation("One of email or phone must be set")),
        (Some(address), None) => {
            if present(&req.channel).is_some() {
                return Err(ApiError::validation(
                    "Channel should only be specified with Phone OTP",
                ));
            }
            let options = link_options(query, &req.pkce)?;
            flows::magic_link(&state, &client, address, req.create_user, data, &options).await?
        }
        (None, Some(number)) => {
            check_channel(&req.channel)?;
            phone::send_otp(&state, &client, number, req.create_user, data).await?
        }
    };
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

/// What a `/verify` request names: a code kind of phone sign-in, or an email link type.
enum VerifyType {
    Phone(CodeKind),
    Email(LinkType),
}

fn verify_type(raw: &Option<String>) -> ApiResult<VerifyType> {
    let raw = present(raw).ok_or_else(|| ApiError::validation("Missing verification type"))?;
    if let Some(kind) = CodeKind::parse(raw) {
        return Ok(VerifyType::Phone(kind));
    }
    LinkType::parse(raw)
        .map(VerifyType::Email)
        .ok_or_else(|| ApiError::validation(format!("Unsupported verification type: {raw}")))
}

pub async fn verify(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    let kind = verify_type(&req.kind)?;
    let (email, phone) = (present(&req.email), present(&req.phone));
    let answer = match (present(&req.token), present(&req.token_hash)) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::validation(
                "Verify requires either a token or a token hash",
            ))
        }
        (None, Some(token_hash)) => {
            if email.is_some() || phone.is_some() {
                return Err(ApiError::validation(
                    "Only the token_hash and type should be provided",
                ));
            }
            let VerifyType::Email(link) = kind else {
                // Text messages carry codes, never link hashes.
                return Err(crate::auth::AuthError::OtpExpired.into());
            };
            let verified = verify::by_token_hash(&state, &client, link, token_hash).await?;
            verify::answer(&state, &client, verified).await?
        }
        (Some(code), None) => match (kind, email, phone) {
            (VerifyType::Email(link), Some(address), None) => {
                let verified = verify::by_code(&state, &client, link, address, code).await?;
                verify::answer(&state, &client, verified).await?
            }
            (VerifyType::Phone(kind), None, Some(number)) => {
                phone::verify(&state, &client, kind, number, code).await?
            }
            (_, Some(_), Some(_)) | (_, None, None) => {
                return Err(ApiError::validation(
                    "Only an email address or phone number should be provided on verify",
                ))
            }
            // A phone type with an address, or an email type with a number: no such code.
            _ => return Err(crate::auth::AuthError::OtpExpired.into()),
        },
    };
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
pub struct ResendRequest {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(flatten)]
    pkce: PkceFields,
}

pub async fn resend(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<ResendRequest>,
) -> ApiResult<Json<Value>> {
    let kind = present(&req.kind).unwrap_or_default();
    let email_kind = match kind {
        "signup" => Some(Resend::Signup),
        "email_change" => Some(Resend::EmailChange),
        "sms" | "phone_change" => None,
        _ => {
            return Err(ApiError::validation(
                "Missing one of these types: signup, email_change, sms, phone_change",
            ))
        }
    };
    let answer = match (email_kind, present(&req.email), present(&req.phone)) {
        (_, Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only an email address or phone number should be provided.",
            ))
        }
        (Some(resend), Some(address), None) => {
            let options = link_options(query, &req.pkce)?;
            flows::resend(&state, &client, resend, address, &options).await?
        }
        (Some(_), None, _) => {
            return Err(ApiError::validation(
                "Type provided requires an email address",
            ))
        }
        (None, _, Some(number)) => {
            let kind = CodeKind::parse(kind).unwrap_or(CodeKind::Sms);
            phone::resend(&state, &client, kind, number).await?
        }
        (None, _, None) => {
            return Err(ApiError::validation(
                "Phone number is required for sms verification",
            ))
        }
    };
    Ok(Json(answer))
}
