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

    /// A fresh emailed code: its stored hash is keyed with the server's `key`
    /// ([`LinkKey`]), because the hash is also the mailed link's token. GoTrue's unkeyed hash
    /// of address and code can be computed by anyone who knows the address for each of the
    /// 10^6 codes, and a link's hash is looked up, not guessed against a counted code: with
    /// it, the wrong-guess limit would have a side door.
    pub fn new_keyed(
        user_id: Uuid,
        token_type: TokenType,
        relates_to: &str,
        otp: &str,
        now: DateTime<Utc>,
        key: &LinkKey,
    ) -> Self {
        Self {
            token_hash: key.hash(relates_to, otp),
            ..Self::new(user_id, token_type, relates_to, otp, now)
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
    /// of a link's hash, as GoTrue compares). `key`: the code was issued keyed
    /// ([`OneTimeToken::new_keyed`]).
    pub fn matches(&self, otp: &str, key: Option<&LinkKey>) -> bool {
        use subtle::ConstantTimeEq;
        let given = match key {
            Some(key) => key.hash(&self.relates_to, otp),
            None => hash(&self.relates_to, otp),
        };
        let stored = self
            .token_hash
            .strip_prefix(PKCE_PREFIX)
            .unwrap_or(&self.token_hash);
        given.as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

/// The key of emailed codes' hashes, bound to the server secret (apart from its JWT use).
#[derive(Clone)]
pub struct LinkKey(ring::hmac::Key);

impl LinkKey {
    pub fn derive(server_secret: &[u8]) -> Self {
        use ring::hmac;
        let root = hmac::Key::new(hmac::HMAC_SHA256, server_secret);
        let tag = hmac::sign(&root, b"saoma emailed one-time codes v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref()))
    }

    /// HMAC-SHA-256 of destination and code, cut to GoTrue's 56 hex digits (the column and
    /// the clients expect that shape; 224 bits are far beyond guessing).
    fn hash(&self, relates_to: &str, otp: &str) -> String {
        let mut context = ring::hmac::Context::with_key(&self.0);
        context.update(relates_to.as_bytes());
        // A separator: ("ab", "1") and ("a", "b1") must not be one input.
        context.update(&[0]);
        context.update(otp.as_bytes());
        crate::hex::encode(&context.sign().as_ref()[..28])
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
    crate::hex::encode(&digest)
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
        let expected = crate::hex::encode(&Sha224::digest(b"8613800000000123456"));
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
        assert!(token.matches("123456", None));
        assert!(!token.matches("123457", None));
        assert!(!token.matches("", None));
        assert_ne!(token.token_hash, "123456");
        let pkce = token.clone().for_pkce();
        assert!(pkce.is_pkce() && !token.is_pkce());
        assert_eq!(pkce.token_hash, format!("pkce_{}", token.token_hash));
        assert!(pkce.matches("123456", None) && !pkce.matches("123457", None));
    }

    #[test]
    fn keyed_hashes_need_the_key_and_keep_gotrues_shape() {
        let key = LinkKey::derive(b"a server secret that is long enough");
        let other = LinkKey::derive(b"another server secret, also long enough");
        let token = OneTimeToken::new_keyed(
            Uuid::new_v4(),
            TokenType::Recovery,
            "a@example.com",
            "123456",
            Utc::now(),
            &key,
        );
        assert_eq!(token.token_hash.len(), 56);
        assert_ne!(token.token_hash, hash("a@example.com", "123456"));
        assert!(token.matches("123456", Some(&key)));
        assert!(!token.matches("123456", None));
        assert!(!token.matches("123456", Some(&other)));
        assert!(!token.matches("123457", Some(&key)));
        assert_ne!(key.hash("ab", "1"), key.hash("a", "b1"));
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
