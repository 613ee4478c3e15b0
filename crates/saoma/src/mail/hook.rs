//! GoTrue's Send Email hook: instead of SMTP, saoma POSTs `{metadata, user, email_data:
//! {token, token_hash, redirect_to, email_action_type, site_url, token_new, token_hash_new,
//! ...}}` signed per Standard Webhooks to an endpoint that sends the mail (Resend, an ESP's
//! API, a queue), as Supabase's hook examples expect.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AuthMail, EmailAction, MailError, Mailer};
use crate::config::Config;
use crate::domain::user::UserView;
use crate::webhook::{check_uri, WebhookSigner};

/// GoTrue's hook timeout.
const TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_DELAY: Duration = Duration::from_millis(300);

pub struct SendEmailHook {
    http: reqwest::Client,
    uri: String,
    signer: WebhookSigner,
    /// GoTrue's `email_data.site_url` is the API's external URL (links go to `/verify`).
    api_url: String,
    secure_email_change: bool,
}

impl SendEmailHook {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let hook = &config.mailer.hook;
        let uri = hook.uri.trim();
        if uri.is_empty() {
            anyhow::bail!("the Send Email hook needs mailer.hook.uri (GOTRUE_HOOK_SEND_EMAIL_URI)");
        }
        check_uri(uri, "mailer.hook.uri")?;
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .build()?,
            uri: uri.to_owned(),
            signer: WebhookSigner::from_secrets(
                hook.secrets.expose(),
                "mailer.hook.secrets",
                "GOTRUE_HOOK_SEND_EMAIL_SECRETS",
            )?,
            api_url: config.external_url.trim_end_matches('/').to_owned(),
            secure_email_change: config.mailer.secure_email_change_enabled,
        })
    }

    /// GoTrue's body. It sends an address change in one call, the current address's code in
    /// `token` and the new one's in `token_new`; saoma's flows send each copy on its own, so
    /// each call carries its copy's code where a GoTrue hook looks for it (the new address's
    /// in `token` when only it is asked, secure change off, as GoTrue does).
    pub fn body(&self, mail: &AuthMail<'_>) -> Value {
        let new_copy = mail.action == EmailAction::EmailChangeNew && self.secure_email_change;
        let (token, token_hash, token_new, token_hash_new) = if new_copy {
            ("", "", mail.otp, mail.token_hash)
        } else {
            (mail.otp, mail.token_hash, "", "")
        };
        json!({
            "metadata": {
                "uuid": uuid::Uuid::new_v4(),
                "time": chrono::Utc::now(),
                "name": "send-email",
            },
            "user": UserView::new(mail.user, &[]),
            "email_data": {
                "token": token,
                "token_hash": token_hash,
                "redirect_to": mail.redirect_to,
                "email_action_type": mail.action.as_str(),
                "site_url": self.api_url,
                "token_new": token_new,
                "token_hash_new": token_hash_new,
                "old_email": "",
                "old_phone": "",
                "provider": "",
                "factor_type": "",
            },
        })
    }

    async fn attempt(&self, body: &str) -> Result<(), (bool, MailError)> {
        let mut request = self
            .http
            .post(&self.uri)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in self.signer.headers(body) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|error| {
            let what = if error.is_timeout() {
                "timed out"
            } else {
                "could not be reached"
            };
            (
                true,
                MailError::Unavailable(format!("send email hook {what}: {}", error.without_url())),
            )
        })?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        if let Some(error) = serde_json::from_slice::<Refusal>(&bytes)
            .ok()
            .and_then(|refusal| refusal.error)
        {
            tracing::warn!(%status, http_code = error.http_code, message = %error.message, "send email hook refused");
            return Err((
                false,
                match error.http_code {
                    400 => MailError::InvalidAddress(error.message),
                    _ => MailError::Unavailable(error.message),
                },
            ));
        }
        match status.as_u16() {
            200 | 202 | 204 => Ok(()),
            // GoTrue retries these two.
            429 | 503 => Err((
                true,
                MailError::Unavailable(format!("send email hook answered {status}")),
            )),
            401 | 403 => Err((
                false,
                MailError::Misconfigured(format!(
                    "send email hook answered {status}: do its secret and mailer.hook.secrets match?"
                )),
            )),
            _ => Err((
                false,
                MailError::Unavailable(format!("send email hook answered {status}")),
            )),
        }
    }
}

#[async_trait]
impl Mailer for SendEmailHook {
    fn name(&self) -> &'static str {
        "hook"
    }

    async fn send(&self, mail: &AuthMail<'_>) -> Result<(), MailError> {
        // One body for both tries: the hook can recognise a retry by its content.
        let body = self.body(mail).to_string();
        match self.attempt(&body).await {
            Ok(()) => Ok(()),
            Err((true, error)) => {
                tracing::warn!(%error, "send email hook fault; retrying once");
                tokio::time::sleep(RETRY_DELAY).await;
                self.attempt(&body).await.map_err(|(_, error)| error)
            }
            Err((false, error)) => Err(error),
        }
    }
}

/// `{"error": {"http_code", "message"}}`: the hook's refusal, surfaced to the caller.
#[derive(Deserialize)]
struct Refusal {
    error: Option<RefusalError>,
}

#[derive(Deserialize)]
struct RefusalError {
    #[serde(default = "internal_error")]
    http_code: u16,
    #[serde(default)]
    message: String,
}

fn internal_error() -> u16 {
    500
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::User;

    fn config() -> Config {
        let mut config = Config {
            external_url: "https://auth.example.com/auth/v1/".into(),
            ..Config::default()
        };
        config.mailer.hook.enabled = true;
        config.mailer.hook.uri = "https://hooks.example.com/email".into();
        config.mailer.hook.secrets = "v1,whsec_YWJj".into();
        config
    }

    fn mail<'a>(user: &'a User, action: EmailAction) -> AuthMail<'a> {
        AuthMail {
            action,
            to: "new@example.com",
            user,
            otp: "493817",
            token_hash: "hash-493817",
            confirmation_url: "https://auth.example.com/auth/v1/verify?token=x",
            redirect_to: "https://app.example.com/welcome",
            site_url: "https://app.example.com",
            new_email: Some("new@example.com"),
        }
    }

    #[test]
    fn the_payload_is_gotrues() {
        let hook = SendEmailHook::new(&config()).unwrap();
        let mut user = User::new(
            uuid::Uuid::nil(),
            "authenticated",
            "email",
            chrono::Utc::now(),
        );
        user.email = Some("old@example.com".into());
        let body = hook.body(&mail(&user, EmailAction::MagicLink));
        assert_eq!(body["user"]["email"], "old@example.com");
        assert_eq!(body["metadata"]["name"], "send-email");
        assert_eq!(
            body["email_data"],
            json!({
                "token": "493817",
                "token_hash": "hash-493817",
                "redirect_to": "https://app.example.com/welcome",
                "email_action_type": "magiclink",
                "site_url": "https://auth.example.com/auth/v1",
                "token_new": "",
                "token_hash_new": "",
                "old_email": "",
                "old_phone": "",
                "provider": "",
                "factor_type": "",
            })
        );
        // The new address's copy of a secure change carries its code in token_new.
        let body = hook.body(&mail(&user, EmailAction::EmailChangeNew));
        assert_eq!(body["email_data"]["email_action_type"], "email_change");
        assert_eq!(body["email_data"]["token"], "");
        assert_eq!(body["email_data"]["token_new"], "493817");
        assert_eq!(body["email_data"]["token_hash_new"], "hash-493817");
        let body = hook.body(&mail(&user, EmailAction::EmailChangeCurrent));
        assert_eq!(body["email_data"]["token"], "493817");
        // Secure change off: only the new address is asked, its code in token.
        let mut single = config();
        single.mailer.secure_email_change_enabled = false;
        let body = SendEmailHook::new(&single)
            .unwrap()
            .body(&mail(&user, EmailAction::EmailChangeNew));
        assert_eq!(body["email_data"]["token"], "493817");
        assert_eq!(body["email_data"]["token_new"], "");
    }

    #[test]
    fn uri_and_secrets_are_required() {
        let mut config = config();
        config.mailer.hook.secrets = "".into();
        let error = SendEmailHook::new(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.hook.secrets"), "{error}");
        config.mailer.hook.uri = "".into();
        let error = SendEmailHook::new(&config).err().unwrap().to_string();
        assert!(error.contains("mailer.hook.uri"), "{error}");
        config.mailer.hook.uri = "http://hooks.example.com/email".into();
        config.mailer.hook.secrets = "v1,whsec_YWJj".into();
        assert!(SendEmailHook::new(&config).is_err());
    }
}
