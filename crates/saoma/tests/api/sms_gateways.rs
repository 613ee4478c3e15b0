//! The SMS gateway clients against the simulator, which checks their signatures as Alibaba
//! and Tencent do, and the Send SMS hook against a receiver that verifies Standard Webhooks
//! signatures.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use saoma::config::{AliyunSmsConfig, SmsHookConfig, TencentSmsConfig};
use saoma::domain::User;
use saoma::sms::aliyun::AliyunSms;
use saoma::sms::hook::SendSmsHook;
use saoma::sms::tencent::TencentSms;
use saoma::sms::{OtpMessage, SmsError, SmsSender};
use saoma_wechat_sim::{Faults, SimConfig, Simulator, SmsFaults};
use serde_json::Value;

const PHONE: &str = "8613800000000";

async fn spawn_sim() -> (Simulator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(SimConfig::demo(url.clone()));
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (sim, url)
}

fn aliyun_config(sim: &Simulator, base: &str) -> AliyunSmsConfig {
    let account = &sim.config().sms.aliyun;
    AliyunSmsConfig {
        access_key_id: account.access_key_id.clone(),
        access_key_secret: account.access_key_secret.clone().into(),
        sign_name: account.sign_names[0].clone(),
        template_code: account.templates[0].id.clone(),
        template_param: "code".into(),
        base_url: format!("{base}/aliyun-sms"),
    }
}

fn tencent_config(sim: &Simulator, base: &str) -> TencentSmsConfig {
    let account = &sim.config().sms.tencent;
    TencentSmsConfig {
        secret_id: account.secret_id.clone(),
        secret_key: account.secret_key.clone().into(),
        sdk_app_id: account.sdk_app_id.clone(),
        sign_name: account.sign_names[0].clone(),
        template_id: account.templates[0].id.clone(),
        region: "ap-guangzhou".into(),
        base_url: format!("{base}/tencent-sms"),
    }
}

fn user() -> User {
    let mut user = User::new(
        uuid::Uuid::new_v4(),
        "authenticated",
        "phone",
        chrono::Utc::now(),
    );
    user.phone = Some(PHONE.into());
    user
}

async fn send(sender: &dyn SmsSender, phone: &str, otp: &str) -> Result<(), SmsError> {
    let user = user();
    sender
        .send_otp(&OtpMessage {
            phone,
            otp,
            user: &user,
        })
        .await
}

async fn inbox(base: &str, phone: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!("{base}/sim/sms/inbox/{phone}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"].as_array().cloned().unwrap_or_default()
}

fn sms_faults(sim: &Simulator, faults: SmsFaults) {
    sim.set_faults(Faults {
        sms: faults,
        ..Faults::default()
    });
}

/// Asserts the error kind and that the gateway's code is in its message.
fn assert_refused(result: Result<(), SmsError>, kind: fn(&SmsError) -> bool, code: &str) {
    let error = result.expect_err(code);
    assert!(kind(&error), "{code}: got {error:?}");
    assert!(error.to_string().contains(code), "{code}: got {error:?}");
}

fn too_frequent(error: &SmsError) -> bool {
    matches!(error, SmsError::TooFrequent(_))
}
fn invalid_number(error: &SmsError) -> bool {
    matches!(error, SmsError::InvalidNumber(_))
}
fn unavailable(error: &SmsError) -> bool {
    matches!(error, SmsError::Unavailable(_))
}
fn misconfigured(error: &SmsError) -> bool {
    matches!(error, SmsError::Misconfigured(_))
}

/// What a gateway answers to each fault the simulator can switch on.
struct FaultCodes {
    daily_limit: &'static str,
    unapproved_signature: &'static str,
    busy: &'static str,
}

/// Each switchable fault becomes its `SmsError` with the gateway's code; one busy answer is
/// retried, two are the gateway being down.
async fn answers_switched_faults(
    sim: &Simulator,
    base: &str,
    sender: &dyn SmsSender,
    codes: FaultCodes,
) {
    sms_faults(
        sim,
        SmsFaults {
            daily_limit: true,
            ..SmsFaults::default()
        },
    );
    assert_refused(
        send(sender, "8613800000003", "111111").await,
        too_frequent,
        codes.daily_limit,
    );
    sms_faults(
        sim,
        SmsFaults {
            unapproved_signature: true,
            ..SmsFaults::default()
        },
    );
    assert_refused(
        send(sender, "8613800000003", "111111").await,
        misconfigured,
        codes.unapproved_signature,
    );
    sms_faults(
        sim,
        SmsFaults {
            busy: 1,
            ..SmsFaults::default()
        },
    );
    send(sender, "8613800000004", "444444").await.unwrap();
    assert_eq!(inbox(base, "8613800000004").await[0]["code"], "444444");
    sms_faults(
        sim,
        SmsFaults {
            busy: 2,
            ..SmsFaults::default()
        },
    );
    assert_refused(
        send(sender, "8613800000005", "111111").await,
        unavailable,
        codes.busy,
    );
}

#[tokio::test]
async fn aliyun_delivers_a_signed_code_to_the_inbox() {
    let (sim, base) = spawn_sim().await;
    let aliyun = AliyunSms::new(&aliyun_config(&sim, &base)).unwrap();
    assert_eq!(aliyun.name(), "aliyun");
    send(&aliyun, PHONE, "123456").await.unwrap();
    let messages = inbox(&base, "+8613800000000").await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["code"], "123456");
    assert_eq!(messages[0]["gateway"], "aliyun");
    assert_eq!(
        messages[0]["text"],
        "【saoma演示】您的验证码为：123456，请勿泄露于他人！"
    );
}

#[tokio::test]
async fn aliyun_refusals_become_sms_errors() {
    let (sim, base) = spawn_sim().await;
    let mut config = aliyun_config(&sim, &base);
    let aliyun = AliyunSms::new(&config).unwrap();

    // A second code within the minute: Alibaba's flow control.
    send(&aliyun, "8613800000001", "111111").await.unwrap();
    assert_refused(
        send(&aliyun, "8613800000001", "222222").await,
        too_frequent,
        "isv.BUSINESS_LIMIT_CONTROL",
    );
    assert_eq!(inbox(&base, "8613800000001").await.len(), 1);
    assert_refused(
        send(&aliyun, "8612345", "111111").await,
        invalid_number,
        "isv.MOBILE_NUMBER_ILLEGAL",
    );

    config.access_key_secret = "not-the-secret".into();
    let wrong_secret = AliyunSms::new(&config).unwrap();
    assert_refused(
        send(&wrong_secret, "8613800000002", "111111").await,
        misconfigured,
        "SignatureDoesNotMatch",
    );
    config = aliyun_config(&sim, &base);
    config.access_key_id = "LTAInobody".into();
    let wrong_key = AliyunSms::new(&config).unwrap();
    assert_refused(
        send(&wrong_key, "8613800000002", "111111").await,
        misconfigured,
        "InvalidAccessKeyId.NotFound",
    );
    assert!(inbox(&base, "8613800000002").await.is_empty());

    answers_switched_faults(
        &sim,
        &base,
        &aliyun,
        FaultCodes {
            daily_limit: "isv.BUSINESS_LIMIT_CONTROL",
            unapproved_signature: "isv.SMS_SIGNATURE_ILLEGAL",
            busy: "ServiceUnavailable",
        },
    )
    .await;
    assert_eq!(sim.faults().sms.busy, 0);
}

#[tokio::test]
async fn tencent_delivers_a_signed_code_to_the_inbox() {
    let (sim, base) = spawn_sim().await;
    let tencent = TencentSms::new(&tencent_config(&sim, &base)).unwrap();
    assert_eq!(tencent.name(), "tencent");
    send(&tencent, PHONE, "654321").await.unwrap();
    let messages = inbox(&base, PHONE).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["code"], "654321");
    assert_eq!(messages[0]["gateway"], "tencent");
    assert_eq!(
        messages[0]["text"],
        "【saoma演示】验证码为：654321，您正在登录，若非本人操作，请勿泄露。"
    );
}

#[tokio::test]
async fn tencent_refusals_become_sms_errors() {
    let (sim, base) = spawn_sim().await;
    let mut config = tencent_config(&sim, &base);
    let tencent = TencentSms::new(&config).unwrap();

    send(&tencent, "8613800000001", "111111").await.unwrap();
    assert_refused(
        send(&tencent, "8613800000001", "222222").await,
        too_frequent,
        "LimitExceeded.PhoneNumberThirtySecondLimit",
    );
    assert_refused(
        send(&tencent, "8612345", "111111").await,
        invalid_number,
        "InvalidParameterValue.IncorrectPhoneNumber",
    );
    // Code templates take at most 6 digits.
    assert_refused(
        send(&tencent, "8613800000006", "12345678").await,
        misconfigured,
        "InvalidParameterValue.TemplateParameterFormatError",
    );

    config.secret_key = "not-the-secret".into();
    let wrong_secret = TencentSms::new(&config).unwrap();
    assert_refused(
        send(&wrong_secret, "8613800000002", "111111").await,
        misconfigured,
        "AuthFailure.SignatureFailure",
    );
    config = tencent_config(&sim, &base);
    config.secret_id = "AKIDnobody".into();
    let wrong_id = TencentSms::new(&config).unwrap();
    assert_refused(
        send(&wrong_id, "8613800000002", "111111").await,
        misconfigured,
        "AuthFailure.SecretIdNotFound",
    );
    assert!(inbox(&base, "8613800000002").await.is_empty());

    answers_switched_faults(
        &sim,
        &base,
        &tencent,
        FaultCodes {
            daily_limit: "LimitExceeded.PhoneNumberDailyLimit",
            unapproved_signature: "FailedOperation.SignatureIncorrectOrUnapproved",
            busy: "InternalError",
        },
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_gateway_is_unavailable() {
    // A port nothing listens on (bound, then released).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (sim, _) = spawn_sim().await;
    let aliyun = AliyunSms::new(&aliyun_config(&sim, &base)).unwrap();
    let error = send(&aliyun, PHONE, "111111").await.unwrap_err();
    assert!(unavailable(&error));
    // The message is logged: the query it was sent with (number, code) stays out of it.
    assert!(
        !error.to_string().contains("111111") && !error.to_string().contains(PHONE),
        "{error}"
    );
    let tencent = TencentSms::new(&tencent_config(&sim, &base)).unwrap();
    assert!(unavailable(
        &send(&tencent, PHONE, "111111").await.unwrap_err()
    ));
}

/// What the hook receiver saw, and what it answers.
#[derive(Default)]
struct Receiver {
    /// Bodies whose signature verified.
    verified: Vec<Value>,
    /// Statuses to answer before answering 204, in order.
    answers: Vec<(StatusCode, String)>,
    attempts: usize,
}

const RECEIVER_KEY: &[u8] = b"a-32-byte-long-standard-webhooks";

/// A Standard Webhooks receiver, written from the spec: HMAC-SHA256 over
/// `id.timestamp.body` with the decoded secret, any `v1,` entry matching, timestamp ±5 min.
async fn spawn_receiver(receiver: Arc<Mutex<Receiver>>) -> String {
    let handler = move |headers: HeaderMap, body: String| {
        let receiver = receiver.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut receiver = receiver.lock().unwrap();
            receiver.attempts += 1;
            let id = header("webhook-id");
            let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
            let expected = BASE64.encode(ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RECEIVER_KEY),
                format!("{id}.{timestamp}.{body}").as_bytes(),
            ));
            let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() <= 300;
            // Entries are space-separated; GoTrue also puts a comma between them.
            let signed = header("webhook-signature")
                .split(' ')
                .any(|entry| entry.trim_end_matches(',') == format!("v1,{expected}"));
            if !(fresh && signed && !id.is_empty()) {
                return (StatusCode::UNAUTHORIZED, String::new());
            }
            receiver.verified.push(serde_json::from_str(&body).unwrap());
            if receiver.answers.is_empty() {
                (StatusCode::NO_CONTENT, String::new())
            } else {
                receiver.answers.remove(0)
            }
        }
    };
    let router = axum::Router::new().route("/sms", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn hook(uri: &str, secrets: &str) -> SendSmsHook {
    SendSmsHook::new(&SmsHookConfig {
        enabled: true,
        uri: uri.into(),
        secrets: secrets.into(),
    })
    .unwrap()
}

#[tokio::test]
async fn the_hook_signs_per_standard_webhooks_and_maps_its_answers() {
    let receiver = Arc::new(Mutex::new(Receiver::default()));
    let uri = spawn_receiver(receiver.clone()).await;
    let secret = format!("v1,whsec_{}", BASE64.encode(RECEIVER_KEY));
    // A rotated-out secret first: the receiver accepts any of the signatures.
    let sender = hook(
        &uri,
        &format!(
            "v1,whsec_{}|{secret}",
            BASE64.encode(b"old-key-old-key-old-key-old-key!")
        ),
    );
    assert_eq!(sender.name(), "hook");
    send(&sender, PHONE, "123456").await.unwrap();
    {
        let receiver = receiver.lock().unwrap();
        assert_eq!(receiver.verified.len(), 1);
        let body = &receiver.verified[0];
        assert_eq!(body["sms"]["otp"], "123456");
        assert_eq!(body["sms"]["phone"], PHONE);
        assert_eq!(body["user"]["phone"], PHONE);
        assert!(body["user"]["id"].is_string());
    }

    // 503 is retried once; the hook's own error is surfaced as its http_code says.
    receiver.lock().unwrap().answers = vec![(StatusCode::SERVICE_UNAVAILABLE, String::new())];
    send(&sender, PHONE, "222222").await.unwrap();
    assert_eq!(receiver.lock().unwrap().attempts, 3);
    receiver.lock().unwrap().answers = vec![(
        StatusCode::BAD_REQUEST,
        r#"{"error":{"http_code":429,"message":"slow down"}}"#.into(),
    )];
    assert!(too_frequent(
        &send(&sender, PHONE, "333333").await.unwrap_err()
    ));

    // A receiver that cannot verify the signature refuses it: saoma's secret is wrong.
    let stranger = hook(
        &uri,
        &format!(
            "v1,whsec_{}",
            BASE64.encode(b"some-other-key-some-other-key!!!")
        ),
    );
    assert!(misconfigured(
        &send(&stranger, PHONE, "444444").await.unwrap_err()
    ));
}
