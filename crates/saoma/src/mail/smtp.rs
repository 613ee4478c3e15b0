//! Mail through an SMTP server (lettre): implicit TLS or required STARTTLS (rustls, the
//! same TLS stack as saoma's HTTP client), AUTH when a user is set, a pool of connections,
//! timeouts, and one retry after a transient failure. Logs name the server and the SMTP code,
//! never the password.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Sender;
use super::templates::MailTemplates;
use super::{AuthMail, MailError, Mailer};
use crate::config::{SmtpConfig, SmtpSecurity};

/// A pause before the retry, so a server that was busy has a moment.
const RETRY_DELAY: Duration = Duration::from_millis(300);

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Sender,
    templates: Arc<MailTemplates>,
    /// `host:port`, for the log.
    server: String,
}

impl SmtpMailer {
    pub fn new(smtp: &SmtpConfig, templates: Arc<MailTemplates>) -> anyhow::Result<Self> {
        let host = smtp.host.trim();
        let sender = Sender::new(smtp)?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|error| anyhow::anyhow!("smtp.host {host:?}: TLS set-up: {error}"))
        };
        let tls = match smtp.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls(host)?),
            SmtpSecurity::Auto if smtp.port == 465 => Tls::Wrapper(tls(host)?),
            SmtpSecurity::Auto | SmtpSecurity::Starttls => Tls::Required(tls(host)?),
            SmtpSecurity::None => Tls::None,
        };
        if smtp.pool_size == 0 || smtp.timeout_seconds == 0 {
            anyhow::bail!("smtp.pool_size and smtp.timeout_seconds must be positive");
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(smtp.timeout_seconds)))
            .hello_name(ClientId::Domain(sender.domain.clone()))
            .pool_config(PoolConfig::new().max_size(smtp.pool_size));
        if !smtp.user.is_empty() {
            builder = builder.credentials(Credentials::new(
                smtp.user.clone(),
                smtp.pass.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            sender,
            templates,
            server: format!("{host}:{}", smtp.port),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, mail: &AuthMail<'_>) -> Result<(), MailError> {
        let rendered = self.templates.render(mail);
        let message = self.sender.message(mail.to, &rendered)?;
        let mut retried = false;
        loop {
            let error = match self.transport.send(message.clone()).await {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let code = error.status().map(|code| code.to_string());
            let failure = classify(&error);
            let transient = matches!(failure, Failure::Transient(_));
            tracing::warn!(
                server = %self.server,
                smtp_code = code.as_deref().unwrap_or("-"),
                error = %error,
                retrying = transient && !retried,
                "SMTP send failed"
            );
            match failure {
                Failure::Transient(_) if !retried => {
                    retried = true;
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Failure::Transient(error) | Failure::Final(error) => return Err(error),
            }
        }
    }
}

enum Failure {
    /// Worth one more try: a connection that failed or timed out, a 4xx.
    Transient(MailError),
    Final(MailError),
}

/// What a lettre error means for the caller. lettre does not say which command a 5xx
/// answered, so the code and the server's words (RFC 3463 enhanced codes) decide: 5.7.x and
/// AUTH codes are saoma's settings, a rejected sender (5.1.7, 5.1.8) too, other address
/// refusals (550, 551, 553, 5.1.x) the recipient's.
fn classify(error: &lettre::transport::smtp::Error) -> Failure {
    let said = error.to_string();
    if error.is_transient() {
        return Failure::Transient(MailError::Unavailable(format!(
            "the mail server is busy: {said}"
        )));
    }
    if error.is_timeout() {
        return Failure::Transient(MailError::Unavailable(format!(
            "the mail server timed out: {said}"
        )));
    }
    if error.is_tls() {
        return Failure::Final(MailError::Misconfigured(format!(
            "TLS with the mail server failed (check smtp.security and smtp.port): {said}"
        )));
    }
    if let Some(code) = error.status().filter(|_| error.is_permanent()) {
        let code: u16 = code.to_string().parse().unwrap_or(500);
        let lower = said.to_ascii_lowercase();
        let misconfigured = matches!(code, 530 | 534 | 535 | 538)
            || lower.contains("5.7.")
            || lower.contains("5.1.7")
            || lower.contains("5.1.8")
            || lower.contains("sender")
            || lower.contains("auth");
        return Failure::Final(if misconfigured {
            MailError::Misconfigured(format!(
                "the mail server refused saoma (check smtp.user, smtp.pass, smtp.admin_email): {said}"
            ))
        } else if matches!(code, 550 | 551 | 553) || lower.contains("5.1.") {
            MailError::InvalidAddress(format!("the mail server refused the address: {said}"))
        } else {
            MailError::Misconfigured(format!("the mail server refused the mail: {said}"))
        });
    }
    if error.is_client() {
        // No AUTH mechanism in common, STARTTLS not offered, 8BITMIME missing...
        return Failure::Final(MailError::Misconfigured(format!(
            "the mail server and saoma's settings do not fit: {said}"
        )));
    }
    // Connection refused, reset, a name that does not resolve, a broken answer.
    Failure::Transient(MailError::Unavailable(format!(
        "the mail server could not be reached: {said}"
    )))
}
