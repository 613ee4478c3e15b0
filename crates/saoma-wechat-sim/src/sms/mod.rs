//! The SMS gateways' behaviour, free of HTTP routing: Aliyun's and Tencent's `SendSms` (their
//! signatures, rules and frequency limits), and the inbox every delivered message lands in.
//! Times are unix seconds passed in, so limits are tested without waiting.

pub mod aliyun;
pub mod crypto;
pub mod tencent;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// Sends and nonces are forgotten after this long (the longest limit is a day).
const MEMORY_SECONDS: i64 = 2 * 86_400;

/// Everything the gateways remember.
#[derive(Debug, Default)]
pub struct SmsState {
    /// Delivered messages by number (digits with country code), oldest first.
    inbox: BTreeMap<String, Vec<Message>>,
    /// Every delivery, for the frequency limits.
    sent: Vec<Sent>,
    /// Aliyun's signature nonces and when they were seen: each is good once.
    nonces: HashMap<String, i64>,
    next_id: u64,
}

/// One delivered text message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: u64,
    /// `aliyun` or `tencent`.
    pub gateway: &'static str,
    /// The number as stored: digits with country code, e.g. `8613800000000`.
    pub phone: String,
    pub sign_name: String,
    pub template: String,
    /// The whole text the phone shows: `【签名】` and the filled-in template.
    pub text: String,
    /// The template's first all-digit value (the one-time code), if any.
    pub code: Option<String>,
    /// Unix seconds.
    pub sent_at: i64,
}

#[derive(Debug)]
struct Sent {
    gateway: &'static str,
    /// What the gateway's limit is per: Aliyun's signature, Tencent's SdkAppId.
    scope: String,
    phone: String,
    at: i64,
}

impl SmsState {
    /// Messages to `phone` (any spelling [`normalize_phone`] accepts), newest first.
    pub fn inbox(&self, phone: &str) -> Vec<Message> {
        let phone = normalize_phone(phone).unwrap_or_else(|| phone.to_owned());
        let mut messages = self.inbox.get(&phone).cloned().unwrap_or_default();
        messages.reverse();
        messages
    }

    /// Every number with messages, and how many.
    pub fn numbers(&self) -> Vec<(String, usize)> {
        self.inbox
            .iter()
            .map(|(phone, messages)| (phone.clone(), messages.len()))
            .collect()
    }

    /// Forgets every message and every counted send (a fresh start for a test run).
    pub fn reset(&mut self) {
        self.inbox.clear();
        self.sent.clear();
    }

    /// How many sends `gateway` made to `phone` within `scope` at or after `since`.
    fn count_since(&self, gateway: &str, scope: &str, phone: &str, since: i64) -> usize {
        self.sent
            .iter()
            .filter(|sent| sent.gateway == gateway && sent.scope == scope && sent.phone == phone)
            .filter(|sent| sent.at >= since)
            .count()
    }

    /// Records a nonce; false if it was seen before.
    fn fresh_nonce(&mut self, nonce: &str, now: i64) -> bool {
        self.nonces.retain(|_, seen| now - *seen < MEMORY_SECONDS);
        self.nonces.insert(nonce.to_owned(), now).is_none()
    }

    fn deliver(&mut self, delivery: Delivery<'_>, now: i64) -> &Message {
        self.sent.retain(|sent| now - sent.at < MEMORY_SECONDS);
        self.sent.push(Sent {
            gateway: delivery.gateway,
            scope: delivery.scope.to_owned(),
            phone: delivery.phone.to_owned(),
            at: now,
        });
        self.next_id += 1;
        let message = Message {
            id: self.next_id,
            gateway: delivery.gateway,
            phone: delivery.phone.to_owned(),
            sign_name: delivery.sign_name.to_owned(),
            template: delivery.template.to_owned(),
            text: format!("【{}】{}", delivery.sign_name, delivery.body),
            code: delivery
                .values
                .iter()
                .find(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                .cloned(),
            sent_at: now,
        };
        tracing::info!(gateway = message.gateway, phone = %message.phone, text = %message.text, "SMS delivered");
        let messages = self.inbox.entry(message.phone.clone()).or_default();
        messages.push(message);
        // The entry was just pushed to.
        &messages[messages.len() - 1]
    }
}

struct Delivery<'a> {
    gateway: &'static str,
    scope: &'a str,
    phone: &'a str,
    sign_name: &'a str,
    template: &'a str,
    body: &'a str,
    values: &'a [String],
}

/// A number as both gateways accept it (`+86…`, `0086…`, `86…`, or a bare 11-digit mainland
/// number) → digits with country code; `None` if it is not a phone number. Mainland numbers
/// are `86` and 11 digits starting with 1; others 7 to 15 digits in all (E.164).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let digits = raw
        .strip_prefix('+')
        .or_else(|| raw.strip_prefix("00"))
        .unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = if digits.len() == 11 && digits.starts_with('1') && raw == digits {
        format!("86{digits}")
    } else {
        digits.to_owned()
    };
    let valid = match full.strip_prefix("86") {
        Some(national) => national.len() == 11 && national.starts_with('1'),
        None => (7..=15).contains(&full.len()) && !full.starts_with('0'),
    };
    valid.then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_the_gateways_read_them() {
        for spelling in [
            "+8613800000000",
            "008613800000000",
            "8613800000000",
            "13800000000",
        ] {
            assert_eq!(
                normalize_phone(spelling).as_deref(),
                Some("8613800000000"),
                "{spelling}"
            );
        }
        assert_eq!(
            normalize_phone("+85291234567").as_deref(),
            Some("85291234567")
        );
        assert_eq!(normalize_phone("8612345"), None);
        assert_eq!(normalize_phone("+86 138"), None);
        assert_eq!(normalize_phone(""), None);
    }

    #[test]
    fn the_inbox_lists_newest_first_under_any_spelling() {
        let mut state = SmsState::default();
        for (code, at) in [("111111", 10), ("222222", 20)] {
            let values = [code.to_owned()];
            state.deliver(
                Delivery {
                    gateway: "aliyun",
                    scope: "s",
                    phone: "8613800000000",
                    sign_name: "签名",
                    template: "T",
                    body: &format!("code {code}"),
                    values: &values,
                },
                at,
            );
        }
        let inbox = state.inbox("+8613800000000");
        assert_eq!(inbox.len(), 2);
        assert_eq!(inbox[0].code.as_deref(), Some("222222"));
        assert_eq!(inbox[0].text, "【签名】code 222222");
        assert_eq!(state.count_since("aliyun", "s", "8613800000000", 15), 1);
        state.reset();
        assert!(state.inbox("8613800000000").is_empty());
    }
}
