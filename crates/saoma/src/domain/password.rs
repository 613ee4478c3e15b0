//! Password hashing: bcrypt like GoTrue, so hashes move between the two in both directions.
//! Hashing is slow on purpose, so it runs on the blocking pool, never on the async runtime.

use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 6;
/// bcrypt only looks at the first 72 bytes: longer passwords are refused, never cut.
pub const MAX_BYTES: usize = 72;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing task failed: {0}")]
    Task(String),
    #[error("passwords longer than {MAX_BYTES} bytes are not hashed: bcrypt would cut them")]
    TooLong,
    #[error("bcrypt: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
}

/// The bcrypt cost actually used for `configured`: never below 10 (GoTrue's), never above
/// bcrypt's own maximum.
pub fn effective_cost(configured: u32) -> u32 {
    configured.clamp(10, 31)
}

/// Hashes a new password with bcrypt at `cost` (see [`effective_cost`]).
pub async fn hash(password: String, cost: u32) -> Result<String, PasswordError> {
    let cost = effective_cost(cost);
    // bcrypt would ignore everything past 72 bytes: refuse rather than store a weaker secret
    // than the user chose ([`weakness`] tells the user first). Not bcrypt's own
    // `non_truncating_hash`: it counts a terminating NUL and so refuses exactly 72 bytes too.
    if password.len() > MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
        .map_err(PasswordError::from)
}

/// Checks `password` against `stored`. Whenever there is nothing real to check against (no
/// stored hash, or a password bcrypt would silently cut to its first 72 bytes and so match a
/// hash of that prefix) it checks against a dummy hash of the configured `cost` instead and
/// answers no, so that such a sign-in takes as long as a real one.
pub async fn verify(
    password: String,
    stored: Option<String>,
    cost: u32,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || match stored {
        Some(hash) if is_bcrypt(&hash) && password.len() <= MAX_BYTES => {
            Ok(bcrypt::verify(password, &hash).unwrap_or(false))
        }
        _ => {
            let _ = bcrypt::verify(password, dummy_hash(cost));
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

/// A real hash of a random string at `cost` (as [`effective_cost`] makes it), made once per
/// cost: checking against it takes as long as checking a stored hash of that cost.
fn dummy_hash(cost: u32) -> &'static str {
    static DUMMIES: [OnceLock<String>; 32] = [const { OnceLock::new() }; 32];
    let cost = effective_cost(cost);
    DUMMIES[cost as usize].get_or_init(|| {
        let secret: [u8; 16] = rand::random();
        bcrypt::hash(secret, cost).unwrap_or_default()
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
    if password.len() > MAX_BYTES {
        return Some(Weakness {
            message: format!(
                "Password should be at most {MAX_BYTES} bytes long: bcrypt ignores anything after that."
            ),
            reasons: vec!["length"],
        });
    }
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
        assert!(verify("password123".into(), Some(go_hash.clone()), 10)
            .await
            .expect("verify"));
        assert!(!verify("password124".into(), Some(go_hash), 10)
            .await
            .expect("verify"));
        // A hash of another shape never verifies.
        assert!(
            !verify("password123".into(), Some("password123".into()), 10)
                .await
                .expect("verify")
        );
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

    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        // Unknown accounts must cost what known ones do: the dummy is as slow as a real hash.
        assert!(dummy_hash(12).starts_with("$2b$12$"), "{}", dummy_hash(12));
        assert!(dummy_hash(11).starts_with("$2b$11$"), "{}", dummy_hash(11));
        // Clamped as new hashes are.
        assert!(dummy_hash(4).starts_with("$2b$10$"), "{}", dummy_hash(4));
    }

    #[tokio::test]
    async fn a_long_password_never_matches_the_hash_of_its_prefix() {
        let prefix = "p".repeat(MAX_BYTES);
        // A stored hash as bcrypt makes it (cost 4: quick), e.g. imported from elsewhere.
        let stored = bcrypt::hash(&prefix, 4).expect("hash");
        assert!(verify(prefix.clone(), Some(stored.clone()), 10)
            .await
            .expect("verify"));
        let longer = format!("{prefix}-and-more");
        assert!(!verify(longer, Some(stored), 10).await.expect("verify"));
    }

    #[tokio::test]
    async fn long_passwords_are_weak_and_never_hashed() {
        let too_long = "p".repeat(MAX_BYTES + 1);
        let weak = weakness(&too_long, 6).expect("weak");
        assert_eq!(weak.reasons, vec!["length"]);
        assert!(weak.message.contains("72 bytes"), "{}", weak.message);
        assert_eq!(weakness(&"p".repeat(MAX_BYTES), 6), None);
        // Bytes, not characters: 25 three-byte characters are 75 bytes.
        assert!(weakness(&"密".repeat(25), 6).is_some());
        assert!(matches!(
            hash(too_long, 10).await,
            Err(PasswordError::TooLong)
        ));
        assert!(hash("p".repeat(MAX_BYTES), 10).await.is_ok());
    }
}
