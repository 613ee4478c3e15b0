//! `GET /user` and `PUT /user`.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    auth::user::{self, UserUpdate},
    domain::user::UserView,
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiJson, ApiQuery, Authenticated, Client},
        handlers::email::{link_options, PkceFields, RedirectQuery},
    },
    state::SharedState,
};

/// Serialised straight from the rows the token check read: no second lookup, no
/// intermediate `Value`, and once per read (this is the hottest endpoint, behind every
/// `getUser()`; on SQLite one read may answer many requests).
pub async fn get_user(auth: Authenticated) -> Response {
    let rendered = auth
        .principal()
        .rendered(|p| serde_json::to_vec(&UserView::new(&p.user, &p.identities)));
    let body = match rendered {
        Ok(body) => body,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct UpdateUserRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    app_metadata: Option<Value>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(flatten)]
    pkce: PkceFields,
}

pub async fn update_user(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    ApiQuery(query): ApiQuery<RedirectQuery>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<Value>> {
    let link = link_options(query, &req.pkce)?;
    let update = UserUpdate {
        nonce: req.nonce,
        link,
        email: present(&req.email).map(str::to_owned),
        phone: present(&req.phone).map(str::to_owned),
        password: req.password,
        data: req.data,
        app_metadata: req.app_metadata,
    };
    let user = user::update(&state, auth.user(), auth.session(), &client, update).await?;
    Ok(Json(user))
}
