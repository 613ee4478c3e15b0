//! Sending one of the flows' mails: the frequency and budget checks, the code and its stored
//! hash, the PKCE flow a link belongs to, the link itself, and undoing all of it when the
//! mail does not leave.

use chrono::{DateTime, Duration, Utc};

use crate::{
    auth::{email::LinkType, one_time_codes, rate_limit, AuthError, AuthResult},
    domain::{
        audit::AuditEntry,
        flow::{Challenge, FlowState},
        one_time_token::{self, OneTimeToken, TokenType},
        User, UserChanges,
    },
    mail::{AuthMail, EmailAction, MailError, SharedMailer},
    providers::urlencode,
    state::AppState,
};

/// One mail to send to a user.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub action: EmailAction,
    pub user: &'a User,
    /// Where the link lands (already checked against the allow list).
    pub redirect_to: &'a str,
    /// The PKCE challenge of the request that asked for the mail, if any.
    pub challenge: Option<&'a Challenge>,
    /// Recorded with the mail's `*_sent_at` (GoTrue's `user_confirmation_requested`...).
    pub audit: Option<&'a AuditEntry>,
}

/// What a mail's link confirms, and how the mail's kind is stored and limited.
pub fn shape(action: EmailAction) -> (TokenType, Option<LinkType>) {
    match action {
        EmailAction::Signup => (TokenType::Confirmation, Some(LinkType::Signup)),
        EmailAction::Invite => (TokenType::Confirmation, Some(LinkType::Invite)),
        // A magic link shares the recovery slot (and its resend interval), as in GoTrue.
        EmailAction::MagicLink => (TokenType::Recovery, Some(LinkType::MagicLink)),
        EmailAction::Recovery => (TokenType::Recovery, Some(LinkType::Recovery)),
        EmailAction::EmailChangeCurrent => {
            (TokenType::EmailChangeCurrent, Some(LinkType::EmailChange))
        }
        EmailAction::EmailChangeNew => (TokenType::EmailChangeNew, Some(LinkType::EmailChange)),
        EmailAction::Reauthentication => (TokenType::Reauthentication, None),
    }
}

/// The mailer, or the refusal when this server cannot send mail.
pub fn mailer(state: &AppState) -> AuthResult<&SharedMailer> {
    state.mailer.as_ref().ok_or_else(|| {
        MailError::Misconfigured(
            "no mailer is configured: set [smtp] host (SAOMA_SMTP_HOST / GOTRUE_SMTP_HOST) or the Send Email hook".into(),
        )
        .into()
    })
}

/// Sends `out`'s mail to the user's address and records when (`confirmation_sent_at`,
/// `recovery_sent_at`...); the user as changed. Refused inside `smtp.max_frequency` of the
/// last mail of the same kind, or past the deployment's hourly budget.
pub async fn send(state: &AppState, out: Outgoing<'_>) -> AuthResult<User> {
    let address = out
        .user
        .email
        .clone()
        .ok_or_else(|| AuthError::validation("An email address is required"))?;
    // Invitations are an admin's to repeat at will, as in GoTrue.
    let limited = out.action != EmailAction::Invite;
    let prepared = prepare(state, &out, &address, limited).await?;
    if let Err(err) = deliver(state, &out, &address, &prepared, None).await {
        withdraw(state, &prepared).await;
        return Err(err);
    }
    let now = prepared.token.created_at;
    let mut changes = sent_at_changes(out.action, now);
    changes.audit = out.audit.cloned();
    state
        .store
        .change_user(out.user.id, &changes, now)
        .await?
        .ok_or(AuthError::UserNotFound)
}

/// A code issued and stored, not yet mailed.
pub struct Prepared {
    pub otp: String,
    pub token: OneTimeToken,
    pub flow: Option<FlowState>,
}

/// Checks the limits, then issues the code for `out` addressed to `address` (and its PKCE
/// flow). With `limited`, another code of the kind inside `smtp.max_frequency` is refused.
pub async fn prepare(
    state: &AppState,
    out: &Outgoing<'_>,
    address: &str,
    limited: bool,
) -> AuthResult<Prepared> {
    mailer(state)?;
    let (token_type, link) = shape(out.action);
    let now = state.clock.now();
    let interval = Duration::seconds(state.config.smtp.max_frequency.max(0));
    if limited {
        let wait =
            one_time_codes::seconds_until_next(state, out.user.id, token_type, interval, now)
                .await?;
        if let Some(wait) = wait {
            return Err(too_soon(wait));
        }
    }
    take_email_budget(state).await?;
    let otp = one_time_token::generate(state.config.mailer.otp_length.clamp(6, 10));
    let mut token =
        OneTimeToken::new_keyed(out.user.id, token_type, address, &otp, now, &state.link_key);
    let flow = match (out.challenge, link) {
        (Some(challenge), Some(link)) if link != LinkType::Invite => {
            token = token.for_pkce();
            let mut flow = FlowState::new(
                "email",
                out.redirect_to.to_owned(),
                Some(challenge.clone()),
                now,
            );
            flow.authentication_method = link.flow_method().to_owned();
            flow.user_id = Some(out.user.id);
            Some(flow)
        }
        _ => None,
    };
    // The check above answers with the time left; this one is the lock that holds when
    // several requests for one user arrive at once: exactly one issues (and mails).
    let not_before = if limited { now - interval } else { now };
    if !state
        .store
        .issue_one_time_token_unless_sent_after(&token, not_before)
        .await?
    {
        return Err(too_soon(interval.num_seconds().max(1)));
    }
    if let Some(flow) = &flow {
        state.store.create_flow(flow).await?;
    }
    Ok(Prepared { otp, token, flow })
}

/// Mails a prepared code.
pub async fn deliver(
    state: &AppState,
    out: &Outgoing<'_>,
    address: &str,
    prepared: &Prepared,
    new_email: Option<&str>,
) -> AuthResult<()> {
    let (_, link) = shape(out.action);
    let confirmation_url = link
        .map(|link| link_url(state, &prepared.token.token_hash, link, out.redirect_to))
        .unwrap_or_default();
    let mail = AuthMail {
        action: out.action,
        to: address,
        user: out.user,
        otp: &prepared.otp,
        token_hash: &prepared.token.token_hash,
        confirmation_url: &confirmation_url,
        redirect_to: out.redirect_to,
        site_url: &state.config.site_url,
        new_email,
    };
    let sent = mailer(state)?.send(&mail).await;
    if let Err(err) = &sent {
        tracing::warn!(action = out.action.as_str(), error = %err, "mail not sent");
    }
    Ok(sent?)
}

/// Undoes [`prepare`] after the mail did not leave: asking again is then not refused, and no
/// flow waits for a link nobody received.
pub async fn withdraw(state: &AppState, prepared: &Prepared) {
    let token = &prepared.token;
    if let Err(err) = state
        .store
        .consume_one_time_token(token.id, &token.token_hash)
        .await
    {
        tracing::warn!(error = %err, "could not withdraw an unsent code");
    }
    if let Some(flow) = &prepared.flow {
        let _ = state.store.delete_flow(flow.id).await;
    }
}

/// GoTrue's link: `/verify` with the stored hash, the type and where to land.
pub fn link_url(state: &AppState, token_hash: &str, link: LinkType, redirect_to: &str) -> String {
    format!(
        "{}/verify?token={}&type={}&redirect_to={}",
        state.config.external_url.trim_end_matches('/'),
        urlencode(token_hash),
        link.as_str(),
        urlencode(redirect_to)
    )
}

/// The `*_sent_at` column GoTrue sets for each mail.
pub fn sent_at_changes(action: EmailAction, now: DateTime<Utc>) -> UserChanges {
    let mut changes = UserChanges::default();
    match action {
        EmailAction::Signup => changes.confirmation_sent_at = Some(Some(now)),
        EmailAction::Invite => {
            changes.confirmation_sent_at = Some(Some(now));
            changes.invited_at = Some(Some(now));
        }
        EmailAction::MagicLink | EmailAction::Recovery => {
            changes.recovery_sent_at = Some(Some(now))
        }
        EmailAction::EmailChangeCurrent | EmailAction::EmailChangeNew => {
            changes.email_change_sent_at = Some(Some(now))
        }
        EmailAction::Reauthentication => changes.reauthentication_sent_at = Some(Some(now)),
    }
    changes
}

/// GoTrue's refusal of another mail inside the resend interval.
fn too_soon(wait_seconds: i64) -> AuthError {
    AuthError::OverEmailSendRateLimit(one_time_codes::too_soon_message(wait_seconds))
}

/// Takes one mail from the deployment's hourly budget (`rate_limit.email_sent`).
async fn take_email_budget(state: &AppState) -> AuthResult<()> {
    if rate_limit::take_hourly(state, "email_sent", state.config.rate_limit.email_sent).await? {
        Ok(())
    } else {
        Err(AuthError::OverEmailSendRateLimit(
            "Email rate limit exceeded".into(),
        ))
    }
}
