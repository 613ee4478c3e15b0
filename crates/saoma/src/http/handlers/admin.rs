//! The admin API as auth-js's `supabase.auth.admin` calls it, for `service_role` and
//! `supabase_admin` JWTs: users (list, create, get, update, delete) and the audit log.

use axum::{
    extract::{Path, State},
    http::{header, HeaderName, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    audit,
    domain::{
        audit::{Action, AuditEntry},
        duration::parse_ban,
        email, password, Identity, User, UserChanges,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{blank_as_none, present, Admin, ApiJson, ApiQuery, Client},
        handlers::user::{check_password_strength, user_json},
    },
    state::SharedState,
    store::{NewAccount, StoreError},
};

/// `?page=&per_page=`; empty values (what auth-js's `listUsers()` sends) are the defaults.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default, deserialize_with = "blank_as_none")]
    page: Option<i64>,
    #[serde(default, deserialize_with = "blank_as_none")]
    per_page: Option<i64>,
}

impl Page {
    /// (page, per_page, offset), with GoTrue's defaults (page 1, 50 per page).
    fn resolve(&self) -> ApiResult<(i64, i64, i64)> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        let out_of_range =
            || ApiError::validation("page must be >= 1 and per_page between 1 and 1000");
        if page < 1 || !(1..=1000).contains(&per_page) {
            return Err(out_of_range());
        }
        // A huge page number must not overflow into a negative OFFSET (or a panic).
        let offset = (page - 1).checked_mul(per_page).ok_or_else(out_of_range)?;
        Ok((page, per_page, offset))
    }
}

/// `X-Total-Count` and GoTrue's `Link` header (auth-js reads `page` as the first query key).
fn paginated(body: Value, path: &str, page: i64, per_page: i64, total: i64) -> Response {
    let last = ((total + per_page - 1) / per_page).max(1);
    let mut links = Vec::new();
    if page < last {
        links.push(format!(
            "<{path}?page={}&per_page={per_page}>; rel=\"next\"",
            page + 1
        ));
    }
    links.push(format!(
        "<{path}?page={last}&per_page={per_page}>; rel=\"last\""
    ));
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-total-count"),
        HeaderValue::from(total),
    );
    if let Ok(link) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert(header::LINK, link);
    }
    response
}

pub async fn list_users(
    State(state): State<SharedState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Response> {
    let (page, per_page, offset) = page.resolve()?;
    let (users, total) = state.store.list_users(offset, per_page).await?;
    let mut views = Vec::with_capacity(users.len());
    for user in &users {
        views.push(user_json(&state, user).await?);
    }
    let body = json!({ "users": views, "aud": state.config.jwt.aud });
    Ok(paginated(body, "/admin/users", page, per_page, total))
}

pub async fn list_audit(
    State(state): State<SharedState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Response> {
    let (page, per_page, offset) = page.resolve()?;
    let (entries, total) = state.store.list_audit(offset, per_page).await?;
    Ok(paginated(
        json!(entries),
        "/admin/audit",
        page,
        per_page,
        total,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminUserParams {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    email_confirm: Option<bool>,
    #[serde(default)]
    phone_confirm: Option<bool>,
    #[serde(default)]
    user_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    app_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    ban_duration: Option<String>,
}

pub async fn create_user(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    ApiJson(params): ApiJson<AdminUserParams>,
) -> ApiResult<Json<Value>> {
    let now = state.clock.now();
    let address = present(&params.email);
    let phone = present(&params.phone);
    if address.is_none() && phone.is_none() {
        return Err(ApiError::validation(
            "Unable to create user: an email or a phone number is required",
        ));
    }
    let provider = if address.is_some() { "email" } else { "phone" };
    let mut user = User::new(
        params.id.unwrap_or_else(Uuid::new_v4),
        &state.config.jwt.aud,
        provider,
        now,
    );
    let mut identities = Vec::new();
    if let Some(address) = address {
        let address = email::normalize(address).map_err(ApiError::validation)?;
        if state.store.user_by_email(&address).await?.is_some() {
            return Err(email_exists());
        }
        identities.push(Identity::email(user.id, &address, now));
        user.email = Some(address);
    }
    user.phone = phone.map(|p| p.trim_start_matches('+').to_owned());
    changes(&state, &user, params, now)
        .await?
        .apply(&mut user, now);
    let audit = [AuditEntry::new(
        Action::UserSignedUp,
        &user,
        json!({ "via": "admin" }),
        &client.ip,
        now,
    )];
    let account = NewAccount {
        user: &user,
        identities: &identities,
        session: None,
        audit: &audit,
    };
    match state.store.create_account(&account).await {
        Err(StoreError::Conflict(_)) => return Err(email_exists()),
        other => other?,
    }
    Ok(Json(user_json(&state, &user).await?))
}

pub async fn get_user(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = find(&state, &id).await?;
    Ok(Json(user_json(&state, &user).await?))
}

pub async fn update_user(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    Path(id): Path<String>,
    ApiJson(params): ApiJson<AdminUserParams>,
) -> ApiResult<Json<Value>> {
    let current = find(&state, &id).await?;
    let now = state.clock.now();
    let mut email = None;
    if let Some(address) = present(&params.email) {
        let address = email::normalize(address).map_err(ApiError::validation)?;
        if current.email.as_deref() != Some(address.as_str()) {
            if state.store.user_by_email(&address).await?.is_some() {
                return Err(email_exists());
            }
            email = Some(Some(address));
        }
    }
    let phone = present(&params.phone).map(|p| Some(p.trim_start_matches('+').to_owned()));
    let changes = UserChanges {
        email,
        phone,
        ..changes(&state, &current, params, now).await?
    };
    let user = match state.store.change_user(current.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(email_exists()),
        other => other?.ok_or_else(|| ApiError::not_found("user_not_found", "User not found"))?,
    };
    audit::record(
        &state,
        Action::UserModified,
        &user,
        json!({ "via": "admin" }),
        &client,
    )
    .await?;
    Ok(Json(user_json(&state, &user).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteParams {
    #[serde(default)]
    should_soft_delete: bool,
}

pub async fn delete_user(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    // auth-js always sends a body, other clients may not.
    let params: DeleteParams = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteParams::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "bad_json",
                format!("Could not parse request body as JSON: {e}"),
            )
        })?
    };
    let user = find(&state, &id).await?;
    audit::record(
        &state,
        Action::UserDeleted,
        &user,
        json!({ "soft": params.should_soft_delete }),
        &client,
    )
    .await?;
    if params.should_soft_delete {
        state
            .store
            .soft_delete_user(user.id, state.clock.now())
            .await?;
    } else {
        state.store.delete_user(user.id).await?;
    }
    Ok(Json(json!({})))
}

/// The fields an admin sets on create and update, as changes to `current` (the user as read,
/// or the new one): only what the request names is written.
async fn changes(
    state: &SharedState,
    current: &User,
    params: AdminUserParams,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<UserChanges> {
    let mut changes = UserChanges::default();
    match (params.password, params.password_hash) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only a password or a password hash should be provided",
            ))
        }
        (Some(password), None) => {
            check_password_strength(&state.config, &password)?;
            changes.encrypted_password = Some(
                password::hash(password, state.config.password.bcrypt_cost)
                    .await
                    .map_err(ApiError::internal)?,
            );
        }
        (None, Some(hash)) => {
            // Imported users keep their bcrypt hash (GoTrue's and most others').
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(ApiError::validation(
                    "Invalid password hash: only bcrypt hashes are supported",
                ));
            }
            changes.encrypted_password = Some(hash);
        }
        (None, None) => {}
    }
    changes.email_confirmed_at = match params.email_confirm {
        Some(true) if current.email_confirmed_at.is_none() => Some(Some(now)),
        Some(false) => Some(None),
        _ => None,
    };
    changes.phone_confirmed_at = match params.phone_confirm {
        Some(true) if current.phone_confirmed_at.is_none() => Some(Some(now)),
        Some(false) => Some(None),
        _ => None,
    };
    changes.user_metadata = params.user_metadata;
    changes.app_metadata = params.app_metadata;
    changes.role = params.role.filter(|r| !r.is_empty());
    if let Some(ban) = params.ban_duration {
        changes.banned_until = Some(match parse_ban(&ban).map_err(ApiError::validation)? {
            Some(duration) => Some(now.checked_add_signed(duration).ok_or_else(|| {
                ApiError::validation(format!("ban duration out of range: {ban:?}"))
            })?),
            None => None,
        });
    }
    Ok(changes)
}

async fn find(state: &SharedState, id: &str) -> ApiResult<User> {
    let not_found = || ApiError::not_found("user_not_found", "User not found");
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    state.store.user_by_id(id).await?.ok_or_else(not_found)
}

fn email_exists() -> ApiError {
    ApiError::unprocessable(
        "email_exists",
        "A user with this email address has already been registered",
    )
}
