use super::*;
use cbc::cipher::BlockEncryptMut;

const APP_ID: &str = "wxb11529c136998cb6";
/// WeChat's own sample EncodingAESKey; its last character leaves non-zero spare bits.
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OLD_AES_KEY: &str = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
const TOKEN: &str = "pamtest";
const TIMESTAMP: &str = "1409304348";
const NONCE: &str = "xxxxxx";

const SUBSCRIBE: &str = "<xml><ToUserName><![CDATA[gh_3f2a1b]]></ToUserName>\
<FromUserName><![CDATA[oUser123]]></FromUserName><CreateTime>1714036600</CreateTime>\
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>\
<EventKey><![CDATA[qrscene_login42]]></EventKey><Ticket><![CDATA[gQFx8DwAAAAAAAAAAS5odHRw]]></Ticket></xml>";

const SCAN: &str = "<xml>\n  <ToUserName><![CDATA[gh_3f2a1b]]></ToUserName>\n\
  <FromUserName><![CDATA[oUser123]]></FromUserName>\n  <CreateTime> 1714036700 </CreateTime>\n\
  <MsgType><![CDATA[event]]></MsgType>\n  <Event><![CDATA[SCAN]]></Event>\n\
  <EventKey><![CDATA[login42]]></EventKey>\n  <Ticket><![CDATA[TICKET]]></Ticket>\n</xml>";

const SEARCH_FOLLOW: &str = "<xml><ToUserName><![CDATA[gh_3f2a1b]]></ToUserName>\
<FromUserName><![CDATA[oUser123]]></FromUserName><CreateTime>1714036800</CreateTime>\
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";

/// Computed with python3 + `cryptography` from SUBSCRIBE, APP_ID, AES_KEY and the random prefix
/// "0123456789abcdef" (not with this module's code).
const FIXED_ENCRYPT: &str = "Q3stYC6hdFzMh9T8HCvyDAkU3dQFBEXZgML7ONMDT/Eo9V7kkeOhGaX4deHcLBaAc9gjixwIrkOpgXrGO7nhdc2Qx3a9D7oT3MIqN1RKOJeQOZaaHpFXOvuRGzIDsYCbqzhfDPSTPLZsKu+gR4GzqqF15/mG8MYy6dkcxeTs2ADuylO6U7vrL8dU0TjrEwwn8TIglROrScdp8+PCnNqSIEhsWeFAeuij1jXt68NBuJ3oA+3ZMS5ED5qrmNUmdVrAU1RiNud33RCXJBATO6lsnTmYGaJ6nTOyrwUvBmodlQuRavZPjPpg4gJ/Ce/AAoCeR1FXsxJmh1YIvWZovUCT4tn9wKw4KQWSsSRlOSZCuMUUYVslLm5xiMyTpaBdUCX1fA9pXO+GkJ07si4CwE5+AUnztO/4GObJYrD1xLKXIdu6ax/wmCn5MOxhOiEyXaTjPMhinZ/4Xb99+tkzr21t1lCBpsh1pY2sccvAGe+VDrceZAYexEQt3gMGOph8Csq+";
const FIXED_MSG_SIGNATURE: &str = "c1ddfbfff5a6bbc5950c3df28a4a6779dda555f6";

fn plain_keys() -> PushKeys {
    PushKeys::new(TOKEN, &[], APP_ID).expect("valid keys")
}

fn safe_keys() -> PushKeys {
    PushKeys::new(TOKEN, &[AES_KEY], APP_ID).expect("valid keys")
}

fn plain_query() -> PushQuery {
    PushQuery {
        signature: Some(wechat_signature(&[TOKEN, TIMESTAMP, NONCE])),
        timestamp: Some(TIMESTAMP.into()),
        nonce: Some(NONCE.into()),
        openid: Some("oUser123".into()),
        ..PushQuery::default()
    }
}

/// What WeChat would send in safe mode: the envelope and the query signing it.
fn safe_push(encrypt: &str) -> (PushQuery, String) {
    let query = PushQuery {
        encrypt_type: Some("aes".into()),
        msg_signature: Some(wechat_signature(&[TOKEN, TIMESTAMP, NONCE, encrypt])),
        ..plain_query()
    };
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_3f2a1b]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    (query, body)
}

/// The sending side, written from the rules in wechat.md §8.2 (test only).
fn encrypt(encoding_aes_key: &str, random: &[u8; 16], xml: &[u8], app_id: &str) -> String {
    let key = decode_encoding_aes_key(encoding_aes_key).expect("valid key");
    let mut plain = random.to_vec();
    plain.extend_from_slice(&u32::try_from(xml.len()).expect("small").to_be_bytes());
    plain.extend_from_slice(xml);
    plain.extend_from_slice(app_id.as_bytes());
    let pad = WECHAT_PAD_BLOCK - plain.len() % WECHAT_PAD_BLOCK;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    encrypt_raw(&key, plain)
}

fn encrypt_raw(key: &[u8; 32], mut plain: Vec<u8>) -> String {
    let len = plain.len();
    cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &key[..16])
        .expect("key and iv sizes")
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .expect("whole blocks");
    STANDARD.encode(plain)
}

#[test]
fn the_url_check_echoes_wechats_official_example() {
    let keys = PushKeys::new("AAAAA", &[], APP_ID).expect("valid keys");
    let query = PushQuery {
        signature: Some("f464b24fc39322e44b38aa78f5edd27bd1441696".into()),
        timestamp: Some("1714036504".into()),
        nonce: Some("1514711492".into()),
        echostr: Some("4375120948345356249".into()),
        ..PushQuery::default()
    };
    assert_eq!(
        verify_url(&keys, &query).as_deref(),
        Ok("4375120948345356249")
    );
}

#[test]
fn the_url_check_refuses_a_wrong_or_missing_signature() {
    let keys = PushKeys::new("AAAAA", &[], APP_ID).expect("valid keys");
    let mut query = PushQuery {
        signature: Some("f464b24fc39322e44b38aa78f5edd27bd1441697".into()),
        timestamp: Some("1714036504".into()),
        nonce: Some("1514711492".into()),
        echostr: Some("4375120948345356249".into()),
        ..PushQuery::default()
    };
    assert_eq!(verify_url(&keys, &query), Err(PushError::BadSignature));
    query.signature = None;
    assert_eq!(verify_url(&keys, &query), Err(PushError::BadSignature));
}

#[test]
fn a_plain_subscribe_by_scan_reports_its_scene() {
    let event = open(&plain_keys(), &plain_query(), SUBSCRIBE.as_bytes()).expect("opens");
    assert_eq!(event.to_user, "gh_3f2a1b");
    assert_eq!(event.openid, "oUser123");
    assert_eq!(event.create_time, 1714036600);
    assert_eq!(event.msg_type, "event");
    assert_eq!(event.event.as_deref(), Some("subscribe"));
    assert_eq!(event.ticket.as_deref(), Some("gQFx8DwAAAAAAAAAAS5odHRw"));
    assert_eq!(event.scanned_scene(), Some("login42"));
    assert_eq!(event.dedupe_key(), "oUser123:1714036600");
}

#[test]
fn a_plain_scan_by_a_follower_reports_its_scene() {
    let event = open(&plain_keys(), &plain_query(), SCAN.as_bytes()).expect("opens");
    assert_eq!(event.create_time, 1714036700);
    assert_eq!(event.scanned_scene(), Some("login42"));
    assert_eq!(event.ticket.as_deref(), Some("TICKET"));
}

#[test]
fn events_that_are_not_code_scans_report_no_scene() {
    let search_follow =
        open(&plain_keys(), &plain_query(), SEARCH_FOLLOW.as_bytes()).expect("opens");
    assert_eq!(search_follow.event_key, None);
    assert_eq!(search_follow.scanned_scene(), None);

    let base = open(&plain_keys(), &plain_query(), SUBSCRIBE.as_bytes()).expect("opens");
    let with = |event: &str, key: Option<&str>| PushEvent {
        event: Some(event.into()),
        event_key: key.map(str::to_owned),
        ..base.clone()
    };
    assert_eq!(with("subscribe", Some("")).scanned_scene(), None);
    assert_eq!(with("subscribe", Some("login42")).scanned_scene(), None);
    assert_eq!(with("subscribe", Some("qrscene_")).scanned_scene(), None);
    assert_eq!(with("SCAN", None).scanned_scene(), None);
    assert_eq!(with("SCAN", Some("")).scanned_scene(), None);
    assert_eq!(with("unsubscribe", Some("qrscene_x")).scanned_scene(), None);
    assert_eq!(with("CLICK", Some("login42")).scanned_scene(), None);
    let text = PushEvent {
        msg_type: "text".into(),
        ..with("SCAN", Some("login42"))
    };
    assert_eq!(text.scanned_scene(), None);
}

#[test]
fn a_tampered_plain_push_is_refused() {
    let keys = plain_keys();
    let mut query = plain_query();
    query.nonce = Some("yyyyyy".into());
    assert_eq!(
        open(&keys, &query, SUBSCRIBE.as_bytes()),
        Err(PushError::BadSignature)
    );
    let other_token = PushKeys::new("another", &[], APP_ID).expect("valid keys");
    assert_eq!(
        open(&other_token, &plain_query(), SUBSCRIBE.as_bytes()),
        Err(PushError::BadSignature)
    );
    query = plain_query();
    query.signature = None;
    assert_eq!(
        open(&keys, &query, SUBSCRIBE.as_bytes()),
        Err(PushError::BadSignature)
    );
}

#[test]
fn an_uppercase_signature_is_still_accepted() {
    let mut query = plain_query();
    query.signature = query.signature.map(|s| s.to_ascii_uppercase());
    assert!(open(&plain_keys(), &query, SUBSCRIBE.as_bytes()).is_ok());
}

#[test]
fn a_safe_mode_push_round_trips() {
    let encrypted = encrypt(AES_KEY, &[7; 16], SCAN.as_bytes(), APP_ID);
    let (query, body) = safe_push(&encrypted);
    let event = open(&safe_keys(), &query, body.as_bytes()).expect("opens");
    assert_eq!(event.openid, "oUser123");
    assert_eq!(event.scanned_scene(), Some("login42"));
}

#[test]
fn a_safe_mode_push_encrypted_elsewhere_opens() {
    let (query, body) = safe_push(FIXED_ENCRYPT);
    assert_eq!(query.msg_signature.as_deref(), Some(FIXED_MSG_SIGNATURE));
    assert_eq!(
        encrypt(AES_KEY, b"0123456789abcdef", SUBSCRIBE.as_bytes(), APP_ID),
        FIXED_ENCRYPT
    );
    let event = open(&safe_keys(), &query, body.as_bytes()).expect("opens");
    assert_eq!(event.scanned_scene(), Some("login42"));
    assert_eq!(event.ticket.as_deref(), Some("gQFx8DwAAAAAAAAAAS5odHRw"));
}

#[test]
fn a_safe_mode_push_needs_its_msg_signature() {
    let (mut query, body) = safe_push(FIXED_ENCRYPT);
    query.msg_signature = None;
    assert_eq!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::BadSignature)
    );
    // A valid `signature` over the query alone does not vouch for the body.
    let (mut query, _) = safe_push(FIXED_ENCRYPT);
    let other = encrypt(AES_KEY, &[1; 16], SEARCH_FOLLOW.as_bytes(), APP_ID);
    let (_, swapped_body) = safe_push(&other);
    assert!(query.signature.is_some());
    assert_eq!(
        open(&safe_keys(), &query, swapped_body.as_bytes()),
        Err(PushError::BadSignature)
    );
    query.msg_signature = Some(FIXED_MSG_SIGNATURE.replace('c', "d"));
    assert_eq!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::BadSignature)
    );
}

#[test]
fn a_safe_mode_push_for_another_app_is_refused() {
    let encrypted = encrypt(AES_KEY, &[7; 16], SCAN.as_bytes(), "wx0000000000000000");
    let (query, body) = safe_push(&encrypted);
    assert_eq!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::NotOurApp)
    );
}

#[test]
fn the_previous_aes_key_is_still_accepted_while_rotating() {
    let keys = PushKeys::new(TOKEN, &[AES_KEY, OLD_AES_KEY], APP_ID).expect("valid keys");
    let encrypted = encrypt(OLD_AES_KEY, &[9; 16], SCAN.as_bytes(), APP_ID);
    let (query, body) = safe_push(&encrypted);
    assert_eq!(
        open(&keys, &query, body.as_bytes()).map(|e| e.create_time),
        Ok(1714036700)
    );
    // Without the previous key the same push does not decrypt.
    assert!(matches!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::Malformed(_))
    ));
}

#[test]
fn a_safe_mode_push_with_bad_padding_is_malformed() {
    let key = decode_encoding_aes_key(AES_KEY).expect("valid key");
    let mut plain = vec![0u8; 16];
    plain.extend_from_slice(&(SCAN.len() as u32).to_be_bytes());
    plain.extend_from_slice(SCAN.as_bytes());
    plain.extend_from_slice(APP_ID.as_bytes());
    let pad = WECHAT_PAD_BLOCK - plain.len() % WECHAT_PAD_BLOCK;
    let mut uneven = plain.clone();
    uneven.extend(std::iter::repeat_n(pad as u8, pad));
    let last = uneven.len() - 2;
    uneven[last] ^= 1;
    let mut zero = plain.clone();
    zero.extend(std::iter::repeat_n(0u8, pad));
    let mut too_long = plain;
    too_long.extend(std::iter::repeat_n(33u8, pad + 32));
    for bad in [uneven, zero, too_long] {
        let (query, body) = safe_push(&encrypt_raw(&key, bad));
        assert!(matches!(
            open(&safe_keys(), &query, body.as_bytes()),
            Err(PushError::Malformed(_))
        ));
    }
}

#[test]
fn a_safe_mode_push_whose_length_overruns_is_malformed() {
    let key = decode_encoding_aes_key(AES_KEY).expect("valid key");
    let mut plain = vec![0u8; 16];
    plain.extend_from_slice(&u32::MAX.to_be_bytes());
    plain.extend_from_slice(SCAN.as_bytes());
    let pad = WECHAT_PAD_BLOCK - plain.len() % WECHAT_PAD_BLOCK;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let (query, body) = safe_push(&encrypt_raw(&key, plain));
    assert!(matches!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::Malformed(_))
    ));
}

#[test]
fn a_safe_mode_push_without_a_configured_key_is_refused() {
    let (query, body) = safe_push(FIXED_ENCRYPT);
    assert!(matches!(
        open(&plain_keys(), &query, body.as_bytes()),
        Err(PushError::Malformed(_))
    ));
}

#[test]
fn keys_that_are_not_43_letters_and_digits_are_refused_with_a_reason() {
    let short = PushKeys::new(TOKEN, &[&AES_KEY[..42]], APP_ID).expect_err("too short");
    assert!(short.contains("current EncodingAESKey"), "{short}");
    assert!(short.contains("43"), "{short}");
    let symbol = format!("{}+", &AES_KEY[..42]);
    let previous = PushKeys::new(TOKEN, &[AES_KEY, &symbol], APP_ID).expect_err("symbol");
    assert!(previous.contains("previous EncodingAESKey"), "{previous}");
    assert!(PushKeys::new("", &[AES_KEY], APP_ID).is_err());
    assert!(PushKeys::new(TOKEN, &[AES_KEY], "").is_err());
}

#[test]
fn the_aes_key_decodes_as_wechat_documents() {
    let key = decode_encoding_aes_key(AES_KEY).expect("valid key");
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    // base64.b64decode(AES_KEY + "=") in Python.
    assert_eq!(
        hex,
        "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    );
}

#[test]
fn doctype_and_entity_bombs_are_refused() {
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
<xml><FromUserName>&lol2;</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>";
    assert!(matches!(
        open(&plain_keys(), &plain_query(), bomb.as_bytes()),
        Err(PushError::Malformed(_))
    ));
    let external =
        "<!DOCTYPE xml SYSTEM \"file:///etc/passwd\"><xml><FromUserName>a</FromUserName>\
<CreateTime>1</CreateTime><MsgType>event</MsgType></xml>";
    assert!(matches!(
        open(&plain_keys(), &plain_query(), external.as_bytes()),
        Err(PushError::Malformed(_))
    ));
    // An undeclared entity is not guessed at either.
    let undeclared = "<xml><FromUserName>&xxe;</FromUserName><CreateTime>1</CreateTime>\
<MsgType>event</MsgType></xml>";
    assert!(matches!(
        open(&plain_keys(), &plain_query(), undeclared.as_bytes()),
        Err(PushError::Malformed(_))
    ));
    // A DOCTYPE inside the encrypted XML is refused the same way.
    let encrypted = encrypt(AES_KEY, &[3; 16], bomb.as_bytes(), APP_ID);
    let (query, body) = safe_push(&encrypted);
    assert!(matches!(
        open(&safe_keys(), &query, body.as_bytes()),
        Err(PushError::Malformed(_))
    ));
}

#[test]
fn an_oversize_body_is_refused_before_anything_else() {
    let mut body = SUBSCRIBE.replace("</xml>", "<Padding>");
    body.push_str(&"x".repeat(MAX_PUSH_BYTES));
    body.push_str("</Padding></xml>");
    assert_eq!(
        open(&plain_keys(), &PushQuery::default(), body.as_bytes()),
        Err(PushError::TooLarge)
    );
}

#[test]
fn missing_required_fields_are_malformed() {
    for tag in ["FromUserName", "CreateTime", "MsgType"] {
        let open_tag = format!("<{tag}>");
        let start = SUBSCRIBE.find(&open_tag).expect("tag present");
        let close_tag = format!("</{tag}>");
        let end = SUBSCRIBE.find(&close_tag).expect("tag closes") + close_tag.len();
        let without = format!("{}{}", &SUBSCRIBE[..start], &SUBSCRIBE[end..]);
        match open(&plain_keys(), &plain_query(), without.as_bytes()) {
            Err(PushError::Malformed(why)) => assert!(why.contains(tag), "{why}"),
            other => panic!("{tag}: {other:?}"),
        }
    }
}

#[test]
fn only_direct_children_of_xml_count_and_unknown_tags_are_ignored() {
    let nested = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!-- hi --><xml>\
<Extra><FromUserName>evil</FromUserName></Extra><Unknown a=\"1\"/>\
<FromUserName>o&amp;1</FromUserName><CreateTime>5</CreateTime><MsgType>event</MsgType></xml>";
    let event = open(&plain_keys(), &plain_query(), nested.as_bytes()).expect("opens");
    assert_eq!(event.openid, "o&1");
    assert_eq!(event.to_user, "");
    assert_eq!(event.event, None);

    let twice = "<xml><FromUserName>a</FromUserName><FromUserName>b</FromUserName>\
<CreateTime>5</CreateTime><MsgType>event</MsgType></xml>";
    assert!(matches!(
        open(&plain_keys(), &plain_query(), twice.as_bytes()),
        Err(PushError::Malformed(_))
    ));
    let wrong_root = "<root><FromUserName>a</FromUserName><CreateTime>5</CreateTime>\
<MsgType>event</MsgType></root>";
    assert!(matches!(
        open(&plain_keys(), &plain_query(), wrong_root.as_bytes()),
        Err(PushError::Malformed(_))
    ));
    let two_roots = format!("{SUBSCRIBE}{SUBSCRIBE}");
    assert!(matches!(
        open(&plain_keys(), &plain_query(), two_roots.as_bytes()),
        Err(PushError::Malformed(_))
    ));
}

/// Deterministic xorshift, so a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

const NASTY: &[u8] = b"<>&;![]/\"x\0\xff";

#[test]
fn truncated_and_mutated_pushes_never_panic() {
    let plain_keys = plain_keys();
    let keys = PushKeys::new(TOKEN, &[AES_KEY, OLD_AES_KEY], APP_ID).expect("valid keys");
    let encrypted = encrypt(AES_KEY, &[5; 16], SUBSCRIBE.as_bytes(), APP_ID);
    let (_, safe_body) = safe_push(&encrypted);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for seed in [SUBSCRIBE, SCAN, SEARCH_FOLLOW, safe_body.as_str()] {
        let bytes = seed.as_bytes();
        for cut in 0..=bytes.len() {
            let _ = open(&plain_keys, &plain_query(), &bytes[..cut]);
        }
        for _ in 0..2000 {
            let mut mutated = bytes.to_vec();
            for _ in 0..(next(&mut state) % 4 + 1) {
                let at = (next(&mut state) as usize) % mutated.len();
                match next(&mut state) % 3 {
                    0 => mutated[at] = next(&mut state) as u8,
                    1 => {
                        mutated.remove(at);
                    }
                    _ => mutated.insert(at, NASTY[at % NASTY.len()]),
                }
                if mutated.is_empty() {
                    break;
                }
            }
            let _ = open(&plain_keys, &plain_query(), &mutated);
            // Sign whatever Encrypt the mutation left, so decryption and the inner XML are hit.
            if let Ok(fields) = parse_flat_xml(&mutated) {
                if let Ok(Some(encrypt)) = flat_field(&fields, "Encrypt") {
                    let (query, _) = safe_push(&encrypt);
                    let _ = open(&keys, &query, &mutated);
                }
            }
        }
    }
    // Ciphertexts that decrypt to random garbage under a valid signature.
    let key = decode_encoding_aes_key(AES_KEY).expect("valid key");
    for len in [16usize, 32, 48, 64, 96] {
        for _ in 0..200 {
            let plain: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
            let (query, body) = safe_push(&encrypt_raw(&key, plain));
            let _ = open(&keys, &query, body.as_bytes());
        }
    }
}

#[test]
fn a_plain_push_is_refused_once_safe_mode_is_configured() {
    // A query signed for plain mode (from any access log) must not carry a forged body past
    // an account in 安全模式: only msg_signature covers the body.
    let keys = PushKeys::new(TOKEN, &[AES_KEY], APP_ID).expect("keys");
    assert_eq!(
        open(&keys, &plain_query(), SUBSCRIBE.as_bytes()),
        Err(PushError::PlainInSafeMode)
    );
    assert!(open(&plain_keys(), &plain_query(), SUBSCRIBE.as_bytes()).is_ok());
}

#[test]
fn only_recent_timestamps_are_fresh() {
    let sent: i64 = TIMESTAMP.parse().expect("number");
    let query = plain_query();
    assert_eq!(check_fresh(&query, sent), Ok(()));
    assert_eq!(check_fresh(&query, sent + MAX_PUSH_SKEW_SECONDS), Ok(()));
    assert_eq!(
        check_fresh(&query, sent - 60),
        Ok(()),
        "a clock a bit behind"
    );
    assert_eq!(
        check_fresh(&query, sent + MAX_PUSH_SKEW_SECONDS + 1),
        Err(PushError::Stale)
    );
    assert_eq!(check_fresh(&query, sent - 3600), Err(PushError::Stale));
    let mut missing = plain_query();
    missing.timestamp = Some("yesterday".into());
    assert!(matches!(
        check_fresh(&missing, sent),
        Err(PushError::Malformed(_))
    ));
}
