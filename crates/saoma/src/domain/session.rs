use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A signed-in device; access tokens name it in `session_id`, refresh tokens belong to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub aal: String,
    pub not_after: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user authenticated (`password`, `anonymous`, `oauth`, ...), for the `amr` claim.
    pub amr_method: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    pub fn new(user_id: Uuid, amr_method: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::new_v4(),
            user_id,
            aal: "aal1".to_owned(),
            not_after: None,
            refreshed_at: None,
            user_agent: None,
            ip: None,
            amr_method: amr_method.to_owned(),
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.not_after.is_some_and(|limit| now >= limit)
    }
}

/// Which sessions `POST /logout` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// Every session of the user.
    Global,
    /// Only the session the access token names.
    Local,
    /// Every session but the current one.
    Others,
}

impl LogoutScope {
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value.unwrap_or("global") {
            "global" | "" => Some(Self::Global),
            "local" => Some(Self::Local),
            "others" => Some(Self::Others),
            _ => None,
        }
    }
}
