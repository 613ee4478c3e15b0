//! `[mailer]` and `[smtp]`: the email flows' one-time tokens, templates and the way mail
//! leaves (GoTrue's `GOTRUE_MAILER_*`, `GOTRUE_SMTP_*` and `GOTRUE_HOOK_SEND_EMAIL_*`).

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct MailerConfig {
    /// Sign-ups are confirmed at once (no email is sent).
    pub autoconfirm: bool,
    /// An address change is confirmed from both the current and the new address (GoTrue's
    /// default); off: the new address alone.
    pub secure_email_change_enabled: bool,
    /// A link's or code's lifetime in seconds (GoTrue's default 86400).
    pub otp_exp: i64,
    /// Digits per code, 6 to 10.
    pub otp_length: usize,
    /// Wrong codes an emailed token survives; the next one kills it.
    pub max_attempts: u32,
    /// Language of the built-in templates: `zh` or `en`.
    pub locale: String,
    /// Subject lines; empty: the built-in one in `locale`. GoTrue's template variables work.
    pub subjects: MailTexts,
    /// Template files (HTML with GoTrue's `{{ .Variable }}`s); empty: the built-in ones.
    pub templates: MailTexts,
    /// `saoma dev` only: keep outgoing mail in a mailbox page instead of sending it.
    pub dev_mailbox: bool,
    /// GoTrue's Send Email hook: when enabled it replaces SMTP.
    pub hook: MailHookConfig,
}

impl Default for MailerConfig {
    fn default() -> Self {
        Self {
            autoconfirm: false,
            secure_email_change_enabled: true,
            otp_exp: 86_400,
            otp_length: 6,
            max_attempts: 5,
            locale: "zh".into(),
            subjects: MailTexts::default(),
            templates: MailTexts::default(),
            dev_mailbox: false,
            hook: MailHookConfig::default(),
        }
    }
}

/// One text per mail GoTrue sends (a subject, or a template file's path).
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MailTexts {
    pub confirmation: String,
    pub invite: String,
    pub magic_link: String,
    pub recovery: String,
    pub email_change: String,
    pub reauthentication: String,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MailHookConfig {
    pub enabled: bool,
    /// Where the hook is posted (`https://...`; `http://` only to loopback).
    pub uri: String,
    /// Standard Webhooks secrets, `v1,whsec_<base64>` (several separated by `|`).
    pub secrets: Secret,
}

/// How `[smtp]` protects the connection.
#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Debug, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Implicit TLS on port 465, STARTTLS (required) on any other port.
    #[default]
    Auto,
    /// STARTTLS, required: a server that does not offer it is refused.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain text: only for a relay on this machine or a test sink.
    None,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Empty: no SMTP server, so no mail can be sent (unless the hook or the dev mailbox).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub pass: Secret,
    pub security: SmtpSecurity,
    /// The From address (GOTRUE_SMTP_ADMIN_EMAIL).
    pub admin_email: String,
    /// The From name (GOTRUE_SMTP_SENDER_NAME).
    pub sender_name: String,
    /// Seconds before another mail of the same kind may go to the same user (GoTrue's 60).
    pub max_frequency: i64,
    /// Seconds to connect, and for each SMTP command.
    pub timeout_seconds: u64,
    /// Connections kept open to the server.
    pub pool_size: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            user: String::new(),
            pass: Secret::default(),
            security: SmtpSecurity::Auto,
            admin_email: String::new(),
            sender_name: String::new(),
            max_frequency: 60,
            timeout_seconds: 10,
            pool_size: 4,
        }
    }
}
