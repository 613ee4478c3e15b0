use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// A login method attached to a user: one row per (provider, provider subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: Uuid,
    pub provider_id: String,
    pub provider: String,
    pub user_id: Uuid,
    pub identity_data: Value,
    pub email: Option<String>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Identity {
    /// The `phone` identity GoTrue creates for a phone sign-up; its subject is the user id.
    pub fn phone(user_id: Uuid, phone: &str, now: DateTime<Utc>) -> Self {
        let sub = user_id.to_string();
        Self {
            id: Uuid::new_v4(),
            provider_id: sub.clone(),
            provider: "phone".to_owned(),
            user_id,
            identity_data: json!({
                "sub": sub,
                "phone": phone,
                "email_verified": false,
                "phone_verified": false,
            }),
            email: None,
            last_sign_in_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }

    /// The `email` identity GoTrue creates on email sign-up; its subject is the user id.
    pub fn email(user_id: Uuid, email: &str, now: DateTime<Utc>) -> Self {
        let sub = user_id.to_string();
        Self {
            id: Uuid::new_v4(),
            provider_id: sub.clone(),
            provider: "email".to_owned(),
            user_id,
            identity_data: json!({
                "sub": sub,
                "email": email,
                "email_verified": false,
                "phone_verified": false,
            }),
            email: Some(email.to_owned()),
            last_sign_in_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }
}
