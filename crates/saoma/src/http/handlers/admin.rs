//! The admin API as auth-js's `supabase.auth.admin` calls it, for `service_role` and
//! `supabase_admin` JWTs: users (list, create, get, update, delete) and the audit log.

use axum::{
    extract::{Path, State},
    http::{header, HeaderName, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    auth::{
        admin::{self, UserAttributes},
        user,
    },
    http::{
        error::{ApiError, ApiResult},
        extract::{blank_as_none, Admin, ApiJson, ApiQuery, Client},
    },
    state::SharedState,
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
    let (views, total) = admin::list_users(&state, offset, per_page).await?;
    let body = json!({ "users": views, "aud": state.config.jwt.aud });
    Ok(paginated(body, "/admin/users", page, per_page, total))
}

pub async fn list_audit(
    State(state): State<SharedState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Response> {
    let (page, per_page, offset) = page.resolve()?;
    let (entries, total) = admin::audit_log(&state, offset, per_page).await?;
    Ok(paginated(
        json!(entries),
        "/admin/audit",
        page,
        per_page,
        total,
    ))
}

pub async fn create_user(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    ApiJson(attributes): ApiJson<UserAttributes>,
) -> ApiResult<Json<Value>> {
    Ok(Json(admin::create_user(&state, &client, attributes).await?))
}

pub async fn get_user(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = admin::find(&state, &id).await?;
    Ok(Json(user::user_json(&state, &user).await?))
}

pub async fn update_user(
    State(state): State<SharedState>,
    _admin: Admin,
    client: Client,
    Path(id): Path<String>,
    ApiJson(attributes): ApiJson<UserAttributes>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        admin::update_user(&state, &client, &id, attributes).await?,
    ))
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
    admin::delete_user(&state, &client, &id, params.should_soft_delete).await?;
    Ok(Json(json!({})))
}
