//! Password hashing: bcrypt like GoTrue, so hashes move between the two in both directions.
//! Hashing is slow on purpose, so it runs on the blocking pool, never on the async runtime.

use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 6;
/// bcrypt only looks at the first 72 bytes; GoTrue rejects longer passwords.
pub const MAX_BYTES: usize = 72;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing task failed: {0}")]
    Task(String),
    #[error("bcrypt: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
}

/// Hashes a new password with bcrypt at `cost` (at least 10).
pub async fn hash(password: String, cost: u32) -> Result<String, PasswordError> {
    let cost = cost.max(10);
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
        .map_err(PasswordError::from)
}

/// Checks `password` against `stored`; with no stored hash it checks against a dummy hash,
/// so an unknown account costs as much time as a known one.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || match stored {
        Some(hash) if is_bcrypt(&hash) => Ok(bcrypt::verify(password, &hash).unwrap_or(false)),
        _ => {
            let _ = bcrypt::verify(password, dummy_hash());
            Ok(false)
        }
    })
    .await
    .map_err(|e| PasswordError::Task(e.to_string()))?
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
}

/// A real cost-10 hash of a random string, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret: [u8; 16] = rand::random();
        bcrypt::hash(secret, 10).unwrap_or_default()
    })
}

/// Why a password fails the strength rules: GoTrue's message and `weak_password.reasons`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weakness {
    pub message: String,
    pub reasons: Vec<&'static str>,
}

pub fn weakness(password: &str, min_length: usize) -> Option<Weakness> {
    let min_length = min_length.max(MIN_LENGTH);
    (password.chars().count() < min_length).then(|| Weakness {
        message: format!("Password should be at least {min_length} characters."),
        reasons: vec!["length"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_gotrue_bcrypt_hashes() {
        // A `$2a$` cost-10 hash of "password123", the prefix and cost GoTrue's Go bcrypt writes
        // (made with Python's bcrypt, an independent implementation).
        let go_hash = "$2a$10$wPNyjB5L/Tunlj1yaNZjNuQD/EyzDdRfEc9v7D.6dmWj/hgwZ8SXG".to_owned();
        assert!(verify("password123".into(), Some(go_hash.clone()))
            .await
            .expect("verify"));
        assert!(!verify("password124".into(), Some(go_hash))
            .await
            .expect("verify"));
        // A hash of another shape never verifies.
        assert!(!verify("password123".into(), Some("password123".into()))
            .await
            .expect("verify"));
    }

    #[tokio::test]
    async fn new_hashes_use_cost_at_least_10() {
        let hash = hash("secret-pass".into(), 4).await.expect("hash");
        assert!(hash.starts_with("$2b$10$"), "{hash}");
    }

    #[test]
    fn length_rule() {
        assert_eq!(
            weakness("12345", 6).map(|w| w.reasons),
            Some(vec!["length"])
        );
        assert_eq!(weakness("123456", 6), None);
        assert_eq!(
            weakness("1234567", 8).map(|w| w.message).as_deref(),
            Some("Password should be at least 8 characters.")
        );
        // The floor is GoTrue's 6 whatever the configuration says.
        assert!(weakness("12345", 1).is_some());
    }
}
