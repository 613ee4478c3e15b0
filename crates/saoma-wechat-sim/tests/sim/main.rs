//! HTTP tests of the simulator, each against its own instance on 127.0.0.1:0. One test binary
//! (with modules) keeps link time down.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod faults;
mod flows;
mod helpers;
mod index;
mod login_page;
mod mini;
mod mobile_app;
mod official_account;
mod phone_number;
mod pictures;
mod poll;
mod sms;
mod token;
mod unionid;
mod userinfo;
