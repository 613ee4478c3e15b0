//! HTTP tests: each spawns saoma on port 0 with a fresh database (SQLite by default,
//! Postgres with `SAOMA_TEST_DATABASE=postgres`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../common/db.rs"]
mod db;
mod helpers;

mod admin;
mod adopt_gotrue;
mod bad_input;
mod cancellation;
mod db_faults;
mod edge;
mod email;
mod email_attacks;
mod health;
mod integrity;
mod jwt;
mod limits;
mod logout;
mod oauth_security;
mod openapi;
mod operations;
mod password_grant;
mod phone;
mod pkce;
mod redirects;
mod refresh;
mod restart;
mod signup;
mod sms_gateways;
mod user;
mod wechat_everywhere;
mod wechat_helpers;
mod wechat_qr;
mod wechat_scan;
mod wechat_tokens;
