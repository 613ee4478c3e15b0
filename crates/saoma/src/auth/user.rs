//! The signed-in user changing their own account (`PUT /user`), and GoTrue's user JSON.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    auth::{
        audit,
        email::{change, flows::LinkOptions},
        one_time_codes::{self, CodeRules},
        phone,
        rate_limit::{self, Bucket},
        AuthError, AuthResult, Client,
    },
    config::Config,
    domain::{
        audit::Action,
        email,
        one_time_token::TokenType,
        password,
        session::{LogoutScope, Session},
        user::UserView,
        User, UserChanges,
    },
    state::AppState,
    store::StoreError,
};

/// What `PUT /user` may ask for; blank text fields are `None`.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
    pub phone: Option<String>,
    pub data: Option<Map<String, Value>>,
    /// Refused: only admins change `app_metadata`.
    pub app_metadata: Option<Value>,
    /// The code from `GET /reauthenticate`, for a password change on an old session when
    /// `security.update_password_require_reauthentication` is on.
    pub nonce: Option<String>,
    /// Where an address change's links land, and their PKCE challenge.
    pub link: LinkOptions,
}

/// The user JSON GoTrue answers with, identities included.
pub async fn user_json(state: &AppState, user: &User) -> AuthResult<Value> {
    let identities = state.store.identities_of(user.id).await?;
    serde_json::to_value(UserView::new(user, &identities)).map_err(AuthError::internal)
}

/// Applies `update` to `user` (signed in with `session_id`), answering the user as written.
pub async fn update(
    state: &AppState,
    user: &User,
    session: Option<&Session>,
    client: &Client,
    update: UserUpdate,
) -> AuthResult<Value> {
    let session_id = session.map(|s| s.id);
    rate_limit::check(state, Bucket::Otp, client).await?;
    let config = &state.config;
    let now = state.clock.now();
    // What this request changes, and only that: the store applies it to the row as it is
    // now, so a concurrent ban or password change is never written back over.
    let mut changes = UserChanges::default();

    if update.app_metadata.is_some() {
        return Err(AuthError::NotAdmin(
            "Updating app_metadata requires admin privileges",
        ));
    }
    let new_phone = match update.phone.as_deref() {
        Some(raw) => {
            phone::require_enabled(state, "Phone logins are disabled")?;
            Some(phone::normalize(state, raw)?)
        }
        None => None,
    }
    .filter(|number| user.phone.as_deref() != Some(number.as_str()));
    if let Some(number) = &new_phone {
        if state.store.user_by_phone(number).await?.is_some() {
            return Err(AuthError::PhoneExists);
        }
    }
    let new_email = match update.email.as_deref() {
        Some(raw) => Some(email::normalize(raw).map_err(AuthError::validation)?),
        None => None,
    }
    .filter(|address| user.email.as_deref() != Some(address.as_str()));

    let mut email_change = None;
    let mut moved_identity = None;
    if let Some(address) = &new_email {
        if state.store.user_by_email(address).await?.is_some() {
            return Err(AuthError::EmailExists);
        }
    }
    if let Some(address) = new_email.as_ref().filter(|_| !config.mailer.autoconfirm) {
        // The address becomes the user's once its link comes back (both addresses' links
        // with secure change); until then it shows as `new_email`.
        email_change = Some(address.clone());
    } else if let Some(address) = &new_email {
        // Sign-ups are confirmed at once here: so is a new address, and the `email` identity
        // follows it as it does a confirmed link.
        changes.email = Some(Some(address.clone()));
        changes.email_confirmed_at = Some(Some(now));
        let (link, existing) = change::email_identity_for(state, user.id, address, now).await?;
        changes.identity = link;
        moved_identity = existing;
        if user.is_anonymous {
            // An anonymous user who adds an email becomes a permanent email user.
            changes.is_anonymous = Some(false);
            changes.app_metadata = json!({ "provider": "email", "providers": ["email"] })
                .as_object()
                .cloned();
        }
    }

    let password_changed = update.password.is_some();
    if let Some(new_password) = update.password {
        check_password_strength(config, &new_password)?;
        // Asked for before anything else; spent only once the change is otherwise allowed.
        let nonce = if needs_reauthentication(state, session) {
            let nonce = update
                .nonce
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or(AuthError::ReauthenticationNeeded)?;
            Some(nonce.to_owned())
        } else {
            None
        };
        if user.is_anonymous && user.email.is_none() && new_email.is_none() {
            return Err(AuthError::Unprocessable(
                "Updating password of an anonymous user without an email or phone is not allowed",
            ));
        }
        let same = password::verify(
            new_password.clone(),
            user.encrypted_password.clone(),
            config.password.bcrypt_cost,
        )
        .await
        .map_err(AuthError::internal)?;
        if same {
            return Err(AuthError::SamePassword);
        }
        if let Some(nonce) = nonce {
            spend_reauthentication_code(state, user, &nonce).await?;
            // As GoTrue: a proven presence voids every other code the user has.
            changes.clear_one_time_tokens = true;
        }
        changes.encrypted_password = Some(Some(
            password::hash(new_password, config.password.bcrypt_cost)
                .await
                .map_err(AuthError::internal)?,
        ));
        // A new password signs out every other device, as GoTrue does, in the same
        // transaction as the change.
        changes.end_sessions = Some(match session_id {
            Some(current) => (LogoutScope::Others, current),
            None => (LogoutScope::Global, Uuid::nil()),
        });
    }
    changes.user_metadata = update.data;
    let traits = json!({ "password_changed": password_changed });
    changes.audit = Some(audit::entry(
        state,
        Action::UserModified,
        user,
        traits,
        client,
    ));

    // A new number is the user's only once a code sent to it comes back (`/verify` with
    // `phone_change`), unless phone sign-ups are confirmed at once anyway.
    let mut phone_now = None;
    if let Some(number) = new_phone {
        if config.sms.autoconfirm {
            changes.phone = Some(Some(number.clone()));
            changes.phone_confirmed_at = Some(Some(now));
            phone_now = Some(number);
        } else {
            phone::send_code(state, user, &number, TokenType::PhoneChange).await?;
            // Shown as `new_phone` until the code comes back, as GoTrue shows it.
            changes.phone_change = Some(Some(number));
            changes.phone_change_sent_at = Some(Some(now));
        }
    }

    if let Some(address) = &email_change {
        change::send(state, user, address, &update.link).await?;
    }
    let user = match state.store.change_user(user.id, &changes, now).await {
        Err(StoreError::Conflict(_)) if new_email.is_none() && phone_now.is_some() => {
            return Err(AuthError::PhoneExists)
        }
        Err(StoreError::Conflict(_)) => return Err(AuthError::EmailExists),
        other => other?.ok_or(AuthError::TokenUserGone)?,
    };
    if let (Some(identity), Some(address)) = (moved_identity, &user.email) {
        change::move_email_identity(state, identity, address, now).await?;
    }
    if let Some(number) = &phone_now {
        phone::set_phone_identity(state, &user, number).await?;
    }
    user_json(state, &user).await
}

/// Consumes the user's code from `GET /reauthenticate` that `nonce` is.
async fn spend_reauthentication_code(state: &AppState, user: &User, nonce: &str) -> AuthResult<()> {
    let address = user
        .email
        .as_deref()
        .ok_or(AuthError::ReauthenticationNotValid)?;
    let types = [TokenType::Reauthentication];
    let rules = CodeRules::email(state);
    let token = one_time_codes::consume_matching(state, address, &types, nonce, rules)
        .await
        .map_err(|_| AuthError::ReauthenticationNotValid)?;
    if token.user_id != user.id {
        return Err(AuthError::ReauthenticationNotValid);
    }
    Ok(())
}

/// GoTrue asks for a fresh code before a password change when the setting is on and the
/// session is over a day old (or there is none).
fn needs_reauthentication(state: &AppState, session: Option<&Session>) -> bool {
    state
        .config
        .security
        .update_password_require_reauthentication
        && session.is_none_or(|s| state.clock.now() > s.created_at + chrono::Duration::hours(24))
}

/// Refuses a password that fails the configured rules, with GoTrue's reasons.
pub fn check_password_strength(config: &Config, password: &str) -> AuthResult<()> {
    match password::weakness(password, config.password.min_length) {
        Some(weak) => Err(AuthError::WeakPassword {
            message: weak.message,
            reasons: weak.reasons,
        }),
        None => Ok(()),
    }
}

/// Ends the sessions `scope` names, relative to the caller's `session_id`.
pub async fn sign_out(
    state: &AppState,
    user: &User,
    session_id: Option<Uuid>,
    scope: LogoutScope,
    client: &Client,
) -> AuthResult<()> {
    // A token without a session (e.g. from the admin API) can only mean "everywhere".
    let (scope, current) = match session_id {
        Some(id) => (scope, id),
        None => (LogoutScope::Global, Uuid::nil()),
    };
    state.store.end_sessions(user.id, current, scope).await?;
    let traits = json!({ "scope": format!("{scope:?}").to_lowercase() });
    audit::record(state, Action::Logout, user, traits, client).await
}
