//! A scan-to-log-in ticket: what a browser waits on while a person scans a code with WeChat
//! (a mini-program code for `wechat_mini_qr`, a 公众号's parametric QR code for
//! `wechat_mp_qr`). The ticket lives in the database, so any node may render the page,
//! receive the scan and answer the poll.
//!
//! The `scene` travels in the code, so anyone who sees the screen knows it: it only names the
//! ticket. What continues the login is the browser secret, which only the page that asked for
//! the ticket holds (stored here as its hash).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// How long a person has to scan and confirm. WeChat's own QR login gives a few minutes; a
/// 公众号's temporary code is created with this expiry too.
pub const SCAN_TICKET_LIFETIME: Duration = Duration::minutes(5);
/// How long past the last moment to scan a confirmed ticket may still be redeemed: the
/// browser polls every second or two, and a confirm in the last second must not be lost.
pub const REDEEM_GRACE: Duration = Duration::minutes(1);

/// Where a ticket is in its life. Only forward moves exist: waiting → scanned → confirmed →
/// redeemed, or → cancelled; an expired ticket stays as it was and is refused by its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// The code is on screen; nobody scanned it yet.
    Waiting,
    /// A phone opened it (mini-program page shown); not confirmed yet.
    Scanned,
    /// WeChat vouched for the person; the browser may continue.
    Confirmed,
    /// The person said no on the phone.
    Cancelled,
    /// The browser continued to `/callback` with it: used up.
    Redeemed,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Scanned => "scanned",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Redeemed => "redeemed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "waiting" => Self::Waiting,
            "scanned" => Self::Scanned,
            "confirmed" => Self::Confirmed,
            "cancelled" => Self::Cancelled,
            "redeemed" => Self::Redeemed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanTicket {
    /// What the code carries (WeChat's `scene` / `scene_str`): ≤ 32 characters of
    /// `[0-9A-Za-z]`. Unique.
    pub scene: String,
    /// `wechat_mini_qr` or `wechat_mp_qr`.
    pub provider: String,
    /// The `/authorize` flow this ticket continues.
    pub flow_id: Uuid,
    /// SHA-256 (hex) of the secret the waiting browser holds.
    pub browser_secret_hash: String,
    pub status: ScanStatus,
    /// The person WeChat vouched for (`ProviderUser` as JSON), once confirmed.
    pub person: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ScanTicket {
    /// A ticket the browser will wait on until `scannable_until`; the row lives
    /// [`REDEEM_GRACE`] longer, so that a last-second confirm can still be redeemed.
    pub fn new(
        scene: String,
        provider: &str,
        flow_id: Uuid,
        browser_secret_hash: String,
        now: DateTime<Utc>,
        scannable_until: DateTime<Utc>,
    ) -> Self {
        Self {
            scene,
            provider: provider.to_owned(),
            flow_id,
            browser_secret_hash,
            status: ScanStatus::Waiting,
            person: None,
            created_at: now,
            expires_at: scannable_until + REDEEM_GRACE,
            updated_at: now,
        }
    }

    /// The last moment a phone may scan, confirm or cancel.
    pub fn scannable_until(&self) -> DateTime<Utc> {
        self.expires_at - REDEEM_GRACE
    }

    /// Past the moment to scan: a waiting browser shows a new code.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.scannable_until()
    }
}
