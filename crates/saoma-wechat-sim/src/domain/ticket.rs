//! A QR login ticket: born when the QR page is shown, scanned and settled by the phone, watched
//! by the page's poll.

use std::time::{Duration, Instant};

/// How long a QR code can be scanned; WeChat's expire after about five minutes.
pub const QR_LIFETIME: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
pub struct Ticket {
    pub appid: String,
    pub created: Instant,
    pub status: TicketStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketStatus {
    Waiting,
    Scanned,
    Confirmed { code: String },
    Cancelled,
}

/// What the QR page learns from a poll; `errcode` is WeChat's `window.wx_errcode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollAnswer {
    Waiting,
    Scanned,
    Confirmed { code: String },
    Cancelled,
    Expired,
}

impl PollAnswer {
    pub fn errcode(&self) -> u16 {
        match self {
            PollAnswer::Waiting => 408,
            PollAnswer::Scanned => 404,
            PollAnswer::Confirmed { .. } => 405,
            PollAnswer::Cancelled => 403,
            PollAnswer::Expired => 402,
        }
    }
}

/// Why the phone cannot act on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// No such uuid (or forgotten long ago).
    Unknown,
    Expired,
    /// Already confirmed or cancelled: a QR code logs in once.
    Settled,
}

impl Ticket {
    pub fn new(appid: String, now: Instant) -> Self {
        Ticket {
            appid,
            created: now,
            status: TicketStatus::Waiting,
        }
    }

    /// Only an open ticket expires; a settled one keeps its answer so a late poll still
    /// learns the outcome.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.is_open() && now.saturating_duration_since(self.created) >= QR_LIFETIME
    }

    fn is_open(&self) -> bool {
        matches!(self.status, TicketStatus::Waiting | TicketStatus::Scanned)
    }

    pub fn poll(&self, now: Instant) -> PollAnswer {
        if self.is_expired(now) {
            return PollAnswer::Expired;
        }
        match &self.status {
            TicketStatus::Waiting => PollAnswer::Waiting,
            TicketStatus::Scanned => PollAnswer::Scanned,
            TicketStatus::Confirmed { code } => PollAnswer::Confirmed { code: code.clone() },
            TicketStatus::Cancelled => PollAnswer::Cancelled,
        }
    }

    /// The phone opened the QR link.
    pub fn scan(&mut self, now: Instant) -> Result<(), TicketError> {
        self.ensure_open(now)?;
        self.status = TicketStatus::Scanned;
        Ok(())
    }

    /// The phone confirmed or cancelled; `settled` is the final status.
    pub fn settle(&mut self, now: Instant, settled: TicketStatus) -> Result<(), TicketError> {
        self.ensure_open(now)?;
        self.status = settled;
        Ok(())
    }

    pub fn ensure_open(&self, now: Instant) -> Result<(), TicketError> {
        if !self.is_open() {
            Err(TicketError::Settled)
        } else if self.is_expired(now) {
            Err(TicketError::Expired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_waiting_scanned_confirmed() {
        let now = Instant::now();
        let mut ticket = Ticket::new("app".into(), now);
        assert_eq!(ticket.poll(now).errcode(), 408);
        ticket.scan(now).unwrap();
        assert_eq!(ticket.poll(now).errcode(), 404);
        let code = "c0de".to_owned();
        ticket
            .settle(now, TicketStatus::Confirmed { code: code.clone() })
            .unwrap();
        assert_eq!(ticket.poll(now), PollAnswer::Confirmed { code });
        assert_eq!(ticket.scan(now), Err(TicketError::Settled));
    }

    #[test]
    fn open_ticket_expires_after_five_minutes_settled_one_does_not() {
        let now = Instant::now();
        let later = now + QR_LIFETIME;
        let mut open = Ticket::new("app".into(), now);
        assert_eq!(open.poll(later).errcode(), 402);
        assert_eq!(open.scan(later), Err(TicketError::Expired));
        let mut cancelled = Ticket::new("app".into(), now);
        cancelled.settle(now, TicketStatus::Cancelled).unwrap();
        assert_eq!(cancelled.poll(later).errcode(), 403);
    }
}
