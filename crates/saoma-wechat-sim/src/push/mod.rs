//! Pushing a 公众号's events to its server as WeChat does: signed query, plain or 安全模式
//! XML, five seconds per attempt, three retries, and every attempt on record.

pub mod crypto;
mod deliver;
pub mod xml;

pub use deliver::PushAttempt;
pub(crate) use deliver::{deliver, Delivered};
