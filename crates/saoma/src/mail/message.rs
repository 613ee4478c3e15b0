//! A rendered mail as an Internet message: From `sender_name <admin_email>`, To, a UTF-8
//! Subject, Date, a Message-ID at the sender's domain, and a multipart/alternative body
//! (text, then HTML: clients show the last part they can).

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::templates::Rendered;
use super::MailError;
use crate::config::SmtpConfig;

/// Who mails come from, checked once at start.
#[derive(Debug, Clone)]
pub struct Sender {
    from: Mailbox,
    /// The part of `admin_email` after `@`: Message-IDs are made there, and it is the name
    /// saoma greets SMTP servers with.
    pub domain: String,
}

impl Sender {
    pub fn new(smtp: &SmtpConfig) -> anyhow::Result<Self> {
        let address = smtp.admin_email.trim();
        if address.is_empty() {
            anyhow::bail!(
                "sending mail needs a From address: set smtp.admin_email (GOTRUE_SMTP_ADMIN_EMAIL)"
            );
        }
        let email: lettre::Address = address.parse().map_err(|error| {
            anyhow::anyhow!("smtp.admin_email {address:?} is not an email address: {error}")
        })?;
        let name = smtp.sender_name.trim();
        let domain = email.domain().to_owned();
        Ok(Self {
            from: Mailbox::new((!name.is_empty()).then(|| name.to_owned()), email),
            domain,
        })
    }

    /// The message for `to`; an address that cannot be written in a message is refused.
    pub fn message(&self, to: &str, rendered: &Rendered) -> Result<Message, MailError> {
        let to: Mailbox = to
            .trim()
            .parse()
            .map_err(|_| MailError::InvalidAddress(format!("{to:?} is not an email address")))?;
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.domain);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .date_now()
            .message_id(Some(message_id))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html.clone()),
                    ),
            )
            .map_err(|error| MailError::Misconfigured(format!("building the message: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str) -> Sender {
        Sender::new(&SmtpConfig {
            admin_email: "noreply@mail.example.cn".into(),
            sender_name: name.into(),
            ..SmtpConfig::default()
        })
        .unwrap()
    }

    fn rendered() -> Rendered {
        Rendered {
            subject: "确认您的邮箱地址".into(),
            html: "<p>验证码 <b>493817</b></p>".into(),
            text: "验证码 493817".into(),
        }
    }

    #[test]
    fn headers_are_encoded_and_both_parts_are_there() {
        let message = sender("扫码登录")
            .message("user@example.com", &rendered())
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.is_ascii(), "non-ASCII must be encoded: {raw}");
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(headers.contains("From: =?utf-8?b?"), "{headers}");
        assert!(headers.contains("<noreply@mail.example.cn>"), "{headers}");
        assert!(headers.contains("To: user@example.com"), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?b?"), "{headers}");
        assert!(headers.contains("Date: "), "{headers}");
        let message_id = headers
            .lines()
            .find(|line| line.starts_with("Message-ID: "))
            .unwrap();
        assert!(message_id.ends_with("@mail.example.cn>"), "{message_id}");
        assert!(
            headers.contains("Content-Type: multipart/alternative"),
            "{headers}"
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.find("text/plain") < raw.find("text/html"), "text first");
    }

    #[test]
    fn an_ascii_sender_name_and_no_name_both_work() {
        let raw = String::from_utf8(
            sender("Acme")
                .message("a@b.co", &rendered())
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            raw.contains("From: Acme <noreply@mail.example.cn>"),
            "{raw}"
        );
        let raw = String::from_utf8(
            sender("")
                .message("a@b.co", &rendered())
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(raw.contains("From: noreply@mail.example.cn"), "{raw}");
    }

    #[test]
    fn bad_addresses_are_refused() {
        assert!(matches!(
            sender("").message("not an address", &rendered()),
            Err(MailError::InvalidAddress(_))
        ));
        let error = Sender::new(&SmtpConfig::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("smtp.admin_email"), "{error}");
        let error = Sender::new(&SmtpConfig {
            admin_email: "nope".into(),
            ..SmtpConfig::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("smtp.admin_email"), "{error}");
    }
}
