//! One event's delivery: up to [`ATTEMPTS`] POSTs until the server answers as WeChat wants
//! (HTTP 200 with `success`, an empty body, or a passive reply), each cut off after the
//! configured timeout, each recorded in the app's push log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::crypto::{signature, AesKey};
use super::xml::{self, EventXml};
use crate::config::{PushConfig, PushMode};
use crate::domain::mp_qr::ScanEvent;
use crate::ids;
use crate::simulator::Shared;

/// The first attempt and WeChat's three retries.
const ATTEMPTS: u32 = 4;

/// One POST to the app's server, as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushAttempt {
    /// When it was sent, in Unix milliseconds.
    pub at_ms: u64,
    pub openid: String,
    /// `subscribe` or `SCAN`.
    pub event: String,
    pub create_time: u64,
    /// 1, or 2 for the copy the `duplicate_push` fault sends.
    pub delivery: u32,
    /// 1 to 4 within a delivery.
    pub attempt: u32,
    /// The server's HTTP status; `None` when it did not answer in time or at all.
    pub status: Option<u16>,
    pub body: String,
    /// Why there is no status ("timeout", a connection error).
    pub error: Option<String>,
    /// Whether WeChat took the answer (and so stopped retrying).
    pub answered: bool,
}

/// What the phone's confirmation reports about the pushes it caused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    /// Deliveries started: 1, 2 with `duplicate_push`, 0 without a push URL.
    pub pushed: u32,
    /// POSTs sent, retries included.
    pub attempts: u32,
    /// The last attempt's HTTP status.
    pub status: Option<u16>,
    /// The last attempt's body.
    pub body: Option<String>,
}

/// Pushes `event` to the app's server (if it has a push URL), honouring the push faults.
pub async fn deliver(shared: &Shared, event: &ScanEvent) -> Delivered {
    let (config, faults) = {
        let state = shared.lock();
        (
            state.push_configs.get(&event.appid).cloned(),
            state.faults.clone(),
        )
    };
    let Some((config, url)) = config.and_then(|config| {
        let url = url::Url::parse(config.url.as_deref()?).ok()?;
        Some((config, url))
    }) else {
        tracing::info!(appid = %event.appid, "no push URL; event not pushed");
        return Delivered::default();
    };
    let create_time = unix_ms() / 1000;
    let message = EventXml {
        to_user: &ids::original_id(&event.appid),
        from_openid: &event.openid,
        create_time,
        event: event.event,
        event_key: &event.event_key,
        ticket: &event.ticket,
    }
    .render();
    let sender = Sender {
        shared,
        config: &config,
        url,
        event,
        message,
        create_time,
        bad_signature: faults.bad_push_signature,
    };
    let deliveries = if faults.duplicate_push { 2 } else { 1 };
    let mut outcome = Delivered::default();
    for delivery in 1..=deliveries {
        outcome.pushed += 1;
        for attempt in 1..=ATTEMPTS {
            let record = sender.attempt(delivery, attempt).await;
            outcome.attempts += 1;
            outcome.status = record.status;
            outcome.body = Some(record.body.clone());
            let answered = record.answered;
            shared
                .lock()
                .push_log
                .entry(event.appid.clone())
                .or_default()
                .push(record);
            if answered {
                break;
            }
        }
    }
    outcome
}

struct Sender<'a> {
    shared: &'a Shared,
    config: &'a PushConfig,
    url: url::Url,
    event: &'a ScanEvent,
    message: String,
    create_time: u64,
    bad_signature: bool,
}

impl Sender<'_> {
    async fn attempt(&self, delivery: u32, attempt: u32) -> PushAttempt {
        let at_ms = unix_ms();
        let timestamp = (at_ms / 1000).to_string();
        let nonce = ids::digits(10);
        let token = if self.bad_signature {
            format!("{}-wrong", self.config.token)
        } else {
            self.config.token.clone()
        };
        let mut url = self.url.clone();
        let body = {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("signature", &signature(&[&token, &timestamp, &nonce]))
                .append_pair("timestamp", &timestamp)
                .append_pair("nonce", &nonce)
                .append_pair("openid", &self.event.openid);
            match (
                self.config.mode,
                AesKey::from_encoding_key(&self.config.encoding_aes_key),
            ) {
                (PushMode::Safe, Ok(key)) => {
                    let encrypt = key.encrypt(rand::random(), &self.message, &self.event.appid);
                    let msg_signature = signature(&[&token, &timestamp, &nonce, &encrypt]);
                    query
                        .append_pair("encrypt_type", "aes")
                        .append_pair("msg_signature", &msg_signature);
                    xml::encrypted_body(&ids::original_id(&self.event.appid), &encrypt)
                }
                // A key WeChat's console would not accept: the simulator falls back to clear.
                _ => self.message.clone(),
            }
        };
        let timeout = Duration::from_millis(self.shared.config.push_timeout_ms);
        let sent = self
            .shared
            .http
            .post(url)
            .header("content-type", "text/xml")
            .timeout(timeout)
            .body(body)
            .send()
            .await;
        let (status, body, error) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => (Some(status), text, None),
                    Err(error) => (None, String::new(), Some(describe(&error))),
                }
            }
            Err(error) => (None, String::new(), Some(describe(&error))),
        };
        let answered = status == Some(200) && self.accepts(&body);
        tracing::info!(appid = %self.event.appid, event = self.event.event, delivery, attempt, ?status, answered, "event pushed");
        PushAttempt {
            at_ms,
            openid: self.event.openid.clone(),
            event: self.event.event.to_owned(),
            create_time: self.create_time,
            delivery,
            attempt,
            status,
            body,
            error,
            answered,
        }
    }

    /// `success`, nothing, a passive reply, or (安全模式) an encrypted passive reply that is
    /// signed with the Token and made for this app.
    fn accepts(&self, body: &str) -> bool {
        if body.is_empty() || body == "success" || xml::is_passive_reply(body) {
            return true;
        }
        let Some(encrypt) = xml::field(body, "Encrypt") else {
            return false;
        };
        let signed = match (
            xml::field(body, "MsgSignature"),
            xml::field(body, "TimeStamp"),
            xml::field(body, "Nonce"),
        ) {
            (Some(sign), Some(timestamp), Some(nonce)) => {
                sign == signature(&[&self.config.token, &timestamp, &nonce, &encrypt])
            }
            _ => false,
        };
        let decrypted = AesKey::from_encoding_key(&self.config.encoding_aes_key)
            .and_then(|key| key.decrypt(&encrypt));
        signed
            && decrypted.is_ok_and(|(reply, appid)| {
                appid == self.event.appid && xml::is_passive_reply(&reply)
            })
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else {
        error.to_string()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
