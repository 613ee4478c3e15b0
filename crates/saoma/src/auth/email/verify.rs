//! `/verify` for the email types: a link's hash (`token_hash`, or `token` in a `GET` link) or
//! a code typed with its address; what each proves, and the sign-in that follows.

use serde_json::{json, Value};

use crate::{
    auth::{
        email::{self, change, LinkType, OTP},
        one_time_codes::{self, CodeRules},
        rate_limit::{self, Bucket},
        sign_in, AuthError, AuthResult, Client,
    },
    domain::{
        one_time_token::{OneTimeToken, TokenType},
        User, UserChanges,
    },
    state::AppState,
    store::StoreError,
};

/// GoTrue's answer to the first of a secure address change's two confirmations.
pub const PARTIAL_EMAIL_CHANGE: &str =
    "Confirmation link accepted. Please proceed to confirm link sent to the other email";

/// What a verified link or code did.
#[derive(Debug)]
pub enum Verified {
    /// The user, to be signed in. `pkce`: the link belongs to a PKCE flow (a `GET` then answers
    /// with an auth code for that flow instead of a session).
    SignIn {
        user: Box<User>,
        link: LinkType,
        pkce: bool,
    },
    /// One of a secure address change's two confirmations; the other is still awaited.
    PartialEmailChange,
}

fn token_types(link: LinkType) -> &'static [TokenType] {
    match link {
        LinkType::Signup | LinkType::Invite => &[TokenType::Confirmation],
        LinkType::MagicLink | LinkType::Recovery => &[TokenType::Recovery],
        LinkType::EmailChange => &[TokenType::EmailChangeCurrent, TokenType::EmailChangeNew],
        LinkType::Email => &[TokenType::Confirmation, TokenType::Recovery],
    }
}

/// A link's hash (`POST /verify {type, token_hash}` or the mailed `GET /verify` link).
pub async fn by_token_hash(
    state: &AppState,
    client: &Client,
    link: LinkType,
    token_hash: &str,
) -> AuthResult<Verified> {
    email::require_enabled(state, "Email logins are disabled")?;
    rate_limit::check(state, Bucket::Verify, client).await?;
    let rules = CodeRules::email(state);
    let token = one_time_codes::consume_link(state, token_hash, token_types(link), rules).await?;
    apply(state, link, token, AuthError::EmailLinkInvalid).await
}

/// A code typed with its address (`POST /verify {type, email, token}`).
pub async fn by_code(
    state: &AppState,
    client: &Client,
    link: LinkType,
    raw_email: &str,
    code: &str,
) -> AuthResult<Verified> {
    email::require_enabled(state, "Email logins are disabled")?;
    rate_limit::check(state, Bucket::Verify, client).await?;
    let address = email::normalize(raw_email)
        .map_err(|_| AuthError::Unprocessable("Invalid email format"))?;
    let rules = CodeRules::email(state);
    let token =
        one_time_codes::consume_matching(state, &address, token_types(link), code.trim(), rules)
            .await?;
    apply(state, link, token, AuthError::OtpExpired).await
}

/// What a consumed `token` proves about its user. `gone` is the answer when the user or the
/// address the token was sent to is no longer there.
async fn apply(
    state: &AppState,
    link: LinkType,
    token: OneTimeToken,
    gone: AuthError,
) -> AuthResult<Verified> {
    let Some(user) = state.store.user_by_id(token.user_id).await? else {
        return Err(gone);
    };
    let pkce = token.is_pkce();
    // The code's meaning for an `email` code: a sign-up's confirmation or a magic link.
    let link = match (link, token.token_type) {
        (LinkType::Email, TokenType::Confirmation) => LinkType::Signup,
        (LinkType::Email, _) => LinkType::MagicLink,
        (link, _) => link,
    };
    let user = match token.token_type {
        TokenType::EmailChangeCurrent | TokenType::EmailChangeNew => {
            return confirm_email_change(state, user, &token, gone, pkce).await;
        }
        _ => {
            if user.email.as_deref() != Some(token.relates_to.as_str()) {
                // The address changed since the mail went out.
                return Err(gone);
            }
            confirm_address(state, &user).await?
        }
    };
    Ok(Verified::SignIn {
        user: Box::new(user),
        link,
        pkce,
    })
}

/// Following any link proves the address: a sign-up or invitation completes, and every other
/// link the user was sent is void.
async fn confirm_address(state: &AppState, user: &User) -> AuthResult<User> {
    let now = state.clock.now();
    let mut changes = UserChanges {
        clear_one_time_tokens: true,
        ..Default::default()
    };
    let newly = user.email_confirmed_at.is_none();
    if newly {
        changes.email_confirmed_at = Some(Some(now));
        changes.user_metadata = json!({ "email_verified": true }).as_object().cloned();
    }
    let user = state
        .store
        .change_user(user.id, &changes, now)
        .await?
        .ok_or(AuthError::UserNotFound)?;
    if newly {
        mark_email_identity(state, &user).await?;
    }
    Ok(user)
}

/// A change's link from one of its two addresses. The change completes when no link of it is
/// left to follow: the other address's link was followed before, or was never needed. Decided
/// by what is left after this link was consumed, so of two links followed at once at least
/// one completes the change.
async fn confirm_email_change(
    state: &AppState,
    user: User,
    token: &OneTimeToken,
    gone: AuthError,
    pkce: bool,
) -> AuthResult<Verified> {
    let Some(new_email) = user.email_change.clone() else {
        return Err(gone);
    };
    let sent_to = match token.token_type {
        TokenType::EmailChangeNew => Some(new_email.as_str()),
        _ => user.email.as_deref(),
    };
    if sent_to != Some(token.relates_to.as_str()) {
        return Err(gone);
    }
    let other = match token.token_type {
        TokenType::EmailChangeNew => TokenType::EmailChangeCurrent,
        _ => TokenType::EmailChangeNew,
    };
    let now = state.clock.now();
    let awaited = change::needs_current(state, &user)
        && !state.config.mailer.autoconfirm
        && state
            .store
            .one_time_token_of(user.id, other)
            .await?
            .is_some();
    if awaited {
        let changes = UserChanges {
            email_change_confirm_status: Some(1),
            ..Default::default()
        };
        state.store.change_user(user.id, &changes, now).await?;
        return Ok(Verified::PartialEmailChange);
    }
    let mut changes = UserChanges {
        email: Some(Some(new_email.clone())),
        email_change: Some(None),
        email_change_confirm_status: Some(0),
        is_anonymous: Some(false),
        clear_one_time_tokens: true,
        ..Default::default()
    };
    if user.email_confirmed_at.is_none() {
        changes.email_confirmed_at = Some(Some(now));
    }
    let (link, email_identity) =
        change::email_identity_for(state, user.id, &new_email, now).await?;
    changes.identity = link;
    let user = match state.store.change_user(user.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(AuthError::EmailExists),
        other => other?.ok_or(AuthError::UserNotFound)?,
    };
    if let Some(identity) = email_identity {
        change::move_email_identity(state, identity, &new_email, now).await?;
    }
    Ok(Verified::SignIn {
        user: Box::new(user),
        link: LinkType::EmailChange,
        pkce,
    })
}

/// The user's `email` identity says the address is verified (GoTrue's `email_verified`).
async fn mark_email_identity(state: &AppState, user: &User) -> AuthResult<()> {
    let identities = state.store.identities_of(user.id).await?;
    let identity = identities.into_iter().find(|i| i.provider == "email");
    if let (Some(identity), Some(address)) = (identity, user.email.as_deref()) {
        change::move_email_identity(state, identity, address, state.clock.now()).await?;
    }
    Ok(())
}

/// `POST /verify`'s answer: a session, or GoTrue's note that the other address must confirm.
pub async fn answer(state: &AppState, client: &Client, verified: Verified) -> AuthResult<Value> {
    match verified {
        Verified::SignIn { user, .. } => sign_in::complete(state, &user, OTP, client).await,
        Verified::PartialEmailChange => Ok(json!({ "msg": PARTIAL_EMAIL_CHANGE, "code": "200" })),
    }
}

/// The mailed link (`GET /verify?token=&type=&redirect_to=`): where the browser goes next. A
/// PKCE link lands with `?code=` for the app to exchange; any other with the session in the
/// fragment; a refusal with GoTrue's `error`, `error_code` and `error_description` in the
/// fragment (and, for a PKCE link, the query, where a server-side app reads them).
pub async fn follow_link(
    state: &AppState,
    client: &Client,
    link: LinkType,
    token: &str,
    redirect_to: Option<&str>,
) -> String {
    use crate::auth::oauth_flow::{error_pairs, with_fragment, with_query};
    let target = email::redirect_target(state, redirect_to);
    let pkce = token.starts_with(crate::domain::one_time_token::PKCE_PREFIX);
    match follow(state, client, link, token, &target).await {
        Ok(location) => location,
        Err(err) => {
            let pairs = error_pairs(&err);
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let base = if pkce {
                with_query(&target, &pairs)
            } else {
                target.clone()
            };
            with_fragment(&base, &pairs)
        }
    }
}

async fn follow(
    state: &AppState,
    client: &Client,
    link: LinkType,
    token: &str,
    target: &str,
) -> AuthResult<String> {
    use crate::auth::oauth_flow::{session_location, with_fragment, with_query};
    match by_token_hash(state, client, link, token).await? {
        Verified::PartialEmailChange => {
            let pairs = [("message", PARTIAL_EMAIL_CHANGE)];
            Ok(with_fragment(target, &pairs))
        }
        Verified::SignIn {
            user,
            link,
            pkce: true,
        } => {
            sign_in::allowed(state, &user)?;
            let flow = state
                .store
                .pending_flow_of(user.id, link.flow_method())
                .await?
                .ok_or(AuthError::FlowStateNotFound)?;
            let now = state.clock.now();
            let completed = crate::domain::flow::FlowState {
                auth_code: Some(uuid::Uuid::new_v4().to_string()),
                auth_code_issued_at: Some(now),
                ..flow
            };
            if !state.store.complete_flow(&completed).await? {
                return Err(AuthError::FlowStateAlreadyUsed);
            }
            let code = completed.auth_code.unwrap_or_default();
            Ok(with_query(target, &[("code", &code)]))
        }
        Verified::SignIn { user, link, .. } => {
            let session = sign_in::complete(state, &user, OTP, client).await?;
            Ok(session_location(
                target,
                &session,
                &[("type", link.as_str().to_owned())],
            ))
        }
    }
}
