//! One module per endpoint group.

pub mod admin;
pub mod email;
pub mod health;
pub mod identities;
pub mod logout;
pub mod oauth;
pub mod otp;
pub mod scan_login;
pub mod signup;
pub mod token;
pub mod user;
pub mod wechat_mini;
