//! What one request changes on a user, and nothing else.
//!
//! Requests used to read a user, change a copy and write every column back: two requests at
//! once (an admin ban and the user's own `PUT /user`) each wrote their copy, and the later one
//! undid the other. A [`UserChanges`] names only the columns a request means to change; the
//! store applies it to the row as it is under the row's write lock, in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{audit::AuditEntry, session::LogoutScope, Identity, User};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChanges {
    pub email: Option<Option<String>>,
    pub email_confirmed_at: Option<Option<DateTime<Utc>>>,
    pub phone: Option<Option<String>>,
    pub phone_confirmed_at: Option<Option<DateTime<Utc>>>,
    /// The pending new number (`Some(None)` once it is the user's, or abandoned).
    pub phone_change: Option<Option<String>>,
    pub phone_change_sent_at: Option<Option<DateTime<Utc>>>,
    pub invited_at: Option<Option<DateTime<Utc>>>,
    pub confirmation_sent_at: Option<Option<DateTime<Utc>>>,
    pub recovery_sent_at: Option<Option<DateTime<Utc>>>,
    /// The pending new address (`Some(None)` once it is the user's, or abandoned).
    pub email_change: Option<Option<String>>,
    pub email_change_sent_at: Option<Option<DateTime<Utc>>>,
    pub email_change_confirm_status: Option<i16>,
    pub reauthentication_sent_at: Option<Option<DateTime<Utc>>>,
    /// `Some(None)` removes the password (sign-in by code only).
    pub encrypted_password: Option<Option<String>>,
    pub role: Option<String>,
    pub banned_until: Option<Option<DateTime<Utc>>>,
    pub is_anonymous: Option<bool>,
    /// Merged into `user_metadata` as GoTrue merges it: `null` removes a key.
    pub user_metadata: Option<Map<String, Value>>,
    /// Merged into `app_metadata` the same way.
    pub app_metadata: Option<Map<String, Value>>,
    /// Sessions ended in the same transaction (a new password signs out the other devices):
    /// the scope, relative to the caller's session.
    pub end_sessions: Option<(LogoutScope, Uuid)>,
    /// An identity linked or unlinked in the same transaction; `app_metadata.provider(s)`
    /// then follow the identities the user has (see [`providers_patch`]).
    pub identity: Option<IdentityChange>,
    /// An identity the user just signed in with, its profile as the provider reported it
    /// (`identity_data`, `last_sign_in_at`, `updated_at`), written in the same transaction:
    /// a sign-in's identity and the user's metadata copied from it change together.
    pub signed_in_identity: Option<Identity>,
    /// Recorded in the same transaction: the log holds the change if and only if it happened.
    pub audit: Option<AuditEntry>,
    /// Voids every one-time code the user has, in the same transaction (a followed link, a
    /// recovered account or a changed address leaves no older link working, as in GoTrue).
    pub clear_one_time_tokens: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdentityChange {
    /// `Conflict("identity")` when another user has it.
    Link(Identity),
    /// Never the user's last identity: `Conflict("last identity")` then, decided under the
    /// user's lock, so two concurrent unlinks cannot leave a user with none.
    Unlink(Uuid),
}

impl UserChanges {
    /// Applies the changes to `user` as read under its lock; `updated_at` becomes `now`.
    pub fn apply(&self, user: &mut User, now: DateTime<Utc>) {
        if let Some(email) = &self.email {
            user.email.clone_from(email);
        }
        if let Some(at) = self.email_confirmed_at {
            user.email_confirmed_at = at;
        }
        if let Some(phone) = &self.phone {
            user.phone.clone_from(phone);
        }
        if let Some(at) = self.phone_confirmed_at {
            user.phone_confirmed_at = at;
        }
        if let Some(number) = &self.phone_change {
            user.phone_change.clone_from(number);
        }
        if let Some(at) = self.phone_change_sent_at {
            user.phone_change_sent_at = at;
        }
        if let Some(at) = self.invited_at {
            user.invited_at = at;
        }
        if let Some(at) = self.confirmation_sent_at {
            user.confirmation_sent_at = at;
        }
        if let Some(at) = self.recovery_sent_at {
            user.recovery_sent_at = at;
        }
        if let Some(address) = &self.email_change {
            user.email_change.clone_from(address);
        }
        if let Some(at) = self.email_change_sent_at {
            user.email_change_sent_at = at;
        }
        if let Some(status) = self.email_change_confirm_status {
            user.email_change_confirm_status = status;
        }
        if let Some(at) = self.reauthentication_sent_at {
            user.reauthentication_sent_at = at;
        }
        if let Some(hash) = &self.encrypted_password {
            user.encrypted_password.clone_from(hash);
        }
        if let Some(role) = &self.role {
            user.role.clone_from(role);
        }
        if let Some(until) = self.banned_until {
            user.banned_until = until;
        }
        if let Some(anonymous) = self.is_anonymous {
            user.is_anonymous = anonymous;
        }
        if let Some(data) = &self.user_metadata {
            merge(&mut user.user_metadata, data);
        }
        if let Some(data) = &self.app_metadata {
            merge(&mut user.app_metadata, data);
        }
        user.updated_at = now;
    }
}

/// GoTrue's `app_metadata.provider(s)`: the first identity's provider, and all of them in
/// order without repeats, as a change to merge into `app_metadata`.
pub fn providers_patch<S: AsRef<str>>(providers: &[S]) -> Map<String, Value> {
    let mut unique: Vec<&str> = Vec::new();
    for provider in providers {
        if !unique.contains(&provider.as_ref()) {
            unique.push(provider.as_ref());
        }
    }
    let mut patch = Map::new();
    if let Some(first) = unique.first() {
        patch.insert("provider".into(), json!(first));
    }
    patch.insert("providers".into(), json!(unique));
    patch
}

/// GoTrue's metadata merge: top-level keys overwrite, `null` removes.
pub fn merge(target: &mut Value, data: &Map<String, Value>) {
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(current) = target {
        for (key, value) in data {
            if value.is_null() {
                current.remove(key);
            } else {
                current.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_list_keeps_order_without_duplicates() {
        assert_eq!(
            Value::Object(providers_patch(&["wechat_qr", "wechat_mini", "wechat_qr"])),
            json!({"provider": "wechat_qr", "providers": ["wechat_qr", "wechat_mini"]})
        );
    }

    #[test]
    fn metadata_merge_removes_nulls_and_overwrites() {
        let mut metadata = json!({"a": 1, "b": 2});
        let patch = json!({"b": null, "c": 3});
        merge(&mut metadata, patch.as_object().expect("object"));
        assert_eq!(metadata, json!({"a": 1, "c": 3}));
    }

    #[test]
    fn only_named_columns_change() {
        let now = Utc::now();
        let mut user = User::new(Uuid::nil(), "authenticated", "email", now);
        user.banned_until = Some(now + chrono::Duration::hours(1));
        user.user_metadata = json!({"a": 1, "b": 2});
        let changes = UserChanges {
            user_metadata: Some(
                json!({"b": null, "c": 3})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            ..Default::default()
        };
        let later = now + chrono::Duration::seconds(5);
        changes.apply(&mut user, later);
        assert_eq!(user.user_metadata, json!({"a": 1, "c": 3}));
        assert_eq!(user.banned_until, Some(now + chrono::Duration::hours(1)));
        assert_eq!(user.updated_at, later);
    }

    #[test]
    fn clearing_is_distinct_from_leaving_alone() {
        let now = Utc::now();
        let mut user = User::new(Uuid::nil(), "authenticated", "email", now);
        user.banned_until = Some(now);
        user.email = Some("a@example.com".into());
        UserChanges {
            banned_until: Some(None),
            ..Default::default()
        }
        .apply(&mut user, now);
        assert_eq!(user.banned_until, None);
        assert_eq!(user.email.as_deref(), Some("a@example.com"));
    }
}
