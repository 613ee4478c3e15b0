//! The admin API's user management (`supabase.auth.admin`): create, update, delete.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    auth::{audit, phone, present, user, AuthError, AuthResult, Client},
    domain::{
        audit::{Action, AuditEntry},
        duration::parse_ban,
        email, password, Identity, User, UserChanges,
    },
    state::AppState,
    store::{NewAccount, StoreError},
};

/// The attributes an admin sets on create and update (auth-js's `AdminUserAttributes`).
#[derive(Debug, Default, Deserialize)]
pub struct UserAttributes {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub email_confirm: Option<bool>,
    #[serde(default)]
    pub phone_confirm: Option<bool>,
    #[serde(default)]
    pub user_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub app_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub ban_duration: Option<String>,
}

pub async fn create_user(
    state: &AppState,
    client: &Client,
    attributes: UserAttributes,
) -> AuthResult<Value> {
    let now = state.clock.now();
    let address = present(&attributes.email).map(str::to_owned);
    let phone = match present(&attributes.phone) {
        Some(raw) => Some(phone::normalize(state, raw)?),
        None => None,
    };
    if address.is_none() && phone.is_none() {
        return Err(AuthError::validation(
            "Unable to create user: an email or a phone number is required",
        ));
    }
    let provider = if address.is_some() { "email" } else { "phone" };
    let mut user = User::new(
        attributes.id.unwrap_or_else(Uuid::new_v4),
        &state.config.jwt.aud,
        provider,
        now,
    );
    let mut identities = Vec::new();
    if let Some(address) = address {
        let address = email::normalize(&address).map_err(AuthError::validation)?;
        if state.store.user_by_email(&address).await?.is_some() {
            return Err(AuthError::EmailExists);
        }
        identities.push(Identity::email(user.id, &address, now));
        user.email = Some(address);
    }
    if let Some(number) = phone {
        if state.store.user_by_phone(&number).await?.is_some() {
            return Err(AuthError::PhoneExists);
        }
        identities.push(Identity::phone(user.id, &number, now));
        user.phone = Some(number);
    }
    changes(state, &user, attributes, now)
        .await?
        .apply(&mut user, now);
    let audit = [AuditEntry::new(
        Action::UserSignedUp,
        &user,
        json!({ "via": "admin" }),
        &client.ip,
        now,
    )];
    let account = NewAccount {
        user: &user,
        identities: &identities,
        session: None,
        audit: &audit,
    };
    match state.store.create_account(&account).await {
        Err(StoreError::Conflict(_)) => return Err(AuthError::EmailExists),
        other => other?,
    }
    user::user_json(state, &user).await
}

/// Applies the named attributes to the user `id` under its row lock: a ban set here holds
/// against concurrent updates by the user, and ends the user's sessions at once.
pub async fn update_user(
    state: &AppState,
    client: &Client,
    id: &str,
    attributes: UserAttributes,
) -> AuthResult<Value> {
    let current = find(state, id).await?;
    let now = state.clock.now();
    let mut email = None;
    if let Some(address) = present(&attributes.email) {
        let address = email::normalize(address).map_err(AuthError::validation)?;
        if current.email.as_deref() != Some(address.as_str()) {
            if state.store.user_by_email(&address).await?.is_some() {
                return Err(AuthError::EmailExists);
            }
            email = Some(Some(address));
        }
    }
    let mut phone = None;
    if let Some(raw) = present(&attributes.phone) {
        let number = phone::normalize(state, raw)?;
        if current.phone.as_deref() != Some(number.as_str()) {
            if state.store.user_by_phone(&number).await?.is_some() {
                return Err(AuthError::PhoneExists);
            }
            phone = Some(Some(number));
        }
    }
    let new_phone = phone.clone().flatten();
    let traits = json!({ "via": "admin" });
    let changes = UserChanges {
        email,
        phone,
        audit: Some(audit::entry(
            state,
            Action::UserModified,
            &current,
            traits,
            client,
        )),
        ..changes(state, &current, attributes, now).await?
    };
    let user = match state.store.change_user(current.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(AuthError::EmailExists),
        other => other?.ok_or(AuthError::UserNotFound)?,
    };
    if let Some(number) = &new_phone {
        phone::set_phone_identity(state, &user, number).await?;
    }
    user::user_json(state, &user).await
}

pub async fn delete_user(
    state: &AppState,
    client: &Client,
    id: &str,
    soft: bool,
) -> AuthResult<()> {
    let user = find(state, id).await?;
    let traits = json!({ "soft": soft });
    audit::record(state, Action::UserDeleted, &user, traits, client).await?;
    if soft {
        state
            .store
            .soft_delete_user(user.id, state.clock.now())
            .await?;
    } else {
        state.store.delete_user(user.id).await?;
    }
    Ok(())
}

/// A page of users as GoTrue's user JSON, oldest first, and how many there are in all.
pub async fn list_users(
    state: &AppState,
    offset: i64,
    limit: i64,
) -> AuthResult<(Vec<Value>, i64)> {
    let (users, total) = state.store.list_users(offset, limit).await?;
    let mut views = Vec::with_capacity(users.len());
    for found in &users {
        views.push(user::user_json(state, found).await?);
    }
    Ok((views, total))
}

/// A page of the audit log, newest first, and its length.
pub async fn audit_log(
    state: &AppState,
    offset: i64,
    limit: i64,
) -> AuthResult<(Vec<AuditEntry>, i64)> {
    Ok(state.store.list_audit(offset, limit).await?)
}

/// The user `id` (as the path gives it); an id that is not a UUID names nobody.
pub async fn find(state: &AppState, id: &str) -> AuthResult<User> {
    let id = Uuid::parse_str(id).map_err(|_| AuthError::UserNotFound)?;
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or(AuthError::UserNotFound)
}

/// The attributes as changes to `current` (the user as read, or the new one): only what the
/// request names is written.
async fn changes(
    state: &AppState,
    current: &User,
    attributes: UserAttributes,
    now: DateTime<Utc>,
) -> AuthResult<UserChanges> {
    let mut changes = UserChanges::default();
    match (attributes.password, attributes.password_hash) {
        (Some(_), Some(_)) => {
            return Err(AuthError::validation(
                "Only a password or a password hash should be provided",
            ))
        }
        (Some(password), None) => {
            user::check_password_strength(&state.config, &password)?;
            changes.encrypted_password = Some(Some(
                password::hash(password, state.config.password.bcrypt_cost)
                    .await
                    .map_err(AuthError::internal)?,
            ));
        }
        (None, Some(hash)) => {
            // Imported users keep their bcrypt hash (GoTrue's and most others').
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(AuthError::validation(
                    "Invalid password hash: only bcrypt hashes are supported",
                ));
            }
            changes.encrypted_password = Some(Some(hash));
        }
        (None, None) => {}
    }
    changes.email_confirmed_at = match attributes.email_confirm {
        Some(true) if current.email_confirmed_at.is_none() => Some(Some(now)),
        Some(false) => Some(None),
        _ => None,
    };
    changes.phone_confirmed_at = match attributes.phone_confirm {
        Some(true) if current.phone_confirmed_at.is_none() => Some(Some(now)),
        Some(false) => Some(None),
        _ => None,
    };
    changes.user_metadata = attributes.user_metadata;
    changes.app_metadata = attributes.app_metadata;
    changes.role = attributes.role.filter(|r| !r.is_empty());
    if let Some(ban) = attributes.ban_duration {
        changes.banned_until = Some(match parse_ban(&ban).map_err(AuthError::validation)? {
            Some(duration) => Some(now.checked_add_signed(duration).ok_or_else(|| {
                AuthError::validation(format!("ban duration out of range: {ban:?}"))
            })?),
            None => None,
        });
    }
    Ok(changes)
}
