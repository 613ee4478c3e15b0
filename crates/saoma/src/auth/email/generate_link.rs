//! `POST /admin/generate_link` (`auth.admin.generateLink`): the link and code a mail would
//! carry, made for an admin to deliver by other means. Nothing is mailed, and no resend
//! interval applies, as in GoTrue.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{
    auth::{
        email::{self, flows, send, LinkType},
        present, user, AuthError, AuthResult, Client,
    },
    domain::{
        one_time_token::{self, OneTimeToken},
        password, User, UserChanges,
    },
    mail::EmailAction,
    state::AppState,
    store::StoreError,
};

#[derive(Debug, Default, Deserialize)]
pub struct GenerateLinkRequest {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub new_email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    #[serde(default)]
    pub redirect_to: Option<String>,
}

pub async fn generate(
    state: &AppState,
    client: &Client,
    req: GenerateLinkRequest,
    query_redirect: Option<&str>,
) -> AuthResult<Value> {
    let kind = present(&req.kind).unwrap_or_default().to_owned();
    let address = email::normalize(present(&req.email).unwrap_or_default())?;
    let redirect_to = email::redirect_target(state, present(&req.redirect_to).or(query_redirect));
    let data = req.data.clone().unwrap_or_default();
    let existing = state.store.user_by_email(&address).await?;
    let now = state.clock.now();
    let (user, action, relates_to, verification_type) = match (kind.as_str(), existing) {
        ("signup", Some(user)) if user.email_confirmed_at.is_some() => {
            return Err(AuthError::EmailExists)
        }
        ("signup", Some(user)) => (user, EmailAction::Signup, address.clone(), kind.clone()),
        ("signup", None) => {
            let password = present(&req.password)
                .ok_or_else(|| AuthError::validation("Signup requires a valid password"))?;
            user::check_password_strength(&state.config, password)?;
            let hash = password::hash(password.to_owned(), state.config.password.bcrypt_cost)
                .await
                .map_err(AuthError::internal)?;
            let user = new_account(state, client, &address, Some(hash), data).await?;
            (user, EmailAction::Signup, address.clone(), kind.clone())
        }
        ("invite", Some(user)) if user.email_confirmed_at.is_some() => {
            return Err(AuthError::EmailExists)
        }
        ("invite", found) => {
            let user = match found {
                Some(user) => user,
                None => new_account(state, client, &address, None, data).await?,
            };
            (user, EmailAction::Invite, address.clone(), kind.clone())
        }
        // A magic link for an address without an account signs it up, as in GoTrue.
        ("magiclink", None) => {
            let user = new_account(state, client, &address, None, data).await?;
            (
                user,
                EmailAction::Signup,
                address.clone(),
                "signup".to_owned(),
            )
        }
        ("magiclink", Some(user)) => (user, EmailAction::MagicLink, address.clone(), kind.clone()),
        ("recovery", Some(user)) => (user, EmailAction::Recovery, address.clone(), kind.clone()),
        ("email_change_current" | "email_change_new", Some(user)) => {
            let current = kind == "email_change_current";
            if current && !state.config.mailer.secure_email_change_enabled {
                return Err(AuthError::validation(
                    "Enable secure email change to generate link for current email",
                ));
            }
            let new_email = email::normalize(present(&req.new_email).unwrap_or_default())?;
            if state.store.user_by_email(&new_email).await?.is_some() {
                return Err(AuthError::EmailExists);
            }
            let changes = UserChanges {
                email_change: Some(Some(new_email.clone())),
                email_change_sent_at: Some(Some(now)),
                email_change_confirm_status: Some(0),
                ..Default::default()
            };
            let user = state
                .store
                .change_user(user.id, &changes, now)
                .await?
                .ok_or(AuthError::UserNotFound)?;
            if current {
                (
                    user,
                    EmailAction::EmailChangeCurrent,
                    address.clone(),
                    kind.clone(),
                )
            } else {
                (user, EmailAction::EmailChangeNew, new_email, kind.clone())
            }
        }
        ("recovery" | "email_change_current" | "email_change_new", None) => {
            return Err(AuthError::UserNotFound)
        }
        _ => {
            return Err(AuthError::validation(format!(
                "Invalid email action link type requested: {kind}"
            )))
        }
    };

    let otp = one_time_token::generate(state.config.mailer.otp_length.clamp(6, 10));
    let (token_type, link) = send::shape(action);
    let token =
        OneTimeToken::new_keyed(user.id, token_type, &relates_to, &otp, now, &state.link_key);
    state.store.issue_one_time_token(&token).await?;
    let changes = send::sent_at_changes(action, now);
    let user = state
        .store
        .change_user(user.id, &changes, now)
        .await?
        .ok_or(AuthError::UserNotFound)?;
    let link = link.unwrap_or(LinkType::Signup);
    let action_link = send::link_url(state, &token.token_hash, link, &redirect_to);
    let mut answer = user::user_json(state, &user).await?;
    if let Value::Object(fields) = &mut answer {
        fields.insert("action_link".into(), json!(action_link));
        fields.insert("email_otp".into(), json!(otp));
        fields.insert("hashed_token".into(), json!(token.token_hash));
        fields.insert("verification_type".into(), json!(verification_type));
        fields.insert("redirect_to".into(), json!(redirect_to));
    }
    Ok(answer)
}

async fn new_account(
    state: &AppState,
    client: &Client,
    address: &str,
    password_hash: Option<String>,
    data: Map<String, Value>,
) -> AuthResult<User> {
    match flows::create_unconfirmed(state, address, password_hash, Value::Object(data), client)
        .await?
    {
        Ok(user) => Ok(user),
        Err(_) => Err(AuthError::Store(StoreError::Conflict("user"))),
    }
}
