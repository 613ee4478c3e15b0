//! Misbehaviours of real WeChat and the SMS gateways that a client must survive, switched on
//! at will.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The next N code exchanges (`sns/oauth2/access_token`, `sns/jscode2session`,
    /// `wxa/business/getuserphonenumber`) answer errcode -1 "system error" and spend nothing.
    pub busy: u32,
    /// After confirmation the QR page hits the callback twice with the same code and state.
    pub duplicate_redirect: bool,
    /// Every code is treated as past its lifetime: errcode 42003 at
    /// `sns/oauth2/access_token`, 40029 at `sns/jscode2session` and `getuserphonenumber`.
    pub expire_codes: bool,
    /// The next N `wxa/getwxacodeunlimit` calls answer 45009 (the 5000/min rate).
    pub wxacode_rate_limit: u32,
    /// Every 公众号 event is pushed twice (same CreateTime), even when the first is answered.
    pub duplicate_push: bool,
    /// Pushes carry a signature (and msg_signature) made with the wrong Token.
    pub bad_push_signature: bool,
    /// The SMS gateways' faults.
    pub sms: SmsFaults,
}

/// Faults of both SMS gateways; each applies after the request's signature was accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsFaults {
    /// The next N `SendSms` calls fail as a busy gateway does (Aliyun: HTTP 503
    /// `ServiceUnavailable`; Tencent: `InternalError`) and deliver nothing.
    pub busy: u32,
    /// Every number has reached its daily limit (Aliyun: `isv.BUSINESS_LIMIT_CONTROL`
    /// 触发天级流控; Tencent: `LimitExceeded.PhoneNumberDailyLimit`).
    pub daily_limit: bool,
    /// The signature (签名) is no longer approved (Aliyun: `isv.SMS_SIGNATURE_ILLEGAL`;
    /// Tencent: `FailedOperation.SignatureIncorrectOrUnapproved`).
    pub unapproved_signature: bool,
}
