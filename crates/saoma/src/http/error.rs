//! One API error type, rendered in GoTrue's wire format.
//!
//! Handlers return [`ApiError`]; the services' [`AuthError`] becomes one through the table in
//! `auth::error` (the HTTP layer's own refusals, such as bad JWTs or oversized bodies, are
//! built here directly). Its `IntoResponse` writes the 2024-01-01 shape and stashes
//! the error in the response extensions, so [`render_for_api_version`] can rewrite it into the
//! legacy shape when the request did not ask for the new API version. Internal causes are
//! logged, never sent.

use axum::{
    body::Body,
    http::{header, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{auth::AuthError, providers::ProviderError, store::StoreError};

pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-supabase-api-version");
pub const ERROR_CODE_HEADER: HeaderName = HeaderName::from_static("x-sb-error-code");
/// The only API version GoTrue has defined so far.
pub const API_VERSION_2024: &str = "2024-01-01";

/// An error as GoTrue reports it: HTTP status, machine-readable code, human message.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// What actually went wrong, for the log only.
    pub internal: Option<String>,
    /// An extra top-level key of the body, e.g. `weak_password: {reasons}`.
    pub extra: Option<(&'static str, serde_json::Value)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            internal: None,
            extra: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("validation_failed", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            crate::auth::error::UNEXPECTED_MESSAGE,
        );
        err.internal = Some(cause.to_string());
        err
    }

    /// The same error, answered 503 (for health checks: the node is up but cannot serve).
    pub fn unavailable(mut self) -> Self {
        self.status = StatusCode::SERVICE_UNAVAILABLE;
        self
    }

    pub fn with_internal(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal = Some(cause.to_string());
        self
    }

    fn body_2024(&self) -> serde_json::Value {
        self.with_extra(json!({ "code": self.code, "message": self.message }))
    }

    fn body_legacy(&self) -> serde_json::Value {
        self.with_extra(
            json!({ "code": self.status.as_u16(), "error_code": self.code, "msg": self.message }),
        )
    }

    fn with_extra(&self, mut body: serde_json::Value) -> serde_json::Value {
        if let (Some((key, value)), Some(map)) = (&self.extra, body.as_object_mut()) {
            map.insert((*key).to_owned(), value.clone());
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        let wire = err.wire();
        let mut api = ApiError::new(wire.status, wire.code, err.public_message());
        api.internal = err.log_detail();
        if let AuthError::WeakPassword { reasons, .. } = &err {
            api.extra = Some(("weak_password", json!({ "reasons": reasons })));
        }
        api
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        AuthError::from(err).into()
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        AuthError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, internal = ?self.internal, "request failed");
        } else if let Some(internal) = &self.internal {
            tracing::info!(code = self.code, internal, "request rejected");
        }
        let mut response = (self.status, Json(self.body_2024())).into_response();
        if let Ok(value) = HeaderValue::from_str(self.code) {
            response.headers_mut().insert(ERROR_CODE_HEADER, value);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// Whether the request opted into the 2024-01-01 API (dates compare lexically).
pub fn wants_2024_api(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim())
        .is_some_and(|v| v.len() == 10 && v >= API_VERSION_2024)
}

/// Echoes the API version and renders errors in the shape the client asked for; `new_api`
/// is [`wants_2024_api`] of the request.
pub fn render_for_api_version(new_api: bool, mut response: Response) -> Response {
    if new_api {
        response.headers_mut().insert(
            API_VERSION_HEADER,
            HeaderValue::from_static(API_VERSION_2024),
        );
        return response;
    }
    let Some(error) = response.extensions_mut().remove::<ApiError>() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&error.body_legacy()).unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_shapes() {
        let err = ApiError::bad_request("invalid_credentials", "Invalid login credentials");
        assert_eq!(
            err.body_2024(),
            json!({"code": "invalid_credentials", "message": "Invalid login credentials"})
        );
        assert_eq!(
            err.body_legacy(),
            json!({"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"})
        );
    }

    #[test]
    fn weak_password_carries_reasons_in_both_shapes() {
        let err = ApiError::from(AuthError::WeakPassword {
            message: "Password should be at least 6 characters.".into(),
            reasons: vec!["length"],
        });
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.body_2024()["weak_password"],
            json!({"reasons": ["length"]})
        );
        assert_eq!(
            err.body_legacy()["weak_password"],
            json!({"reasons": ["length"]})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal("connection refused to 10.0.0.1");
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.body_2024().to_string().contains("10.0.0.1"));
    }

    #[test]
    fn api_version_parsing() {
        assert!(wants_2024_api(Some(&HeaderValue::from_static(
            "2024-01-01"
        ))));
        assert!(wants_2024_api(Some(&HeaderValue::from_static(
            "2025-06-30"
        ))));
        assert!(!wants_2024_api(Some(&HeaderValue::from_static(
            "2023-12-31"
        ))));
        assert!(!wants_2024_api(Some(&HeaderValue::from_static("garbage"))));
        assert!(!wants_2024_api(None));
    }
}
