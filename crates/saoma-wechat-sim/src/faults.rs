//! Misbehaviours of real WeChat that a client must survive, switched on at will.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The next N calls of `sns/oauth2/access_token` answer errcode -1 "system error".
    pub busy: u32,
    /// After confirmation the browser hits the callback twice with the same code and state.
    pub duplicate_redirect: bool,
    /// Every code is treated as past its 10 minutes (errcode 42003).
    pub expire_codes: bool,
}
