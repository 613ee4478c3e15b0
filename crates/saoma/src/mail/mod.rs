//! Sending the email flows' mail: confirmation, invite, magic link, recovery, address change
//! and reauthentication. Services see only [`Mailer`]; what stands behind it is SMTP, GoTrue's
//! Send Email hook, or (`saoma dev`) a mailbox page; tests inject their own.

mod defaults;
pub mod hook;
pub mod mailbox;
pub mod message;
pub mod smtp;
pub mod template;
pub mod templates;

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
/// hook, no dev mailbox). As in GoTrue, an enabled Send Email hook replaces SMTP; the dev
/// mailbox (`saoma dev`) replaces SMTP too. Templates are read and checked here, at start,
/// whichever sends.
pub fn from_config(config: &Config) -> anyhow::Result<Option<SharedMailer>> {
    Ok(build(config)?.map(|built| built.mailer))
}

/// What [`from_config`] builds, with the dev mailbox apart so `saoma dev` can mount its pages.
pub struct Built {
    pub mailer: SharedMailer,
    pub mailbox: Option<mailbox::Mailbox>,
}

/// Called within a Tokio runtime: the SMTP connection pool starts a task.
pub fn build(config: &Config) -> anyhow::Result<Option<Built>> {
    let templates = Arc::new(templates::MailTemplates::load(&config.mailer)?);
    if config.mailer.hook.enabled {
        let hook: SharedMailer = Arc::new(hook::SendEmailHook::new(config)?);
        return Ok(Some(Built {
            mailer: hook,
            mailbox: None,
        }));
    }
    if config.mailer.dev_mailbox {
        let mailbox = mailbox::Mailbox::new(&config.smtp, templates)?;
        return Ok(Some(Built {
            mailer: Arc::new(mailbox.clone()),
            mailbox: Some(mailbox),
        }));
    }
    if config.smtp.host.trim().is_empty() {
        return Ok(None);
    }
    let smtp: SharedMailer = Arc::new(smtp::SmtpMailer::new(&config.smtp, templates)?);
    Ok(Some(Built {
        mailer: smtp,
        mailbox: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(config: &Config) -> Option<&'static str> {
        from_config(config).unwrap().map(|mailer| mailer.name())
    }

    // In a runtime: lettre's pool starts its task when the SMTP mailer is built.
    #[tokio::test]
    async fn the_hook_wins_then_the_dev_mailbox_then_smtp() {
        let mut config = Config::default();
        assert_eq!(name(&config), None);

        config.smtp.host = "smtp.exmail.qq.com".into();
        let error = from_config(&config).err().unwrap().to_string();
        assert!(error.contains("smtp.admin_email"), "{error}");
        config.smtp.admin_email = "noreply@example.cn".into();
        assert_eq!(name(&config), Some("smtp"));

        config.mailer.dev_mailbox = true;
        assert_eq!(name(&config), Some("mailbox"));
        assert!(build(&config).unwrap().unwrap().mailbox.is_some());

        config.mailer.hook.enabled = true;
        let error = from_config(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.hook.uri"), "{error}");
        config.mailer.hook.uri = "https://hooks.example.com/email".into();
        let error = from_config(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.hook.secrets"), "{error}");
        config.mailer.hook.secrets = "v1,whsec_YWJj".into();
        assert_eq!(name(&config), Some("hook"));
    }

    #[test]
    fn templates_are_checked_at_start_even_without_a_sender() {
        let mut config = Config::default();
        config.mailer.templates.invite = "/nonexistent/invite.html".into();
        let error = from_config(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.templates.invite"), "{error}");
    }
}
