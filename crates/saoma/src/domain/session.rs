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
    /// Every way the user authenticated in this session (`password`, `anonymous`, `oauth`,
    /// ...), oldest first: the `amr` claim. Never empty once read from the store.
    pub amr: Vec<AmrClaim>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    /// A new session, signed in by `amr_method`.
    pub fn new(user_id: Uuid, amr_method: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::new_v4(),
            user_id,
            aal: "aal1".to_owned(),
            not_after: None,
            refreshed_at: None,
            user_agent: None,
            ip: None,
            amr: vec![AmrClaim {
                method: amr_method.to_owned(),
                at: now,
            }],
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.not_after.is_some_and(|limit| now >= limit)
    }
}

/// One way the user authenticated in a session (GoTrue's `mfa_amr_claims` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmrClaim {
    pub method: String,
    /// When the method was last used in this session (GoTrue's `updated_at`: the `amr`
    /// entry's timestamp).
    pub at: DateTime<Utc>,
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
