//! HTTP tests of the simulator, each against its own instance on 127.0.0.1:0. One test binary
//! (with modules) keeps link time down.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod faults;
mod flows;
mod helpers;
mod index;
mod login_page;
mod mini;
mod mini_open;
mod mobile_app;
mod mp_qrcode;
mod official_account;
mod phone_number;
mod pictures;
mod poll;
mod push;
mod sms;
mod stable_token;
mod token;
mod unionid;
mod userinfo;
mod wxacode;
