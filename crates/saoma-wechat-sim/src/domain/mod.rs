//! WeChat's behaviour, free of HTTP: tickets, grants, the `sns/*`, mini-program and
//! phone-number rules. Every operation takes the current `Instant`, so expiry is tested
//! without sleeping.

pub mod app_tokens;
pub mod grants;
pub mod issue;
pub mod mini;
pub mod mp_qr;
pub mod oauth;
pub mod phone;
mod remembered;
pub mod scope;
pub mod stable_token;
pub mod ticket;
mod wx_error;
pub mod wxacode;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use wx_error::WxError;

use crate::faults::Faults;
use ticket::{PollAnswer, Ticket, TicketError, TicketStatus};

/// Tickets are forgotten this long after their QR code was shown.
const TICKET_MEMORY: Duration = Duration::from_secs(3600);

/// Seconds since the Unix epoch, for the timestamps WeChat sends.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Everything the simulator remembers; it lives behind one mutex.
#[derive(Debug, Default)]
pub struct State {
    pub tickets: remembered::Remembered<Ticket, { TICKET_MEMORY.as_secs() }>,
    pub grants: grants::Grants,
    pub app_tokens: app_tokens::AppTokens,
    pub faults: Faults,
    pub sms: crate::sms::SmsState,
    pub official_accounts: mp_qr::OfficialAccounts,
    /// Mini-programs' request domains, seeded from the config and settable at run time.
    pub server_urls: HashMap<String, String>,
    /// 公众号 push configurations, seeded from the config and settable at run time.
    pub push_configs: HashMap<String, crate::config::PushConfig>,
    /// Every push attempt, per 公众号, oldest first.
    pub push_log: HashMap<String, Vec<crate::push::PushAttempt>>,
}

impl State {
    /// The busy fault: while it counts down, code exchanges answer -1 "system error".
    pub fn take_busy(&mut self) -> Result<(), WxError> {
        if self.faults.busy > 0 {
            self.faults.busy -= 1;
            return Err(WxError::Busy);
        }
        Ok(())
    }

    /// Opens a login ticket for `appid` and returns its uuid.
    pub fn open_ticket(&mut self, appid: &str, now: Instant) -> String {
        let uuid = crate::ids::random(16);
        self.tickets
            .insert(uuid.clone(), Ticket::new(appid.to_owned(), now), now);
        uuid
    }

    /// The page's poll; an unknown uuid looks like an expired QR code.
    pub fn poll(&self, uuid: &str, now: Instant) -> PollAnswer {
        self.tickets
            .get(uuid)
            .map_or(PollAnswer::Expired, |ticket| ticket.poll(now))
    }

    /// The phone opened the QR link; returns the ticket's appid.
    pub fn scan(&mut self, uuid: &str, now: Instant) -> Result<String, TicketError> {
        let ticket = self.tickets.get_mut(uuid).ok_or(TicketError::Unknown)?;
        ticket.scan(now)?;
        Ok(ticket.appid.clone())
    }

    /// The phone confirmed as `persona`: a code bound to (appid, persona) is issued and handed
    /// to the page's next poll.
    pub fn confirm(&mut self, uuid: &str, persona: &str, now: Instant) -> Result<(), TicketError> {
        let ticket = self.tickets.get_mut(uuid).ok_or(TicketError::Unknown)?;
        ticket.ensure_open(now)?;
        let subject = grants::Subject {
            appid: ticket.appid.clone(),
            persona: persona.to_owned(),
            scope: scope::Scope::Login,
        };
        let code = self.grants.issue_code(
            subject,
            grants::Purpose::OAuth,
            grants::LONG_CODE_LIFETIME,
            now,
        );
        ticket.settle(now, TicketStatus::Confirmed { code })
    }

    pub fn cancel(&mut self, uuid: &str, now: Instant) -> Result<(), TicketError> {
        let ticket = self.tickets.get_mut(uuid).ok_or(TicketError::Unknown)?;
        ticket.settle(now, TicketStatus::Cancelled)
    }

    /// The appid a ticket was opened for.
    pub fn ticket_appid(&self, uuid: &str) -> Option<&str> {
        self.tickets.get(uuid).map(|ticket| ticket.appid.as_str())
    }
}
