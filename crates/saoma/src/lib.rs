//! saoma: a self-hosted authentication server that speaks Supabase Auth's (GoTrue's) wire
//! protocol, with WeChat login as a first-class citizen.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hex;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod providers;
pub mod sms;
pub mod state;
pub mod store;
pub mod sweeper;
pub mod sync;
pub mod webhook;

pub use app::Application;
pub use config::Config;
