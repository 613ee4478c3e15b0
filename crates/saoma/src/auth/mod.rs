//! The auth services: what each endpoint does, apart from HTTP. Handlers parse a request,
//! call one service and render its answer; a service takes the shared state (store, clock,
//! keys, config, providers) and the [`Client`], and refuses with an [`AuthError`], which
//! one table maps to GoTrue's status and `error_code`.

pub mod accounts;
pub mod admin;
pub mod audit;
mod client;
pub mod code_login;
pub mod email;
pub mod error;
pub mod external;
pub mod oauth_flow;
pub mod one_time_codes;
pub mod phone;
pub mod pkce;
pub mod rate_limit;
pub mod refresh;
pub mod scan_login;
pub mod sign_in;
pub mod signup;
pub mod tokens;
pub mod user;

pub use client::Client;
pub use error::{AuthError, AuthResult};

/// A request field with its whitespace trimmed, or `None` when missing or blank (clients send
/// `""` for fields they do not use).
pub fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
