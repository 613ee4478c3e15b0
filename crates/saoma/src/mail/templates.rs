//! The subject, HTML and text of each mail: a user's own templates (GoTrue's syntax and
//! variables, read once at start) or the built-in ones in `mailer.locale`.

use std::path::Path;

use serde_json::Value;

use super::template::{Syntax, Template, Variables};
use super::{defaults, AuthMail, EmailAction};
use crate::config::{MailTexts, MailerConfig};

/// The six templates GoTrue has (both copies of an address change share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Confirmation,
    Invite,
    MagicLink,
    Recovery,
    EmailChange,
    Reauthentication,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Confirmation,
        Kind::Invite,
        Kind::MagicLink,
        Kind::Recovery,
        Kind::EmailChange,
        Kind::Reauthentication,
    ];

    pub fn of(action: EmailAction) -> Self {
        match action {
            EmailAction::Signup => Kind::Confirmation,
            EmailAction::Invite => Kind::Invite,
            EmailAction::MagicLink => Kind::MagicLink,
            EmailAction::Recovery => Kind::Recovery,
            EmailAction::EmailChangeCurrent | EmailAction::EmailChangeNew => Kind::EmailChange,
            EmailAction::Reauthentication => Kind::Reauthentication,
        }
    }

    /// The setting's name under `mailer.subjects` / `mailer.templates`.
    fn setting(self) -> &'static str {
        match self {
            Kind::Confirmation => "confirmation",
            Kind::Invite => "invite",
            Kind::MagicLink => "magic_link",
            Kind::Recovery => "recovery",
            Kind::EmailChange => "email_change",
            Kind::Reauthentication => "reauthentication",
        }
    }

    fn text(self, texts: &MailTexts) -> &str {
        match self {
            Kind::Confirmation => &texts.confirmation,
            Kind::Invite => &texts.invite,
            Kind::MagicLink => &texts.magic_link,
            Kind::Recovery => &texts.recovery,
            Kind::EmailChange => &texts.email_change,
            Kind::Reauthentication => &texts.reauthentication,
        }
        .trim()
    }
}

/// One mail, ready to be put in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

struct MailTemplate {
    subject: Template,
    html: Template,
    text: Template,
}

/// Every mail's templates, parsed once.
pub struct MailTemplates {
    templates: Vec<(Kind, MailTemplate)>,
}

impl MailTemplates {
    /// Reads and parses the configured templates; a missing or unreadable file, a URL (what
    /// GoTrue takes) or a syntax saoma does not support is an error naming the setting.
    pub fn load(config: &MailerConfig) -> anyhow::Result<Self> {
        let zh = match config.locale.trim() {
            "zh" | "zh-CN" | "zh_CN" => true,
            "en" => false,
            other => anyhow::bail!("mailer.locale must be zh or en, not {other:?}"),
        };
        let templates = Kind::ALL
            .into_iter()
            .map(|kind| Ok((kind, MailTemplate::load(kind, config, zh)?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { templates })
    }

    pub fn render(&self, mail: &AuthMail<'_>) -> Rendered {
        let kind = Kind::of(mail.action);
        let variables = variables(mail);
        let Some((_, template)) = self.templates.iter().find(|(known, _)| *known == kind) else {
            // `load` parses every kind.
            return Rendered {
                subject: String::new(),
                html: String::new(),
                text: String::new(),
            };
        };
        Rendered {
            // A subject is one line, whatever a template's value holds.
            subject: one_line(&template.subject.render(&variables)),
            html: template.html.render(&variables),
            text: template.text.render(&variables),
        }
    }
}

impl MailTemplate {
    fn load(kind: Kind, config: &MailerConfig, zh: bool) -> anyhow::Result<Self> {
        let (default_subject, default_html, default_text) = defaults::sources(kind, zh);
        let setting = kind.setting();
        let subject_source = match kind.text(&config.subjects) {
            "" => default_subject,
            custom => custom.to_owned(),
        };
        let subject = Template::parse(&subject_source, Syntax::Text)
            .map_err(|error| anyhow::anyhow!("mailer.subjects.{setting}: {error}"))?;
        let path = kind.text(&config.templates);
        let (html_source, text_source) = if path.is_empty() {
            (default_html, default_text)
        } else {
            read_files(path, &format!("mailer.templates.{setting}"), default_text)?
        };
        let html = Template::parse(&html_source, Syntax::Html)
            .map_err(|error| anyhow::anyhow!("mailer.templates.{setting} ({path}): {error}"))?;
        let text = Template::parse(&text_source, Syntax::Text).map_err(|error| {
            anyhow::anyhow!("mailer.templates.{setting}: the text part beside {path}: {error}")
        })?;
        Ok(Self {
            subject,
            html,
            text,
        })
    }
}

/// A template file, and the text part beside it (same name, `.txt`) or the built-in one.
fn read_files(path: &str, setting: &str, default_text: String) -> anyhow::Result<(String, String)> {
    if path.starts_with("http://") || path.starts_with("https://") {
        anyhow::bail!(
            "{setting} is a URL ({path}): GoTrue fetches templates over HTTP, saoma reads them \
             from files; save the template and set {setting} to the file's path"
        );
    }
    let html = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("{setting}: reading {path}: {error}"))?;
    let text_path = Path::new(path).with_extension("txt");
    let text = if text_path != Path::new(path) && text_path.exists() {
        std::fs::read_to_string(&text_path).map_err(|error| {
            anyhow::anyhow!("{setting}: reading {}: {error}", text_path.display())
        })?
    } else {
        default_text
    };
    Ok((html, text))
}

/// GoTrue's template variables for one mail.
fn variables(mail: &AuthMail<'_>) -> Variables {
    let email = mail.user.email.as_deref().unwrap_or(mail.to);
    let mut variables = Variables::new();
    for (name, value) in [
        ("SiteURL", mail.site_url),
        ("ConfirmationURL", mail.confirmation_url),
        ("Email", email),
        ("NewEmail", mail.new_email.unwrap_or_default()),
        ("SendingTo", mail.to),
        ("Token", mail.otp),
        ("TokenHash", mail.token_hash),
        ("RedirectTo", mail.redirect_to),
    ] {
        variables.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    variables.insert("Data".to_owned(), mail.user.user_metadata.clone());
    variables
}

fn one_line(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::User;

    fn user() -> User {
        let mut user = User::new(
            uuid::Uuid::nil(),
            "authenticated",
            "email",
            chrono::Utc::now(),
        );
        user.email = Some("old@example.com".into());
        user.user_metadata = serde_json::json!({"name": "小明 <Ming>"});
        user
    }

    fn mail<'a>(user: &'a User, action: EmailAction) -> AuthMail<'a> {
        AuthMail {
            action,
            to: "old@example.com",
            user,
            otp: "493817",
            token_hash: "pkce_5f2b",
            confirmation_url: "http://localhost:9999/verify?token=pkce_5f2b&type=signup&redirect_to=http://localhost:3000",
            redirect_to: "http://localhost:3000",
            site_url: "http://localhost:3000",
            new_email: Some("new@example.com"),
        }
    }

    const ACTIONS: [EmailAction; 7] = [
        EmailAction::Signup,
        EmailAction::Invite,
        EmailAction::MagicLink,
        EmailAction::Recovery,
        EmailAction::EmailChangeCurrent,
        EmailAction::EmailChangeNew,
        EmailAction::Reauthentication,
    ];

    #[test]
    fn built_in_mails_carry_the_code_and_the_link_in_both_parts_and_languages() {
        let user = user();
        for locale in ["zh", "en"] {
            let config = MailerConfig {
                locale: locale.into(),
                ..MailerConfig::default()
            };
            let templates = MailTemplates::load(&config).unwrap();
            for action in ACTIONS {
                let rendered = templates.render(&mail(&user, action));
                assert!(!rendered.subject.is_empty(), "{action:?}");
                for part in [&rendered.html, &rendered.text] {
                    assert!(part.contains("493817"), "{locale} {action:?}: {part}");
                    if action != EmailAction::Reauthentication {
                        assert!(
                            part.contains("http://localhost:9999/verify?token=pkce_5f2b&")
                                || part.contains(
                                    "http://localhost:9999/verify?token=pkce_5f2b&amp;type=signup"
                                ),
                            "{locale} {action:?}: {part}"
                        );
                    }
                }
                assert!(!rendered.text.contains('<'), "{}", rendered.text);
                if Kind::of(action) == Kind::EmailChange {
                    for part in [&rendered.html, &rendered.text] {
                        assert!(
                            part.contains("old@example.com") && part.contains("new@example.com")
                        );
                    }
                }
            }
        }
        let english = MailTemplates::load(&MailerConfig {
            locale: "en".into(),
            ..MailerConfig::default()
        })
        .unwrap();
        let subject = |action| english.render(&mail(&user, action)).subject;
        assert_eq!(subject(EmailAction::Signup), "Confirm your email address");
        assert_eq!(
            subject(EmailAction::Reauthentication),
            "493817 is your verification code"
        );
        let chinese = MailTemplates::load(&MailerConfig::default()).unwrap();
        assert_eq!(
            chinese.render(&mail(&user, EmailAction::Recovery)).subject,
            "重置您的密码"
        );
    }

    #[test]
    fn custom_templates_and_subjects_come_from_files_read_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let html_path = dir.path().join("confirm.html");
        std::fs::write(
            &html_path,
            r#"<a href="{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email">Confirm</a> {{ .Token }} {{ .Data.name }}"#,
        )
        .unwrap();
        let mut config = MailerConfig::default();
        config.templates.confirmation = html_path.display().to_string();
        config.subjects.confirmation = "Welcome {{ .Data.name }}".into();
        let templates = MailTemplates::load(&config).unwrap();
        let user = user();
        let rendered = templates.render(&mail(&user, EmailAction::Signup));
        assert_eq!(
            rendered.html,
            r#"<a href="http://localhost:3000/auth/confirm?token_hash=pkce_5f2b&type=email">Confirm</a> 493817 小明 &lt;Ming&gt;"#
        );
        assert_eq!(rendered.subject, "Welcome 小明 <Ming>");
        // No text file beside it: the built-in text part, with the same data.
        assert!(rendered.text.contains("493817"), "{}", rendered.text);

        std::fs::write(dir.path().join("confirm.txt"), "Code: {{ .Token }}").unwrap();
        let templates = MailTemplates::load(&config).unwrap();
        assert_eq!(
            templates.render(&mail(&user, EmailAction::Signup)).text,
            "Code: 493817"
        );

        // Read once: a change on disk is not seen until the next start.
        std::fs::write(&html_path, "changed").unwrap();
        assert!(templates
            .render(&mail(&user, EmailAction::Signup))
            .html
            .contains("493817"));
    }

    #[test]
    fn bad_template_settings_stop_the_start_naming_the_setting() {
        let mut config = MailerConfig::default();
        config.templates.recovery = "/nonexistent/recovery.html".into();
        let error = MailTemplates::load(&config).err().unwrap().to_string();
        assert!(
            error.contains("mailer.templates.recovery") && error.contains("/nonexistent"),
            "{error}"
        );

        config.templates.recovery = "https://example.com/templates/recovery.html".into();
        let error = MailTemplates::load(&config).err().unwrap().to_string();
        assert!(
            error.contains("mailer.templates.recovery") && error.contains("URL"),
            "{error}"
        );

        let mut config = MailerConfig::default();
        config.subjects.invite = "{{ range .Data }}{{ end }}".into();
        let error = MailTemplates::load(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.subjects.invite"), "{error}");

        let config = MailerConfig {
            locale: "fr".into(),
            ..MailerConfig::default()
        };
        assert!(MailTemplates::load(&config)
            .err()
            .unwrap()
            .to_string()
            .contains("mailer.locale"));
    }
}
