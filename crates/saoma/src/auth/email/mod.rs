//! The email flows (GoTrue's): sign-up confirmation, magic links and email codes, password
//! recovery, address changes, invitations, reauthentication and admin-made links.
//!
//! Every mail carries a code and a link. Both are stored only as GoTrue's SHA-224 hash in the
//! one-time-token table (a link of a PKCE flow as `pkce_` + hash), live `mailer.otp_exp`
//! seconds, are consumed by the first right answer, and die after `mailer.max_attempts` wrong
//! codes. Another mail of the same kind may go to a user only after `smtp.max_frequency`.

pub mod change;
pub mod flows;
pub mod generate_link;
pub mod send;
pub mod verify;

use crate::{
    auth::{AuthError, AuthResult},
    domain::{email, flow::Challenge, redirect},
    state::AppState,
};

/// The `amr` method of a session that began with an emailed link or code, as GoTrue records it.
pub const OTP: &str = "otp";

/// What a `/verify` request (or an emailed link) confirms, by GoTrue's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Signup,
    Invite,
    MagicLink,
    Recovery,
    EmailChange,
    /// A code from `signInWithOtp({email})`: a sign-up confirmation or a magic link.
    Email,
}

impl LinkType {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "signup" => Self::Signup,
            "invite" => Self::Invite,
            "magiclink" => Self::MagicLink,
            "recovery" => Self::Recovery,
            "email_change" => Self::EmailChange,
            "email" => Self::Email,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Invite => "invite",
            Self::MagicLink => "magiclink",
            Self::Recovery => "recovery",
            Self::EmailChange => "email_change",
            Self::Email => "email",
        }
    }

    /// GoTrue's `authentication_method` of the PKCE flow a link of this type belongs to.
    pub fn flow_method(self) -> &'static str {
        match self {
            Self::Signup | Self::Email => "email/signup",
            Self::Invite => "invite",
            Self::MagicLink => "magiclink",
            Self::Recovery => "recovery",
            Self::EmailChange => "email_change",
        }
    }
}

/// Email sign-in must be on for any of these flows.
pub fn require_enabled(state: &AppState, what: &'static str) -> AuthResult<()> {
    if state.config.external.email.enabled {
        Ok(())
    } else {
        Err(AuthError::EmailProviderDisabled(what))
    }
}

/// `raw` as GoTrue stores addresses (trimmed, lower-case), or GoTrue's refusal.
pub fn normalize(raw: &str) -> AuthResult<String> {
    email::normalize(raw).map_err(AuthError::validation)
}

/// Where a link sends the browser: the request's `redirect_to` when the allow list permits it,
/// else the site URL.
pub fn redirect_target(state: &AppState, requested: Option<&str>) -> String {
    let config = &state.config;
    redirect::resolve(requested, &config.site_url, &config.uri_allow_list)
}

/// The PKCE challenge of a request, GoTrue's rules checked.
pub fn challenge(value: Option<&str>, method: Option<&str>) -> AuthResult<Option<Challenge>> {
    Challenge::parse(value, method).map_err(AuthError::validation)
}
