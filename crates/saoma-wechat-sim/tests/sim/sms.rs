//! The SMS gateways over HTTP: Aliyun's V2 signature (the saoma clients' tests cover V3 and
//! Tencent's TC3), clock skew, nonces, the inbox pages and the SMS faults' switch.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use saoma_wechat_sim::{Faults, SmsFaults};
use serde_json::{json, Value};

use crate::helpers::{spawn, Sim};

/// The demo simulator whose Aliyun account has a second approved signature.
async fn spawn_with_two_signatures() -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = saoma_wechat_sim::SimConfig::demo(base.clone());
    config.sms.aliyun.sign_names.push("第二签名".into());
    let simulator = saoma_wechat_sim::Simulator::new(config);
    let router = simulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Sim {
        base,
        simulator,
        http: reqwest::Client::new(),
    }
}

const KEY_ID: &str = "LTAIsimSmsAccessKeyId";
const SECRET: &str = "sim-aliyun-access-key-secret";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn utc(unix: u64) -> String {
    // Only for "now" and "twenty minutes ago": a civil date from days since 1970.
    let days = (unix / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = unix % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A V2 (HMAC-SHA1) signed `SendSms` query, as Alibaba's RPC signature doc describes.
fn v2_query(
    secret: &str,
    phone: &str,
    timestamp: &str,
    nonce: &str,
    format: Option<&str>,
) -> String {
    v2_query_with(secret, phone, timestamp, nonce, format, &[])
}

/// [`v2_query`] with some parameters replaced (`SignName`, `TemplateParam`, ...).
fn v2_query_with(
    secret: &str,
    phone: &str,
    timestamp: &str,
    nonce: &str,
    format: Option<&str>,
    replaced: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("AccessKeyId", KEY_ID.to_owned()),
        ("Action", "SendSms".into()),
        ("PhoneNumbers", phone.into()),
        ("SignName", "saoma演示".into()),
        ("SignatureMethod", "HMAC-SHA1".into()),
        ("SignatureNonce", nonce.into()),
        ("SignatureVersion", "1.0".into()),
        ("TemplateCode", "SMS_000000001".into()),
        ("TemplateParam", r#"{"code":"246810"}"#.into()),
        ("Timestamp", timestamp.into()),
        ("Version", "2017-05-25".into()),
    ];
    if let Some(format) = format {
        params.push(("Format", format.into()));
    }
    for (name, value) in replaced {
        for param in params.iter_mut().filter(|(known, _)| known == name) {
            param.1 = (*value).to_owned();
        }
    }
    params.sort();
    let canonical = params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("POST&%2F&{}", encode(&canonical));
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        format!("{secret}&").as_bytes(),
    );
    let signature = base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, string_to_sign.as_bytes()));
    format!("{canonical}&Signature={}", encode(&signature))
}

async fn send_v2(sim: &Sim, query: &str) -> (u16, String) {
    let response = sim
        .http
        .post(sim.url(&format!("/aliyun-sms/?{query}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn inbox(sim: &Sim, phone: &str) -> Value {
    sim.get(&format!("/sim/sms/inbox/{phone}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_v2_signed_send_lands_in_the_inbox_and_the_json_answer() {
    let sim = spawn().await;
    let query = v2_query(SECRET, "13800000000", &utc(now()), "nonce-1", Some("JSON"));
    let (status, body) = send_v2(&sim, &query).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["Code"], "OK");
    assert!(answer["BizId"].as_str().unwrap().ends_with("^0"));
    let inbox = inbox(&sim, "+8613800000000").await;
    assert_eq!(inbox["phone"], "8613800000000");
    assert_eq!(inbox["messages"][0]["code"], "246810");

    // The same nonce again is a replay.
    let (status, body) = send_v2(&sim, &query).await;
    assert_eq!(status, 400);
    assert!(body.contains("SignatureNonceUsed"), "{body}");
}

#[tokio::test]
async fn v2_refusals_answer_as_alibaba_does() {
    let sim = spawn().await;
    let now = now();
    let (status, body) = send_v2(
        &sim,
        &v2_query("wrong", "13800000000", &utc(now), "n1", Some("JSON")),
    )
    .await;
    assert_eq!(status, 400);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["Code"], "SignatureDoesNotMatch");
    assert_eq!(
        answer["Message"],
        "Specified signature is not matched with our calculation."
    );

    let stale = utc(now - 20 * 60);
    let (status, body) = send_v2(
        &sim,
        &v2_query(SECRET, "13800000000", &stale, "n2", Some("JSON")),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidTimeStamp.Expired"), "{body}");

    // Without Format=JSON, V2 answers in XML (its default); a bad number is a business error.
    let (status, body) = send_v2(&sim, &v2_query(SECRET, "12345", &utc(now), "n3", None)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(
        body.contains("<Code>isv.MOBILE_NUMBER_ILLEGAL</Code>"),
        "{body}"
    );
    assert_eq!(inbox(&sim, "13800000000").await["messages"], json!([]));
}

#[tokio::test]
async fn tencent_refuses_a_stale_timestamp_and_an_unknown_key() {
    let sim = spawn().await;
    let post = |secret_id: &str, timestamp: u64| {
        sim.http
            .post(sim.url("/tencent-sms/"))
            .header("content-type", "application/json; charset=utf-8")
            .header("x-tc-action", "SendSms")
            .header("x-tc-version", "2021-01-11")
            .header("x-tc-region", "ap-guangzhou")
            .header("x-tc-timestamp", timestamp.to_string())
            .header(
                "authorization",
                format!("TC3-HMAC-SHA256 Credential={secret_id}/2020-01-01/sms/tc3_request, SignedHeaders=content-type;host, Signature=00"),
            )
            .body("{}")
            .send()
    };
    let stale: Value = post("AKIDsimSmsSecretId", now() - 600)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stale["Response"]["Error"]["Code"],
        "AuthFailure.SignatureExpire"
    );
    let unknown: Value = post("AKIDnobody", now())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        unknown["Response"]["Error"]["Code"],
        "AuthFailure.SecretIdNotFound"
    );
    let bad: Value = post("AKIDsimSmsSecretId", now())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        bad["Response"]["Error"]["Code"],
        "AuthFailure.SignatureFailure"
    );
    assert!(bad["Response"]["RequestId"].is_string());
}

#[tokio::test]
async fn the_phone_page_shows_the_newest_code_large_and_refreshes() {
    let sim = spawn_with_two_signatures().await;
    let empty = sim
        .get("/sim/sms/phone/8613800000007")
        .await
        .text()
        .await
        .unwrap();
    assert!(empty.contains("id=\"empty\""), "{empty}");
    assert!(empty.contains("http-equiv=\"refresh\""));
    // Two signatures: flow control allows one code a minute per signature and number.
    let now = utc(now());
    for (nonce, sign, code) in [("a", "saoma演示", "111111"), ("b", "第二签名", "222222")] {
        let param = format!(r#"{{"code":"{code}"}}"#);
        let query = v2_query_with(
            SECRET,
            "8613800000007",
            &now,
            nonce,
            Some("JSON"),
            &[("SignName", sign), ("TemplateParam", &param)],
        );
        let (status, body) = send_v2(&sim, &query).await;
        assert!(status == 200 && body.contains("\"OK\""), "{body}");
    }
    let page = sim
        .get("/sim/sms/phone/+8613800000007")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<p class=\"sms-code\" id=\"latest-code\">222222</p>"),
        "{page}"
    );
    let newest = page.find("【第二签名】您的验证码为：222222").unwrap();
    let oldest = page.find("【saoma演示】您的验证码为：111111").unwrap();
    assert!(newest < oldest, "{page}");

    let index = sim.get("/sim").await.text().await.unwrap();
    assert!(
        index.contains(&format!("href=\"{}\"", sim.url("/sim/sms"))),
        "{index}"
    );
    let overview = sim.get("/sim/sms").await.text().await.unwrap();
    assert!(
        overview.contains(&sim.url("/sim/sms/phone/8613800000007")),
        "{overview}"
    );
    assert!(overview.contains(KEY_ID) && overview.contains("AKIDsimSmsSecretId"));

    let reset = sim
        .http
        .post(sim.url("/sim/sms/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(inbox(&sim, "8613800000007").await["messages"], json!([]));
}

#[tokio::test]
async fn sms_faults_switch_over_http() {
    let sim = spawn().await;
    let set = sim
        .http
        .put(sim.url("/sim/faults"))
        .json(&json!({ "sms": { "daily_limit": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(
        sim.simulator.faults(),
        Faults {
            sms: SmsFaults {
                daily_limit: true,
                ..SmsFaults::default()
            },
            ..Faults::default()
        }
    );
    let (_, body) = send_v2(
        &sim,
        &v2_query(SECRET, "13800000000", &utc(now()), "f1", Some("JSON")),
    )
    .await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["Code"], "isv.BUSINESS_LIMIT_CONTROL");
    assert_eq!(answer["Message"], "触发天级流控Permits:10");
}
