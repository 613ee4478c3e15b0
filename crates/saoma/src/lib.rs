//! saoma: a self-hosted authentication server that speaks Supabase Auth's (GoTrue's) wire
//! protocol, with WeChat login as a first-class citizen.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod providers;
pub mod rate_limit;
pub mod state;
pub mod store;
pub mod sweeper;
pub mod sync;
pub mod tokens;

pub use app::Application;
pub use config::Config;
