//! The email flows' own routes: `GET /verify` (the mailed link), `POST /magiclink`,
//! `POST /recover`, `GET /reauthenticate`, and the admin's `POST /invite` and
//! `POST /admin/generate_link`. `/otp`, `POST /verify` and `/resend` are shared with phone
//! sign-in (`otp.rs`).

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    auth::email::{
        flows::{self, LinkOptions},
        generate_link::{self, GenerateLinkRequest},
        verify, LinkType,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{present, Admin, ApiJson, ApiQuery, Authenticated, Client},
    },
    state::SharedState,
};

/// `?redirect_to=`: where supabase-js puts an email link's landing page.
#[derive(Debug, Default, Deserialize)]
pub struct RedirectQuery {
    #[serde(default)]
    pub redirect_to: Option<String>,
}

/// The PKCE fields of a request that mails a link.
#[derive(Debug, Default, Deserialize)]
pub struct PkceFields {
    #[serde(default)]
    pub code_challenge: Option<String>,
    #[serde(default)]
    pub code_challenge_method: Option<String>,
}

/// The link options of a request: its `redirect_to` and PKCE challenge.
pub fn link_options(query: RedirectQuery, pkce: &PkceFields) -> ApiResult<LinkOptions> {
    let challenge = crate::auth::email::challenge(
        present(&pkce.code_challenge),
        present(&pkce.code_challenge_method),
    )?;
    Ok(LinkOptions {
        redirect_to: present(&query.redirect_to).map(str::to_owned),
        challenge,
    })
}

#[derive(Debug, Deserialize)]
pub struct VerifyLinkQuery {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    redirect_to: Option<String>,
}

/// `GET /verify`: the link in a mail. Malformed links are answered as JSON (no redirect target
/// can be trusted yet); everything after lands on the app.
pub async fn verify_link(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<VerifyLinkQuery>,
) -> ApiResult<Response> {
    let raw_type = present(&query.kind)
        .ok_or_else(|| ApiError::validation("Verify requires a verification type"))?;
    let token = present(&query.token)
        .ok_or_else(|| ApiError::validation("Verify requires a token or a token hash"))?;
    let link = LinkType::parse(raw_type)
        .ok_or_else(|| ApiError::validation("Invalid email verification type"))?;
    let location =
        verify::follow_link(&state, &client, link, token, present(&query.redirect_to)).await;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MagicLinkRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(flatten)]
    pkce: PkceFields,
}

/// `POST /magiclink`: GoTrue's older name for `POST /otp {email}`.
pub async fn magic_link(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<MagicLinkRequest>,
) -> ApiResult<Json<Value>> {
    let options = link_options(query, &req.pkce)?;
    let address = present(&req.email).ok_or_else(|| {
        crate::auth::AuthError::Unprocessable("Password recovery requires an email")
    })?;
    let data = req.data.unwrap_or_default();
    Ok(Json(
        flows::magic_link(&state, &client, address, true, data, &options).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct RecoverRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(flatten)]
    pkce: PkceFields,
}

/// `POST /recover` (`resetPasswordForEmail`).
pub async fn recover(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<RecoverRequest>,
) -> ApiResult<Json<Value>> {
    let options = link_options(query, &req.pkce)?;
    let address = req.email.unwrap_or_default();
    Ok(Json(
        flows::recover(&state, &client, &address, &options).await?,
    ))
}

/// `GET /reauthenticate`: a code for the signed-in user, to confirm a password change.
pub async fn reauthenticate(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        flows::reauthenticate(&state, &client, auth.user()).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct InviteRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
}

/// `POST /invite` (`auth.admin.inviteUserByEmail`).
pub async fn invite(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> ApiResult<Json<Value>> {
    let options = link_options(query, &PkceFields::default())?;
    let address = req.email.unwrap_or_default();
    let data = req.data.unwrap_or_default();
    Ok(Json(
        flows::invite(&state, &client, &address, data, &options).await?,
    ))
}

/// `POST /admin/generate_link` (`auth.admin.generateLink`).
pub async fn generate_link(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<GenerateLinkRequest>,
) -> ApiResult<Json<Value>> {
    let redirect = present(&query.redirect_to);
    Ok(Json(
        generate_link::generate(&state, &client, req, redirect).await?,
    ))
}
