//! Misbehaviours of real WeChat that a client must survive, switched on at will.

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
}
