//! The HTTP layer: routes, extractors and the error format. Every route is served both under
//! `/auth/v1` (where supabase-js looks) and at the root (where bare GoTrue clients look).

mod detach;
mod envelope;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod serve;
mod storable;

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderName, Method},
    middleware,
    routing::{delete, get, post, put},
    Router,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::state::SharedState;
use detach::writes;
use error::ApiError;
use handlers::{
    admin, email, health, identities, logout, oauth, otp, scan_login, signup, token, user,
    wechat_mini,
};

/// The routes of the auth API, relative to its mount point.
fn api_routes() -> Router<SharedState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/settings", get(health::settings))
        .route("/.well-known/jwks.json", get(health::jwks))
        .route("/signup", writes(post(signup::signup)))
        .route("/token", writes(post(token::token)))
        .route("/otp", writes(post(otp::otp)))
        .route("/verify", writes(post(otp::verify).get(email::verify_link)))
        .route("/resend", writes(post(otp::resend)))
        .route("/magiclink", writes(post(email::magic_link)))
        .route("/recover", writes(post(email::recover)))
        .route("/reauthenticate", writes(get(email::reauthenticate)))
        .route("/invite", writes(post(email::invite)))
        .route("/admin/generate_link", writes(post(email::generate_link)))
        .route(
            "/user",
            get(user::get_user).merge(writes(put(user::update_user))),
        )
        .route("/logout", writes(post(logout::logout)))
        .route("/authorize", writes(get(oauth::authorize)))
        .route("/user/identities/authorize", writes(get(identities::link)))
        .route(
            "/user/identities/{identity_id}",
            writes(delete(identities::unlink)),
        )
        .route("/wechat_mini/login", writes(get(wechat_mini::mini_login)))
        .route(
            "/wechat_mini/bind_account",
            writes(get(wechat_mini::bind_account)),
        )
        .route(
            "/wechat_mini/bind_phone",
            writes(get(wechat_mini::bind_phone)),
        )
        .route("/wechat_app/login", writes(get(wechat_mini::app_login)))
        .route(
            "/wechat_mini/unlimited_qrcode",
            writes(post(scan_login::unlimited_qrcode)),
        )
        .route("/scan_login", get(scan_login::waiting_page))
        .route("/scan_login/ticket", writes(post(scan_login::ticket)))
        .route("/scan_login/poll", post(scan_login::poll))
        .route("/wechat_mini/qr/scan", writes(post(scan_login::mini_scan)))
        .route(
            "/wechat_mini/qr/confirm",
            writes(post(scan_login::mini_confirm)),
        )
        .route(
            "/wechat_mini/qr/cancel",
            writes(post(scan_login::mini_cancel)),
        )
        .route(
            "/wechat_mp/notify",
            get(scan_login::mp_verify).merge(writes(post(scan_login::mp_notify))),
        )
        .route(
            "/callback",
            writes(get(oauth::callback_get).post(oauth::callback_post)),
        )
        .route(
            "/admin/users",
            get(admin::list_users).merge(writes(post(admin::create_user))),
        )
        .route(
            "/admin/users/{user_id}",
            get(admin::get_user).merge(writes(put(admin::update_user).delete(admin::delete_user))),
        )
        .route("/admin/audit", get(admin::list_audit))
        .route("/openapi.json", get(health::openapi))
}

/// The metrics listener's routes: `/metrics` only, never on the API's port (and so not in
/// `api_routes`, which `openapi.json` documents).
pub fn metrics_router(state: SharedState) -> Router {
    Router::new()
        .route_service("/metrics", get(health::metrics).with_state(state))
        .fallback(not_found)
}

pub fn router(state: SharedState) -> Router {
    Router::new()
        .nest("/auth/v1", api_routes())
        .merge(api_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(cors())
        .layer(middleware::from_fn_with_state(
            (state.clone(), envelope::RequestIds::new()),
            envelope::envelope,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method Not Allowed",
    )
}

/// GoTrue's CORS rules (any origin, credentials allowed) plus the headers browsers send
/// through supabase-js, `apikey` among them.
fn cors() -> CorsLayer {
    const HEADERS: [&str; 10] = [
        "accept",
        "authorization",
        "content-type",
        "apikey",
        "x-client-ip",
        "x-client-info",
        "x-jwt-aud",
        "x-use-cookie",
        "x-supabase-api-version",
        "x-retry-count",
    ];
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(HEADERS.map(HeaderName::from_static))
        .expose_headers([
            HeaderName::from_static("x-total-count"),
            header::LINK,
            HeaderName::from_static("x-supabase-api-version"),
            envelope::REQUEST_ID,
        ])
}
