//! One-time codes (GoTrue's `one_time_tokens`): one row per user and kind, holding only the
//! code's hash, so that a read of the database does not hand out working codes.

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha224};
use uuid::Uuid;

/// GoTrue's `one_time_token_type` enum, spelled as the database has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// Confirms a new (or not yet confirmed) phone or email sign-up.
    Confirmation,
    Reauthentication,
    /// Signs in a confirmed user (GoTrue's OTP sign-in reuses the recovery slot).
    Recovery,
    EmailChangeNew,
    EmailChangeCurrent,
    /// Confirms a new phone number; `relates_to` is the new number.
    PhoneChange,
}

impl TokenType {
    pub const ALL: [TokenType; 6] = [
        Self::Confirmation,
        Self::Reauthentication,
        Self::Recovery,
        Self::EmailChangeNew,
        Self::EmailChangeCurrent,
        Self::PhoneChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation_token",
            Self::Reauthentication => "reauthentication_token",
            Self::Recovery => "recovery_token",
            Self::EmailChangeNew => "email_change_token_new",
            Self::EmailChangeCurrent => "email_change_token_current",
            Self::PhoneChange => "phone_change_token",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// A stored code. `wrong_guesses` is saoma's own count (GoTrue has none), kept beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_type: TokenType,
    pub token_hash: String,
    /// The phone number (or email address) the code was sent to.
    pub relates_to: String,
    pub created_at: DateTime<Utc>,
    pub wrong_guesses: u32,
}

impl OneTimeToken {
    /// A fresh code `otp` of `token_type` for `user_id`, sent to `relates_to`.
    pub fn new(
        user_id: Uuid,
        token_type: TokenType,
        relates_to: &str,
        otp: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            user_id,
            token_type,
            token_hash: hash(relates_to, otp),
            relates_to: relates_to.to_owned(),
            created_at: now,
            wrong_guesses: 0,
        }
    }

    /// [`OneTimeToken::new`] for a link of a PKCE flow: the stored hash carries GoTrue's
    /// `pkce_` prefix, which tells `/verify` to answer with an auth code.
    pub fn for_pkce(self) -> Self {
        Self {
            token_hash: format!("{PKCE_PREFIX}{}", self.token_hash),
            ..self
        }
    }

    /// Whether this code was issued for a PKCE flow.
    pub fn is_pkce(&self) -> bool {
        self.token_hash.starts_with(PKCE_PREFIX)
    }

    /// Whether `otp` is this code, compared in constant time (with or without the PKCE prefix
    /// of a link's hash, as GoTrue compares).
    pub fn matches(&self, otp: &str) -> bool {
        use subtle::ConstantTimeEq;
        let given = hash(&self.relates_to, otp);
        let stored = self
            .token_hash
            .strip_prefix(PKCE_PREFIX)
            .unwrap_or(&self.token_hash);
        given.as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

/// What GoTrue puts before a link's hash when the link belongs to a PKCE flow.
pub const PKCE_PREFIX: &str = "pkce_";

/// GoTrue's token hash: SHA-224 of destination and code, in hex. The same hash, so that codes
/// issued by either server on a shared database verify on the other.
pub fn hash(relates_to: &str, otp: &str) -> String {
    let digest = Sha224::new()
        .chain_update(relates_to.as_bytes())
        .chain_update(otp.as_bytes())
        .finalize();
    hex_lower(&digest)
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A random code of `length` decimal digits.
pub fn generate(length: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..length)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_gotrues_sha224_of_destination_and_code() {
        // sha224("8613800000000123456"), as GoTrue's crypto.GenerateTokenHash computes it.
        let expected = hex_lower(&Sha224::digest(b"8613800000000123456"));
        assert_eq!(hash("8613800000000", "123456"), expected);
        assert_eq!(expected.len(), 56);
    }

    #[test]
    fn only_the_right_code_matches() {
        let token = OneTimeToken::new(
            Uuid::new_v4(),
            TokenType::Confirmation,
            "8613800000000",
            "123456",
            Utc::now(),
        );
        assert!(token.matches("123456"));
        assert!(!token.matches("123457"));
        assert!(!token.matches(""));
        assert_ne!(token.token_hash, "123456");
        let pkce = token.clone().for_pkce();
        assert!(pkce.is_pkce() && !token.is_pkce());
        assert_eq!(pkce.token_hash, format!("pkce_{}", token.token_hash));
        assert!(pkce.matches("123456") && !pkce.matches("123457"));
    }

    #[test]
    fn codes_have_the_asked_length_and_only_digits() {
        for length in [6, 8, 10] {
            let code = generate(length);
            assert_eq!(code.len(), length);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn token_types_round_trip() {
        for t in TokenType::ALL {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TokenType::parse("nope"), None);
    }
}
