//! One module per endpoint group.

pub mod health;
pub mod logout;
pub mod oauth;
pub mod signup;
pub mod token;
pub mod user;
