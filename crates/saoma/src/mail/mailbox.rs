//! `saoma dev`'s mailbox: mail is rendered and built as for SMTP, then kept in memory (the
//! last [`KEEP`]) instead of sent, and shown at `/mailbox`: a page per address, newest first,
//! links clickable, each mail's HTML and text; `GET /mailbox/messages?to=` gives the same as
//! JSON, for tests and browser scripts. `saoma serve` refuses it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::message::Sender;
use super::template::html_escape;
use super::templates::MailTemplates;
use super::{AuthMail, MailError, Mailer};
use crate::config::SmtpConfig;

/// How many mails are kept; older ones are dropped.
pub const KEEP: usize = 500;

/// One kept mail, as the JSON list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeptMail {
    pub id: u64,
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Default)]
struct Kept {
    next_id: u64,
    /// Oldest first.
    mails: VecDeque<KeptMail>,
}

/// The mailer and the pages read the same mailbox.
#[derive(Clone)]
pub struct Mailbox {
    kept: Arc<Mutex<Kept>>,
    sender: Sender,
    templates: Arc<MailTemplates>,
}

impl Mailbox {
    /// `smtp` gives the From (a stand-in when `smtp.admin_email` is not set).
    pub fn new(smtp: &SmtpConfig, templates: Arc<MailTemplates>) -> anyhow::Result<Self> {
        let mut smtp = smtp.clone();
        if smtp.admin_email.trim().is_empty() {
            smtp.admin_email = "noreply@saoma.localhost".into();
        }
        Ok(Self {
            kept: Arc::default(),
            sender: Sender::new(&smtp)?,
            templates,
        })
    }

    /// Newest first; only `to`'s when given (case-insensitively).
    pub fn messages(&self, to: Option<&str>) -> Vec<KeptMail> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.mails
            .iter()
            .rev()
            .filter(|mail| to.is_none_or(|to| mail.to.eq_ignore_ascii_case(to.trim())))
            .cloned()
            .collect()
    }

    fn message(&self, id: u64) -> Option<KeptMail> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.mails.iter().find(|mail| mail.id == id).cloned()
    }

    /// The pages and the JSON, to nest at `mounted_at` (`/mailbox`; the pages link there).
    pub fn router(&self, mounted_at: &str) -> Router {
        let pages = Pages {
            mailbox: self.clone(),
            base: Arc::from(mounted_at.trim_end_matches('/')),
        };
        Router::new()
            .route("/", get(index))
            .route("/messages", get(list))
            .route("/messages/{id}", get(html_view))
            .route("/messages/{id}/text", get(text_view))
            .with_state(pages)
    }
}

#[async_trait]
impl Mailer for Mailbox {
    fn name(&self) -> &'static str {
        "mailbox"
    }

    async fn send(&self, mail: &AuthMail<'_>) -> Result<(), MailError> {
        let rendered = self.templates.render(mail);
        // Built as SMTP would build it, so an address a real server could not take fails here.
        self.sender.message(mail.to, &rendered)?;
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.next_id += 1;
        let id = kept.next_id;
        kept.mails.push_back(KeptMail {
            id,
            to: mail.to.trim().to_owned(),
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            created_at: Utc::now(),
        });
        while kept.mails.len() > KEEP {
            kept.mails.pop_front();
        }
        tracing::info!(to = mail.to, id, "mail kept in the dev mailbox");
        Ok(())
    }
}

/// What the pages read: the mailbox, and where they are mounted (for their links).
#[derive(Clone)]
struct Pages {
    mailbox: Mailbox,
    base: Arc<str>,
}

#[derive(Deserialize)]
struct ToQuery {
    to: Option<String>,
}

async fn list(State(pages): State<Pages>, Query(query): Query<ToQuery>) -> Json<Vec<KeptMail>> {
    Json(
        pages
            .mailbox
            .messages(query.to.as_deref().filter(|to| !to.trim().is_empty())),
    )
}

fn escaped(text: &str) -> String {
    let mut out = String::new();
    html_escape(text, &mut out);
    out
}

/// The list page: addresses on the left, the chosen one's mails newest first; refreshes
/// itself every two seconds, as the SMS simulator's inbox does.
async fn index(State(pages): State<Pages>, Query(query): Query<ToQuery>) -> Response {
    let Pages { mailbox, base } = pages;
    let to = query.to.filter(|to| !to.trim().is_empty());
    let all = mailbox.messages(None);
    let mut addresses: Vec<(String, usize)> = Vec::new();
    for mail in &all {
        match addresses
            .iter_mut()
            .find(|(address, _)| address.eq_ignore_ascii_case(&mail.to))
        {
            Some((_, count)) => *count += 1,
            None => addresses.push((mail.to.clone(), 1)),
        }
    }
    let mut page = String::from(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>saoma dev mailbox</title>\
         <style>body{font-family:system-ui,sans-serif;margin:0;display:flex;color:#1f2328}\
         nav{width:260px;border-right:1px solid #ddd;padding:16px;min-height:100vh}\
         main{flex:1;padding:16px}a{color:#0969da}li{margin:4px 0}\
         .mail{border:1px solid #ddd;border-radius:6px;padding:12px;margin:0 0 12px}\
         .meta{color:#57606a;font-size:13px}pre{white-space:pre-wrap}</style></head><body>\
         <nav><h2>收件箱 Mailbox</h2><p class=\"meta\">saoma dev keeps mail here instead of sending it.</p>\
         <ul>",
    );
    page.push_str(&format!("<li><a href=\"{base}\">all</a></li>"));
    for (address, count) in &addresses {
        page.push_str(&format!(
            "<li><a href=\"{base}?to={}\">{}</a> ({count})</li>",
            crate::providers::urlencode(address),
            escaped(address)
        ));
    }
    page.push_str("</ul></nav><main>");
    let shown = mailbox.messages(to.as_deref());
    page.push_str(&format!(
        "<h1>{}</h1>",
        escaped(to.as_deref().unwrap_or("all mail"))
    ));
    if shown.is_empty() {
        page.push_str("<p class=\"meta\">No mail yet.</p>");
    }
    for mail in shown {
        page.push_str(&format!(
            "<div class=\"mail\"><b>{subject}</b><div class=\"meta\">to {to} · {at} · \
             <a href=\"{base}/messages/{id}\">HTML</a> · <a href=\"{base}/messages/{id}/text\">text</a></div>\
             <pre>{text}</pre></div>",
            subject = escaped(&mail.subject),
            to = escaped(&mail.to),
            at = mail.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            id = mail.id,
            text = linkify(&mail.text),
        ));
    }
    page.push_str("</main></body></html>");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// Escapes the text part and makes its http(s) links clickable.
fn linkify(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        // A link may follow a label without a space (`登录：http://...`).
        match word.find("https://").or_else(|| word.find("http://")) {
            Some(start) => {
                let href = escaped(&word[start..]);
                out.push_str(&escaped(&word[..start]));
                out.push_str(&format!("<a href=\"{href}\">{href}</a>"));
            }
            None => out.push_str(&escaped(word)),
        }
        let space_end = after
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(after.len());
        out.push_str(&after[..space_end]);
        rest = &after[space_end..];
    }
    out
}

/// A mail's HTML as the recipient would see it; no scripts run (sandbox), links work.
async fn html_view(State(pages): State<Pages>, Path(id): Path<u64>) -> Response {
    match pages.mailbox.message(id) {
        Some(mail) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation",
                ),
            ],
            mail.html,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such mail (the mailbox keeps the last 500)").into_response(),
    }
}

async fn text_view(State(pages): State<Pages>, Path(id): Path<u64>) -> Response {
    match pages.mailbox.message(id) {
        Some(mail) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            mail.text,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no such mail (the mailbox keeps the last 500)",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MailerConfig;
    use crate::domain::User;
    use crate::mail::EmailAction;
    use tower::ServiceExt;

    fn mailbox() -> Mailbox {
        let templates = Arc::new(MailTemplates::load(&MailerConfig::default()).unwrap());
        Mailbox::new(&SmtpConfig::default(), templates).unwrap()
    }

    async fn send(mailbox: &Mailbox, to: &str, otp: &str) -> Result<(), MailError> {
        let user = User::new(uuid::Uuid::nil(), "authenticated", "email", Utc::now());
        mailbox
            .send(&AuthMail {
                action: EmailAction::MagicLink,
                to,
                user: &user,
                otp,
                token_hash: "h",
                confirmation_url: "http://localhost:9999/verify?token=h&type=magiclink",
                redirect_to: "",
                site_url: "http://localhost:3000",
                new_email: None,
            })
            .await
    }

    async fn get(router: Router, uri: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(
                axum::http::Request::get(uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn mail_is_kept_newest_first_per_address_and_served() {
        let mailbox = mailbox();
        send(&mailbox, "a@example.com", "111111").await.unwrap();
        send(&mailbox, "b@example.com", "222222").await.unwrap();
        send(&mailbox, "A@example.com", "333333").await.unwrap();
        assert!(matches!(
            send(&mailbox, "not an address", "1").await,
            Err(MailError::InvalidAddress(_))
        ));

        let (status, json) = get(mailbox.router(""), "/messages?to=a@example.com").await;
        assert_eq!(status, StatusCode::OK);
        let mails: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(mails.len(), 2);
        assert!(mails[0]["text"].as_str().unwrap().contains("333333"));
        assert!(mails[1]["html"].as_str().unwrap().contains("111111"));
        for field in ["id", "to", "subject", "html", "text", "created_at"] {
            assert!(mails[0].get(field).is_some(), "{field}");
        }

        let (_, page) = get(mailbox.router(""), "/").await;
        assert!(
            page.contains("a@example.com") && page.contains("b@example.com"),
            "{page}"
        );
        assert!(
            page.contains("<a href=\"http://localhost:9999/verify?token=h&amp;type=magiclink\">"),
            "{page}"
        );
        let id = mails[0]["id"].as_u64().unwrap();
        let (status, html) = get(mailbox.router(""), &format!("/messages/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("333333"));
        let (_, text) = get(mailbox.router(""), &format!("/messages/{id}/text")).await;
        assert!(text.contains("333333") && !text.contains('<'));
        assert_eq!(
            get(mailbox.router(""), "/messages/999").await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn only_the_last_mails_are_kept() {
        let mailbox = mailbox();
        for n in 0..KEEP + 3 {
            send(&mailbox, "a@example.com", &n.to_string())
                .await
                .unwrap();
        }
        let mails = mailbox.messages(None);
        assert_eq!(mails.len(), KEEP);
        assert!(mails[0].text.contains(&(KEEP + 2).to_string()));
    }
}
