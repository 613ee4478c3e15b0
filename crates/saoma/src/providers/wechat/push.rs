//! The receiving end of a 公众号's event pushes (`GET|POST /wechat_mp/notify`): the URL check,
//! the signatures, safe-mode (安全模式) decryption and the flat XML WeChat sends.
//!
//! Pure: no HTTP, no database. The handler feeds it the query and the body and gets back an
//! event or a reason to refuse it. Wire facts: the shared reference wechat.md §8.2.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::{alphabet, Engine};
use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// The largest push body accepted. WeChat's event pushes are a few hundred bytes; this keeps a
/// forged body from costing more than a glance.
pub const MAX_PUSH_BYTES: usize = 64 * 1024;

const ENCODING_AES_KEY_LEN: usize = 43;
/// random(16) ‖ msg_len(4): what precedes the XML in a decrypted push.
const PLAINTEXT_HEADER_LEN: usize = 20;
/// WeChat pads to 32 bytes, not AES's 16.
const WECHAT_PAD_BLOCK: usize = 32;

/// 43 base64 characters carry 258 bits of which the key uses 256; WeChat's console does not
/// zero the two spare bits, so a strict decoder would refuse about three keys in four.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// What one 公众号's server configuration says (开发 → 基本配置): Token, EncodingAESKey, AppID.
pub struct PushKeys {
    token: String,
    aes_keys: Vec<[u8; 32]>,
    app_id: String,
}

impl std::fmt::Debug for PushKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushKeys")
            .field("app_id", &self.app_id)
            .field("aes_keys", &self.aes_keys.len())
            .finish_non_exhaustive()
    }
}

impl PushKeys {
    /// `encoding_aes_keys`: the current EncodingAESKey first, then optionally the previous one
    /// (WeChat advises trying both while rotating); empty for plain mode only. Each must be 43
    /// chars of [A-Za-z0-9] → Err with a message an operator understands.
    pub fn new(token: &str, encoding_aes_keys: &[&str], app_id: &str) -> Result<Self, String> {
        if token.is_empty() {
            return Err("the 公众号 Token (开发 → 基本配置 → 令牌) is empty".to_owned());
        }
        if app_id.is_empty() {
            return Err("the 公众号 AppID is empty".to_owned());
        }
        let aes_keys = encoding_aes_keys
            .iter()
            .enumerate()
            .map(|(position, key)| {
                decode_encoding_aes_key(key).map_err(|why| {
                    let which = if position == 0 { "current" } else { "previous" };
                    format!("the {which} EncodingAESKey (消息加解密密钥) {why}")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            token: token.to_owned(),
            aes_keys,
            app_id: app_id.to_owned(),
        })
    }
}

fn decode_encoding_aes_key(key: &str) -> Result<[u8; 32], String> {
    if key.len() != ENCODING_AES_KEY_LEN || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "must be exactly {ENCODING_AES_KEY_LEN} letters and digits as WeChat shows it, got {} characters",
            key.chars().count()
        ));
    }
    let bytes = LENIENT_BASE64
        .decode(format!("{key}="))
        .map_err(|e| format!("is not valid base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "does not decode to 32 bytes".to_owned())
}

/// The query WeChat puts on every push and on the URL check.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PushQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub echostr: Option<String>,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
    pub openid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the push's signature does not match this 公众号's Token")]
    BadSignature,
    #[error("the push was encrypted for another 公众号 (AppID mismatch)")]
    NotOurApp,
    #[error("the push body is larger than {MAX_PUSH_BYTES} bytes")]
    TooLarge,
    #[error("malformed push: {0}")]
    Malformed(String),
    #[error("a plain (明文) push, while the 公众号 is configured for 安全模式")]
    PlainInSafeMode,
    #[error("the push's timestamp is too far from now: an old signed query replayed")]
    Stale,
}

fn malformed(why: impl Into<String>) -> PushError {
    PushError::Malformed(why.into())
}

/// One event push, as WeChat's flat XML states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// ToUserName: the 公众号's original id (`gh_…`).
    pub to_user: String,
    /// FromUserName: the user's openid under this 公众号.
    pub openid: String,
    pub create_time: i64,
    pub msg_type: String,
    pub event: Option<String>,
    pub event_key: Option<String>,
    pub ticket: Option<String>,
}

impl PushEvent {
    /// The login scene this event reports, if it is a scan of a parametric code:
    /// `subscribe` with EventKey `qrscene_<scene>` → scene; `SCAN` with EventKey `<scene>` → scene;
    /// anything else None.
    pub fn scanned_scene(&self) -> Option<&str> {
        if !self.msg_type.eq_ignore_ascii_case("event") {
            return None;
        }
        let event = self.event.as_deref()?;
        let key = self.event_key.as_deref()?;
        let scene = if event.eq_ignore_ascii_case("subscribe") {
            // A follow from search or a profile card has no (or an empty) EventKey.
            key.strip_prefix("qrscene_")?
        } else if event.eq_ignore_ascii_case("SCAN") {
            key
        } else {
            return None;
        };
        (!scene.is_empty()).then_some(scene)
    }

    /// The key WeChat's retries share (FromUserName + CreateTime, as WeChat's docs say to dedupe on).
    pub fn dedupe_key(&self) -> String {
        // openids are [A-Za-z0-9_-], so the colon cannot be forged into another pair.
        format!("{}:{}", self.openid, self.create_time)
    }
}

/// How far a push's `timestamp` may be from saoma's clock, in seconds: WeChat sends at once
/// and retries within 15 s. An older signed query (from a log, a proxy) is not replayed.
pub const MAX_PUSH_SKEW_SECONDS: i64 = 300;

/// Refuses a push or URL check whose `timestamp` is not within [`MAX_PUSH_SKEW_SECONDS`] of
/// `now` (Unix seconds).
pub fn check_fresh(query: &PushQuery, now: i64) -> Result<(), PushError> {
    let sent: i64 = query
        .timestamp
        .as_deref()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| malformed("the query lacks a numeric timestamp"))?;
    if (now - sent).abs() > MAX_PUSH_SKEW_SECONDS {
        return Err(PushError::Stale);
    }
    Ok(())
}

/// The URL check (GET): Ok(echostr) when the signature is right.
pub fn verify_url(keys: &PushKeys, query: &PushQuery) -> Result<String, PushError> {
    check_plain_signature(keys, query)?;
    query
        .echostr
        .clone()
        .ok_or_else(|| malformed("the URL check carries no echostr"))
}

/// A push (POST): checks the signature (plain: `signature`; safe mode `encrypt_type=aes`:
/// `msg_signature` over the Encrypt element, and the decrypted trailing AppID must be ours),
/// decrypts, parses. Refuses bodies over MAX_PUSH_BYTES.
pub fn open(keys: &PushKeys, query: &PushQuery, body: &[u8]) -> Result<PushEvent, PushError> {
    if body.len() > MAX_PUSH_BYTES {
        return Err(PushError::TooLarge);
    }
    match query.encrypt_type.as_deref() {
        None | Some("") | Some("raw") => {
            // In 明文模式 the signature covers only timestamp and nonce, never the body: a
            // signed query from any log would carry a forged body. With an EncodingAESKey
            // configured the account is in 安全模式, so a plain push is not WeChat's.
            if !keys.aes_keys.is_empty() {
                return Err(PushError::PlainInSafeMode);
            }
            check_plain_signature(keys, query)?;
            parse_event(body)
        }
        Some("aes") => {
            let encrypt = flat_field(&parse_flat_xml(body)?, "Encrypt")?
                .ok_or_else(|| malformed("a safe-mode push without an Encrypt element"))?;
            // msg_signature is what covers the body in safe mode; `signature` alone does not.
            let (timestamp, nonce) = timestamp_and_nonce(query)?;
            check_signature(
                query.msg_signature.as_deref(),
                &[&keys.token, timestamp, nonce, &encrypt],
            )?;
            let xml = decrypt(keys, &encrypt)?;
            parse_event(&xml)
        }
        Some(other) => Err(malformed(format!("unknown encrypt_type {other:?}"))),
    }
}

fn check_plain_signature(keys: &PushKeys, query: &PushQuery) -> Result<(), PushError> {
    let (timestamp, nonce) = timestamp_and_nonce(query)?;
    check_signature(query.signature.as_deref(), &[&keys.token, timestamp, nonce])
}

fn timestamp_and_nonce(query: &PushQuery) -> Result<(&str, &str), PushError> {
    match (query.timestamp.as_deref(), query.nonce.as_deref()) {
        (Some(timestamp), Some(nonce)) => Ok((timestamp, nonce)),
        _ => Err(malformed("the query lacks timestamp or nonce")),
    }
}

fn check_signature(received: Option<&str>, parts: &[&str]) -> Result<(), PushError> {
    let received = received.ok_or(PushError::BadSignature)?;
    let expected = wechat_signature(parts);
    let received = received.to_ascii_lowercase();
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(())
    } else {
        Err(PushError::BadSignature)
    }
}

/// hex(sha1(concat(sorted parts))), WeChat's signature for both `signature` and `msg_signature`.
fn wechat_signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let digest = sorted
        .iter()
        .fold(Sha1::new(), |hasher, part| {
            hasher.chain_update(part.as_bytes())
        })
        .finalize();
    crate::hex::encode(&digest)
}

/// Tries each configured EncodingAESKey; the first that yields our AppID wins.
fn decrypt(keys: &PushKeys, encrypt: &str) -> Result<Vec<u8>, PushError> {
    if keys.aes_keys.is_empty() {
        return Err(malformed(
            "a safe-mode push, but no EncodingAESKey is configured for this 公众号",
        ));
    }
    let ciphertext = STANDARD
        .decode(encrypt.trim())
        .map_err(|e| malformed(format!("Encrypt is not base64: {e}")))?;
    let mut first_error = None;
    for key in &keys.aes_keys {
        match decrypt_with(key, &ciphertext, &keys.app_id) {
            Ok(xml) => return Ok(xml),
            // A well-formed plaintext naming another app outranks the garbage a stale key makes.
            Err(PushError::NotOurApp) => first_error = Some(PushError::NotOurApp),
            Err(other) => {
                first_error.get_or_insert(other);
            }
        }
    }
    Err(first_error.unwrap_or(PushError::BadSignature))
}

fn decrypt_with(key: &[u8; 32], ciphertext: &[u8], app_id: &str) -> Result<Vec<u8>, PushError> {
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(malformed("Encrypt is not a whole number of AES blocks"));
    }
    let mut buffer = ciphertext.to_vec();
    let (iv, _) = key.split_at(16);
    let cipher = Aes256CbcDec::new_from_slices(key, iv)
        .map_err(|_| malformed("the AES key or IV has the wrong length"))?;
    let plaintext = cipher
        .decrypt_padded_mut::<NoPadding>(&mut buffer)
        .map_err(|_| malformed("Encrypt is not a whole number of AES blocks"))?;
    let unpadded = strip_wechat_padding(plaintext)?;
    let header = unpadded
        .get(..PLAINTEXT_HEADER_LEN)
        .ok_or_else(|| malformed("the decrypted push is shorter than its header"))?;
    let mut length_bytes = [0u8; 4];
    length_bytes.copy_from_slice(&header[16..20]);
    let xml_len = u32::from_be_bytes(length_bytes) as usize;
    let rest = &unpadded[PLAINTEXT_HEADER_LEN..];
    if xml_len > rest.len() {
        return Err(malformed("the decrypted push's length field overruns it"));
    }
    let (xml, trailing_app_id) = rest.split_at(xml_len);
    if trailing_app_id != app_id.as_bytes() {
        return Err(PushError::NotOurApp);
    }
    Ok(xml.to_vec())
}

/// PKCS#7 to a 32-byte multiple: n bytes (1..=32), each of value n.
fn strip_wechat_padding(plaintext: &[u8]) -> Result<&[u8], PushError> {
    let bad = || malformed("the decrypted push has bad padding (wrong EncodingAESKey?)");
    let pad = usize::from(*plaintext.last().ok_or_else(bad)?);
    if pad == 0 || pad > WECHAT_PAD_BLOCK || pad > plaintext.len() {
        return Err(bad());
    }
    let (content, padding) = plaintext.split_at(plaintext.len() - pad);
    if padding.iter().any(|&byte| usize::from(byte) != pad) {
        return Err(bad());
    }
    Ok(content)
}

fn parse_event(xml: &[u8]) -> Result<PushEvent, PushError> {
    let fields = parse_flat_xml(xml)?;
    let required = |name: &str| {
        flat_field(&fields, name)?.ok_or_else(|| malformed(format!("the push has no {name}")))
    };
    let openid = required("FromUserName")?;
    let create_time = required("CreateTime")?;
    let create_time = create_time
        .parse::<i64>()
        .map_err(|_| malformed(format!("CreateTime {create_time:?} is not a number")))?;
    Ok(PushEvent {
        to_user: flat_field(&fields, "ToUserName")?.unwrap_or_default(),
        openid,
        create_time,
        msg_type: required("MsgType")?,
        event: flat_field(&fields, "Event")?,
        event_key: flat_field(&fields, "EventKey")?,
        ticket: flat_field(&fields, "Ticket")?,
    })
}

/// One direct child of `<xml>` by name. A field given twice is refused rather than guessed at.
fn flat_field(fields: &[(String, String)], name: &str) -> Result<Option<String>, PushError> {
    let mut matching = fields.iter().filter(|(tag, _)| tag == name);
    let first = matching.next().map(|(_, value)| value.clone());
    if matching.next().is_some() {
        return Err(malformed(format!("{name} appears more than once")));
    }
    Ok(first)
}

/// The direct children of WeChat's `<xml>` root as (tag, text) pairs, CDATA or plain text.
/// Deeper elements are skipped; a DOCTYPE is refused outright so no entity is ever declared,
/// and quick-xml itself only knows the five predefined entities and character references.
fn parse_flat_xml(xml: &[u8]) -> Result<Vec<(String, String)>, PushError> {
    if xml.len() > MAX_PUSH_BYTES {
        return Err(PushError::TooLarge);
    }
    let text = std::str::from_utf8(xml).map_err(|_| malformed("the XML is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;

    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut seen_root = false;
    // (tag, value) of the direct child being read.
    let mut current: Option<(String, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("bad XML: {e}")))?;
        match event {
            Event::DocType(_) => return Err(malformed("a DOCTYPE is not allowed in a push")),
            Event::Start(start) => {
                if depth == 0 {
                    if seen_root || start.name().as_ref() != b"xml" {
                        return Err(malformed("the root element is not a single <xml>"));
                    }
                    seen_root = true;
                } else if depth == 1 {
                    current = Some((tag_name(start.name().as_ref())?, String::new()));
                }
                depth += 1;
            }
            Event::Empty(empty) => {
                if depth == 0 {
                    return Err(malformed("the root element <xml> is empty"));
                }
                if depth == 1 {
                    fields.push((tag_name(empty.name().as_ref())?, String::new()));
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    fields.extend(current.take());
                }
            }
            Event::Text(text) => {
                let unescaped = text
                    .unescape()
                    .map_err(|e| malformed(format!("bad XML text: {e}")))?;
                if depth == 0 && !unescaped.trim().is_empty() {
                    return Err(malformed("text outside the <xml> element"));
                }
                if depth == 2 {
                    if let Some((_, value)) = current.as_mut() {
                        value.push_str(unescaped.trim());
                    }
                }
            }
            Event::CData(cdata) => {
                if depth == 2 {
                    if let Some((_, value)) = current.as_mut() {
                        let raw = std::str::from_utf8(&cdata)
                            .map_err(|_| malformed("CDATA is not UTF-8"))?;
                        value.push_str(raw);
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !seen_root || depth != 0 {
        return Err(malformed("the XML ends before </xml>"));
    }
    Ok(fields)
}

fn tag_name(raw: &[u8]) -> Result<String, PushError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| malformed("a tag name is not UTF-8"))
}

#[cfg(test)]
mod tests;
