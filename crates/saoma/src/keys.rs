//! Long-lived API keys (`anon`, `service_role`), as Supabase hands them out.

use chrono::{DateTime, Duration, Utc};

use crate::jwt::{Claims, JwtError, JwtKeys};

/// Signs a key for `role`, valid for ten years from `now`.
pub fn api_key(keys: &JwtKeys, role: &str, now: DateTime<Utc>) -> Result<String, JwtError> {
    let claims = Claims {
        iss: Some("saoma".into()),
        role: role.into(),
        iat: now.timestamp(),
        exp: Some((now + Duration::days(3650)).timestamp()),
        ..Claims::default()
    };
    keys.sign_hs256(&claims)
}
