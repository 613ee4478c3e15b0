//! A provider app's own access token (WeChat's `cgi-bin/stable_token`), shared by every node
//! through the database: fetching a new one can retire the previous one, and WeChat caps
//! fetches per day, so nodes must not each keep their own.
//!
//! One node at a time holds the row's lease while it fetches; the others wait for the row to
//! change instead of fetching too.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct AppToken {
    /// The provider app (WeChat AppID). Apps of several providers with one AppID (a
    /// mini-program used by `wechat_mini` and `wechat_mini_qr`) share the row.
    pub app_id: String,
    /// The token as stored (sealed by the caller: the store never sees it in the clear).
    pub access_token: Option<String>,
    /// When WeChat says the token stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// The node fetching a token now, and until when it may.
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The last forced refresh (WeChat allows one per 30 s, 20 a day).
    pub forced_at: Option<DateTime<Utc>>,
    /// Forced refreshes on the day of `forced_at`.
    pub forced_today: i32,
    pub updated_at: DateTime<Utc>,
}
