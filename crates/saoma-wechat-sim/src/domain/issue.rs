//! Codes the simulator hands out on behalf of WeChat's clients: what `wx.login()` and the
//! getPhoneNumber button give a mini-program, and what the native SDK gives a mobile app.

use std::time::{Duration, Instant};

use super::grants::{Purpose, Subject, LONG_CODE_LIFETIME, SHORT_CODE_LIFETIME};
use super::scope::Scope;
use super::State;
use crate::config::{AppKind, SimConfig};

/// A client-side step that yields a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `wx.login()` in a mini-program: a code for `sns/jscode2session`.
    MiniLogin,
    /// The mini-program's getPhoneNumber button: a code for `getuserphonenumber`.
    MiniPhone,
    /// The WeChat SDK in a mobile app (`snsapi_userinfo`): a code for
    /// `sns/oauth2/access_token`.
    AppAuthorize,
}

impl Flow {
    fn kind(self) -> AppKind {
        match self {
            Flow::MiniLogin | Flow::MiniPhone => AppKind::MiniProgram,
            Flow::AppAuthorize => AppKind::MobileApp,
        }
    }

    fn purpose(self) -> Purpose {
        match self {
            Flow::MiniLogin => Purpose::JsCode,
            Flow::MiniPhone => Purpose::PhoneNumber,
            Flow::AppAuthorize => Purpose::OAuth,
        }
    }

    fn scope(self) -> Scope {
        match self {
            Flow::MiniLogin | Flow::MiniPhone => Scope::Base,
            Flow::AppAuthorize => Scope::Userinfo,
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Flow::MiniLogin | Flow::MiniPhone => SHORT_CODE_LIFETIME,
            Flow::AppAuthorize => LONG_CODE_LIFETIME,
        }
    }
}

/// Why no code was issued; the message is the control endpoint's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("unknown appid: {0}")]
    UnknownApp(String),
    #[error("{appid} is not a {expected}")]
    WrongKind {
        appid: String,
        expected: &'static str,
    },
    #[error("unknown persona: {0}")]
    UnknownPersona(String),
}

/// A single-use code of `flow` for `persona` at `appid`.
pub fn issue(
    config: &SimConfig,
    state: &mut State,
    flow: Flow,
    appid: &str,
    persona: &str,
    now: Instant,
) -> Result<String, IssueError> {
    let app = config
        .app(appid)
        .ok_or_else(|| IssueError::UnknownApp(appid.to_owned()))?;
    if app.kind != flow.kind() {
        let expected = match flow.kind() {
            AppKind::MobileApp => "mobile app",
            _ => "mini-program",
        };
        return Err(IssueError::WrongKind {
            appid: appid.to_owned(),
            expected,
        });
    }
    let persona = config
        .persona(persona)
        .ok_or_else(|| IssueError::UnknownPersona(persona.to_owned()))?;
    let subject = Subject {
        appid: app.appid.clone(),
        persona: persona.id.clone(),
        scope: flow.scope(),
    };
    Ok(state
        .grants
        .issue_code(subject, flow.purpose(), flow.lifetime(), now))
}
