//! The flows that mail a link and code: sign-up confirmation, `signInWithOtp({email})` and
//! `/magiclink`, `/recover`, `/resend`, `/invite` and `/reauthenticate`.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    auth::{
        accounts, audit,
        email::{
            self, change,
            send::{self, Outgoing},
        },
        rate_limit::{self, Bucket},
        user, AuthError, AuthResult, Client,
    },
    domain::{audit::Action, flow::Challenge, Identity, User, UserChanges},
    mail::EmailAction,
    state::AppState,
};

/// Where a requested link lands and the PKCE challenge it belongs to.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// The request's `redirect_to` (query), checked against the allow list when used.
    pub redirect_to: Option<String>,
    pub challenge: Option<Challenge>,
}

/// Mails `action` to `user` with the options' redirect and challenge, recording the request
/// in the audit log as GoTrue names it.
pub async fn mail(
    state: &AppState,
    client: &Client,
    user: &User,
    action: EmailAction,
    options: &LinkOptions,
) -> AuthResult<User> {
    let redirect_to = email::redirect_target(state, options.redirect_to.as_deref());
    let audit =
        audit_action(action).map(|action| audit::entry(state, action, user, json!({}), client));
    let out = Outgoing {
        action,
        user,
        redirect_to: &redirect_to,
        challenge: options.challenge.as_ref(),
        audit: audit.as_ref(),
    };
    send::send(state, out).await
}

/// GoTrue's audit action for a mail asked for.
fn audit_action(action: EmailAction) -> Option<Action> {
    match action {
        EmailAction::Signup => Some(Action::UserConfirmationRequested),
        EmailAction::MagicLink | EmailAction::Recovery => Some(Action::UserRecoveryRequested),
        EmailAction::Invite => Some(Action::UserInvited),
        EmailAction::Reauthentication => Some(Action::UserReauthenticateRequested),
        // PUT /user records the change itself (`user_modified`).
        EmailAction::EmailChangeCurrent | EmailAction::EmailChangeNew => None,
    }
}

/// A new unconfirmed email user (with its `email` identity), about to be mailed a link;
/// `Err(existing)` when another request created the address's account first.
pub async fn create_unconfirmed(
    state: &AppState,
    address: &str,
    password_hash: Option<String>,
    metadata: Value,
    client: &Client,
) -> AuthResult<Result<User, User>> {
    let now = state.clock.now();
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, "email", now);
    user.email = Some(address.to_owned());
    user.encrypted_password = password_hash;
    user.user_metadata = metadata;
    let identities = [Identity::email(user.id, address, now)];
    accounts::create_unless_taken(state, user, &identities, "email", client, || {
        state.store.user_by_email(address)
    })
    .await
}

/// Mails a new account its first link; when it cannot leave, the account goes too (nobody
/// could ever confirm it), as GoTrue's transaction rolls the sign-up back.
pub async fn mail_new_account(
    state: &AppState,
    client: &Client,
    user: &User,
    action: EmailAction,
    options: &LinkOptions,
) -> AuthResult<User> {
    match mail(state, client, user, action, options).await {
        Ok(user) => Ok(user),
        Err(err) => {
            state.store.delete_user(user.id).await?;
            Err(err)
        }
    }
}

/// `POST /otp {email}` and `POST /magiclink`: a confirmed user gets a magic link, anyone else a
/// sign-up confirmation (their account made first when `create_user` allows). Known and
/// unknown addresses get the same answer.
pub async fn magic_link(
    state: &AppState,
    client: &Client,
    raw_email: &str,
    create_user: bool,
    data: Map<String, Value>,
    options: &LinkOptions,
) -> AuthResult<Value> {
    email::require_enabled(state, "Email logins are disabled")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    let address = email::normalize(raw_email)?;
    let user = match state.store.user_by_email(&address).await? {
        Some(user) => user,
        None if !create_user => return Err(AuthError::OtpSignupsDisabled),
        None => {
            if state.config.disable_signup {
                return Err(AuthError::SignupDisabled);
            }
            match create_unconfirmed(state, &address, None, Value::Object(data), client).await? {
                Ok(user) => {
                    mail_new_account(state, client, &user, first_link(state), options).await?;
                    return Ok(json!({}));
                }
                // Lost a race with a concurrent sign-up for the address: that account it is.
                Err(existing) => existing,
            }
        }
    };
    if user.email_confirmed_at.is_some() {
        mail(state, client, &user, EmailAction::MagicLink, options).await?;
        return Ok(json!({}));
    }
    let user = drop_squatted_password(state, user).await?;
    mail(state, client, &user, first_link(state), options).await?;
    Ok(json!({}))
}

/// The link an unconfirmed address gets: a sign-up confirmation, or, where sign-ups are
/// confirmed at once, a magic link (following either confirms the address), as in GoTrue.
fn first_link(state: &AppState) -> EmailAction {
    if state.config.mailer.autoconfirm {
        EmailAction::MagicLink
    } else {
        EmailAction::Signup
    }
}

/// An unconfirmed account's password was set by someone who never proved they hold the
/// address (anyone may sign an address up): once the address's holder follows a link it must
/// not open their account, so a sign-in by link takes the password away before anything is
/// mailed. The holder can set a password of their own afterwards.
pub async fn drop_squatted_password(state: &AppState, user: User) -> AuthResult<User> {
    if user.email_confirmed_at.is_some() || user.encrypted_password.is_none() {
        return Ok(user);
    }
    let changes = UserChanges {
        encrypted_password: Some(None),
        ..Default::default()
    };
    state
        .store
        .change_user(user.id, &changes, state.clock.now())
        .await?
        .ok_or(AuthError::UserNotFound)
}

/// `POST /recover`: a recovery link for the address's account. Unknown addresses get the same
/// empty answer, so that nobody learns who has an account.
pub async fn recover(
    state: &AppState,
    client: &Client,
    raw_email: &str,
    options: &LinkOptions,
) -> AuthResult<Value> {
    email::require_enabled(state, "Email logins are disabled")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    if raw_email.trim().is_empty() {
        return Err(AuthError::validation("Password recovery requires an email"));
    }
    let address = email::normalize(raw_email)?;
    if let Some(user) = state.store.user_by_email(&address).await? {
        mail(state, client, &user, EmailAction::Recovery, options).await?;
    }
    Ok(json!({}))
}

/// What `/resend` sends again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    Signup,
    EmailChange,
}

/// `POST /resend {type: signup | email_change, email}`: the confirmation of a sign-up not yet
/// confirmed, or both mails of a pending address change. Addresses with nothing to resend get
/// the same empty answer.
pub async fn resend(
    state: &AppState,
    client: &Client,
    kind: Resend,
    raw_email: &str,
    options: &LinkOptions,
) -> AuthResult<Value> {
    email::require_enabled(state, "Email logins are disabled")?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    let address = email::normalize(raw_email)?;
    let Some(user) = state.store.user_by_email(&address).await? else {
        return Ok(json!({}));
    };
    match kind {
        Resend::Signup if user.email_confirmed_at.is_none() => {
            mail(state, client, &user, EmailAction::Signup, options).await?;
        }
        Resend::EmailChange => {
            if let Some(new_email) = user.email_change.clone() {
                change::send(state, &user, &new_email, options).await?;
            }
        }
        Resend::Signup => {}
    }
    Ok(json!({}))
}

/// `POST /invite` and `inviteUserByEmail`: an account for `raw_email`, mailed an invitation
/// whose link confirms it and signs the person in. A confirmed address is refused; a pending
/// invitation is sent again.
pub async fn invite(
    state: &AppState,
    client: &Client,
    raw_email: &str,
    data: Map<String, Value>,
    options: &LinkOptions,
) -> AuthResult<Value> {
    let address = email::normalize(raw_email)?;
    // Invitations carry no PKCE flow: the person who opens it did not start anything.
    let options = LinkOptions {
        challenge: None,
        ..options.clone()
    };
    let user = match state.store.user_by_email(&address).await? {
        Some(existing) if existing.email_confirmed_at.is_some() => {
            return Err(AuthError::EmailExists)
        }
        Some(existing) => {
            let existing = drop_squatted_password(state, existing).await?;
            mail(state, client, &existing, EmailAction::Invite, &options).await?
        }
        None => {
            match create_unconfirmed(state, &address, None, Value::Object(data), client).await? {
                Ok(user) => {
                    mail_new_account(state, client, &user, EmailAction::Invite, &options).await?
                }
                Err(_) => return Err(AuthError::EmailExists),
            }
        }
    };
    user::user_json(state, &user).await
}

/// `GET /reauthenticate`: a code to the signed-in user's address, which `PUT /user` takes as
/// `nonce` for a password change on an old session.
pub async fn reauthenticate(state: &AppState, client: &Client, user: &User) -> AuthResult<Value> {
    if user.email.is_none() {
        return Err(AuthError::validation(
            "Reauthentication requires the user to have an email or a phone number",
        ));
    }
    if user.email_confirmed_at.is_none() {
        return Err(AuthError::EmailNotConfirmed);
    }
    mail(
        state,
        client,
        user,
        EmailAction::Reauthentication,
        &LinkOptions::default(),
    )
    .await?;
    Ok(json!({}))
}
