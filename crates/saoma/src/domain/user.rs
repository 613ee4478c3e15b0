use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::Identity;

/// Keys of `user_metadata` that say who the person is at a provider. A provider's profile is
/// copied into `user_metadata` at sign-in (as GoTrue does), but the user can write
/// `user_metadata` too (`PUT /user`, sign-up data), so whatever is stored under these keys,
/// what saoma shows for them (user JSON, access-token claims) comes from the identities.
pub const IDENTITY_KEYS: &[&str] = &["sub", "provider_id", "openid", "unionid"];

/// A user row. `encrypted_password` never leaves the server: [`UserView`] is what is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub aud: String,
    pub role: String,
    pub email: Option<String>,
    pub encrypted_password: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    pub phone: Option<String>,
    pub phone_confirmed_at: Option<DateTime<Utc>>,
    /// A new number waiting for its `phone_change` code (GoTrue's `phone_change`, stored as
    /// `''` when none).
    pub phone_change: Option<String>,
    /// When the last `phone_change` code was sent; GoTrue keeps it after the change.
    pub phone_change_sent_at: Option<DateTime<Utc>>,
    /// When an admin invited the user (GoTrue's `invited_at`).
    pub invited_at: Option<DateTime<Utc>>,
    /// When the last recovery or magic link was sent.
    pub recovery_sent_at: Option<DateTime<Utc>>,
    /// A new address waiting for its confirmation (GoTrue's `email_change`, `''` when none).
    pub email_change: Option<String>,
    pub email_change_sent_at: Option<DateTime<Utc>>,
    /// How many of a secure address change's two links were followed (0 or 1; GoTrue's
    /// `email_change_confirm_status`).
    pub email_change_confirm_status: i16,
    /// When the last reauthentication code was sent.
    pub reauthentication_sent_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub app_metadata: Value,
    pub user_metadata: Value,
    pub banned_until: Option<DateTime<Utc>>,
    pub is_anonymous: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A fresh user with GoTrue's defaults; `provider` seeds `app_metadata`.
    pub fn new(id: Uuid, aud: &str, provider: &str, now: DateTime<Utc>) -> Self {
        Self {
            id,
            aud: aud.to_owned(),
            role: "authenticated".to_owned(),
            email: None,
            encrypted_password: None,
            email_confirmed_at: None,
            confirmation_sent_at: None,
            phone: None,
            phone_confirmed_at: None,
            phone_change: None,
            phone_change_sent_at: None,
            invited_at: None,
            recovery_sent_at: None,
            email_change: None,
            email_change_sent_at: None,
            email_change_confirm_status: 0,
            reauthentication_sent_at: None,
            last_sign_in_at: None,
            app_metadata: json!({ "provider": provider, "providers": [provider] }),
            user_metadata: json!({}),
            banned_until: None,
            is_anonymous: false,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_banned(&self, now: DateTime<Utc>) -> bool {
        banned_at(self.banned_until, now)
    }

    /// GoTrue's `confirmed_at`: the earlier of the email and phone confirmations.
    pub fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        match (self.email_confirmed_at, self.phone_confirmed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The user JSON that GoTrue returns and clients read.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    pub id: Uuid,
    pub aud: &'a str,
    pub role: &'a str,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_confirmed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_at: Option<DateTime<Utc>>,
    pub phone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_confirmed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_sent_at: Option<DateTime<Utc>>,
    /// GoTrue's `new_email`: the address a change waits to be confirmed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_change_sent_at: Option<DateTime<Utc>>,
    /// GoTrue's `new_phone`: the number a `phone_change` code was sent to, until it is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_change_sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reauthentication_sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub app_metadata: &'a Value,
    pub user_metadata: Cow<'a, Value>,
    pub identities: Vec<IdentityView<'a>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<DateTime<Utc>>,
    pub is_anonymous: bool,
    /// MemFire's SDK reads the WeChat openid and unionid at the top level: those of the WeChat
    /// app the user signed in with most recently.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_unionid: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct IdentityView<'a> {
    pub identity_id: Uuid,
    /// The provider's subject (GoTrue calls it `id` on the wire).
    pub id: &'a str,
    pub user_id: Uuid,
    pub identity_data: &'a Value,
    pub provider: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

impl<'a> UserView<'a> {
    pub fn new(user: &'a User, identities: &'a [Identity]) -> Self {
        let wechat = identities
            .iter()
            .filter(|i| i.provider.starts_with("wechat_"))
            .max_by_key(|i| i.last_sign_in_at.unwrap_or(i.created_at));
        let wechat_field = |key: &str| {
            wechat
                .and_then(|i| i.identity_data.get(key))
                .and_then(Value::as_str)
        };
        Self {
            wechat_id: wechat_field("openid"),
            wechat_unionid: wechat_field("unionid"),
            id: user.id,
            aud: &user.aud,
            role: &user.role,
            email: user.email.as_deref().unwrap_or(""),
            email_confirmed_at: user.email_confirmed_at,
            invited_at: user.invited_at,
            phone: user.phone.as_deref().unwrap_or(""),
            phone_confirmed_at: user.phone_confirmed_at,
            confirmation_sent_at: user.confirmation_sent_at,
            confirmed_at: user.confirmed_at(),
            recovery_sent_at: user.recovery_sent_at,
            new_email: user.email_change.as_deref().filter(|a| !a.is_empty()),
            email_change_sent_at: user.email_change_sent_at,
            reauthentication_sent_at: user.reauthentication_sent_at,
            new_phone: user.phone_change.as_deref().filter(|n| !n.is_empty()),
            phone_change_sent_at: user.phone_change_sent_at,
            last_sign_in_at: user.last_sign_in_at,
            app_metadata: &user.app_metadata,
            user_metadata: presented_user_metadata(&user.user_metadata, identities),
            identities: identities.iter().map(IdentityView::new).collect(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            banned_until: user.banned_until,
            is_anonymous: user.is_anonymous,
        }
    }
}

/// `user_metadata` as saoma presents it: the user's own keys, and [`IDENTITY_KEYS`] as the
/// identity of the external provider the user signed in with last has them. A key that
/// identity lacks keeps its stored value only if another of the user's identities vouches for
/// it (an email user's `sub`, as GoTrue stores it); otherwise it is left out. Borrowed when
/// nothing differs, the usual case, which keeps `GET /user` free of copies.
pub fn presented_user_metadata<'a>(stored: &'a Value, identities: &[Identity]) -> Cow<'a, Value> {
    let Some(stored_map) = stored.as_object() else {
        return Cow::Borrowed(stored);
    };
    // Email identities are not copied into user_metadata, so they never override it.
    let latest_external = identities
        .iter()
        .filter(|i| i.provider != "email")
        .max_by_key(|i| i.last_sign_in_at.unwrap_or(i.created_at));
    let shown = |key: &str| -> Option<&Value> {
        if let Some(value) = latest_external.and_then(|i| i.identity_data.get(key)) {
            return Some(value);
        }
        let stored = stored_map.get(key)?;
        identities
            .iter()
            .any(|i| i.identity_data.get(key) == Some(stored))
            .then_some(stored)
    };
    if IDENTITY_KEYS
        .iter()
        .all(|key| stored_map.get(*key) == shown(key))
    {
        return Cow::Borrowed(stored);
    }
    let mut presented = stored_map.clone();
    for key in IDENTITY_KEYS {
        match shown(key).cloned() {
            Some(value) => presented.insert((*key).to_owned(), value),
            None => presented.remove(*key),
        };
    }
    Cow::Owned(Value::Object(presented))
}

impl<'a> IdentityView<'a> {
    pub fn new(identity: &'a Identity) -> Self {
        Self {
            identity_id: identity.id,
            id: &identity.provider_id,
            user_id: identity.user_id,
            identity_data: &identity.identity_data,
            provider: &identity.provider,
            last_sign_in_at: identity.last_sign_in_at,
            created_at: identity.created_at,
            updated_at: identity.updated_at,
            email: identity.email.as_deref(),
        }
    }
}

/// Whether a ban lasting `until` is in force at `now` (for code that reads the column alone).
pub fn banned_at(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    until.is_some_and(|until| until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wechat_identity(user_id: Uuid, data: Value, signed_in: DateTime<Utc>) -> Identity {
        Identity {
            id: Uuid::new_v4(),
            provider_id: data["sub"].as_str().unwrap_or_default().to_owned(),
            provider: "wechat_qr".into(),
            user_id,
            identity_data: data,
            email: None,
            last_sign_in_at: Some(signed_in),
            created_at: signed_in,
            updated_at: signed_in,
        }
    }

    #[test]
    fn identity_keys_come_from_the_latest_external_identity() {
        let now = Utc::now();
        let stored =
            json!({"nickname": "mine", "unionid": "forged", "openid": "forged", "sub": "x"});
        let older = wechat_identity(
            Uuid::nil(),
            json!({"sub": "u-old", "provider_id": "u-old", "openid": "o-old", "unionid": "u-old"}),
            now - chrono::Duration::days(1),
        );
        let latest = wechat_identity(
            Uuid::nil(),
            json!({"sub": "o-new", "provider_id": "o-new", "openid": "o-new"}),
            now,
        );
        let email = Identity::email(
            Uuid::nil(),
            "a@example.com",
            now + chrono::Duration::days(1),
        );
        let shown = presented_user_metadata(&stored, &[older, latest, email]);
        assert_eq!(
            shown.as_ref(),
            &json!({"nickname": "mine", "openid": "o-new", "sub": "o-new", "provider_id": "o-new"})
        );
        let nobody = presented_user_metadata(&stored, &[]);
        assert_eq!(nobody.as_ref(), &json!({"nickname": "mine"}));
    }

    #[test]
    fn an_email_users_own_sub_is_kept() {
        let user_id = Uuid::new_v4();
        let email = Identity::email(user_id, "a@example.com", Utc::now());
        let stored = json!({"sub": user_id.to_string(), "email": "a@example.com"});
        assert!(matches!(
            presented_user_metadata(&stored, std::slice::from_ref(&email)),
            Cow::Borrowed(_)
        ));
        let forged = json!({"sub": "someone-else"});
        assert_eq!(
            presented_user_metadata(&forged, &[email]).as_ref(),
            &json!({})
        );
    }

    #[test]
    fn metadata_that_agrees_with_the_identities_is_not_copied() {
        let data = json!({"sub": "u1", "provider_id": "u1", "openid": "o1", "unionid": "u1"});
        let identity = wechat_identity(Uuid::nil(), data.clone(), Utc::now());
        let stored =
            json!({"sub": "u1", "provider_id": "u1", "openid": "o1", "unionid": "u1", "x": 1});
        assert!(matches!(
            presented_user_metadata(&stored, &[identity]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn view_uses_empty_strings_for_missing_contacts() {
        let user = User::new(Uuid::nil(), "authenticated", "anonymous", Utc::now());
        let view = serde_json::to_value(UserView::new(&user, &[])).expect("json");
        assert_eq!(view["email"], "");
        assert_eq!(view["phone"], "");
        assert!(view.get("email_confirmed_at").is_none());
    }
}
