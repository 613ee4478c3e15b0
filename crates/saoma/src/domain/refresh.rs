//! Refresh-token rotation, with GoTrue's rules for a token presented twice.
//!
//! Tokens are opaque to clients. At rest only their SHA-256 is kept, for lookup, plus a random
//! nonce: the plaintext is `HMAC(key, nonce)`, so the server can hand the *active* token back to
//! a client that lost it (GoTrue's parent-of-active rule) without ever storing a usable token.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use ring::{digest, hmac};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: i64,
    /// SHA-256 of the plaintext, hex.
    pub token_hash: String,
    /// Hex nonce the plaintext is derived from.
    pub nonce: String,
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// `token_hash` of the token this one replaced.
    pub parent: Option<String>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RefreshToken {
    /// A token GoTrue issued before saoma took over its database: GoTrue kept the plaintext in
    /// `token` (here `token_hash`) and there is no nonce to derive it from.
    pub fn is_from_gotrue(&self) -> bool {
        self.nonce.is_empty()
    }
}

/// Whether a presented token could be one GoTrue stored in plain text: printable ASCII that
/// fits GoTrue's `varchar(255)` (12 alphanumerics today, 22 URL-safe base64 characters in older
/// versions). Anything else is not looked up, so odd input (NUL, say) never reaches the database.
pub fn could_be_from_gotrue(presented: &str) -> bool {
    !presented.is_empty()
        && presented.len() <= 255
        && presented.bytes().all(|b| b.is_ascii_graphic())
}

/// Compares a presented token with a stored plaintext in constant time: the answer must not
/// tell how much of a guess was right.
pub fn plaintext_matches(presented: &str, stored: &str) -> bool {
    use subtle::ConstantTimeEq;
    presented.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// A token about to be stored: what the store needs, and the plaintext for the client.
#[derive(Clone)]
pub struct MintedToken {
    pub plaintext: String,
    pub token_hash: String,
    pub nonce: String,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("token_hash", &self.token_hash)
            .finish_non_exhaustive()
    }
}

/// Derives refresh-token plaintexts from nonces.
#[derive(Clone)]
pub struct RefreshTokenKey(hmac::Key);

impl RefreshTokenKey {
    /// A key bound to the server secret, separate from the JWT signing use of that secret.
    pub fn derive(server_secret: &[u8]) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, server_secret);
        let tag = hmac::sign(&root, b"saoma refresh tokens v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref()))
    }

    pub fn mint(&self) -> MintedToken {
        let nonce: [u8; 16] = rand::random();
        let nonce = crate::hex::encode(&nonce);
        let plaintext = self.reveal(&nonce);
        MintedToken {
            token_hash: hash_token(&plaintext),
            plaintext,
            nonce,
        }
    }

    /// The plaintext of a stored token.
    pub fn reveal(&self, nonce: &str) -> String {
        let tag = hmac::sign(&self.0, nonce.as_bytes());
        // 24 bytes keep the token short (cookie space) and still far beyond guessing.
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..24])
    }
}

pub fn hash_token(plaintext: &str) -> String {
    crate::hex::encode(digest::digest(&digest::SHA256, plaintext.as_bytes()).as_ref())
}

#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    pub rotation_enabled: bool,
    pub reuse_interval: Duration,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Revoke the presented token (if not already) and issue a child of it.
    IssueChild,
    /// The client lost the answer to its last refresh: give it the active token again.
    ReturnActive,
    /// Reuse outside the window: refuse; with rotation on, end the whole session.
    Reject { end_session: bool },
}

pub fn decide(
    presented: &RefreshToken,
    active: Option<&RefreshToken>,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
) -> Decision {
    if !presented.revoked {
        return Decision::IssueChild;
    }
    if active.is_some_and(|a| a.parent.as_deref() == Some(presented.token_hash.as_str())) {
        return Decision::ReturnActive;
    }
    if now <= presented.updated_at + policy.reuse_interval {
        return Decision::IssueChild;
    }
    Decision::Reject {
        end_session: policy.rotation_enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(
        hash: &str,
        parent: Option<&str>,
        revoked: bool,
        updated_at: DateTime<Utc>,
    ) -> RefreshToken {
        RefreshToken {
            id: 1,
            token_hash: hash.into(),
            nonce: String::new(),
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            parent: parent.map(Into::into),
            revoked,
            created_at: updated_at,
            updated_at,
        }
    }

    const POLICY: RotationPolicy = RotationPolicy {
        rotation_enabled: true,
        reuse_interval: Duration::seconds(10),
    };

    #[test]
    fn live_token_rotates() {
        let now = Utc::now();
        assert_eq!(
            decide(&token("a", None, false, now), None, now, &POLICY),
            Decision::IssueChild
        );
    }

    #[test]
    fn parent_of_active_gets_active_back_at_any_time() {
        let t0 = Utc::now();
        let parent = token("a", None, true, t0);
        let active = token("b", Some("a"), false, t0);
        let later = t0 + Duration::hours(1);
        assert_eq!(
            decide(&parent, Some(&active), later, &POLICY),
            Decision::ReturnActive
        );
    }

    #[test]
    fn reuse_window_then_rejection() {
        let t0 = Utc::now();
        let grandparent = token("a", None, true, t0);
        let active = token("c", Some("b"), false, t0);
        let inside = t0 + Duration::seconds(10);
        let outside = t0 + Duration::seconds(11);
        assert_eq!(
            decide(&grandparent, Some(&active), inside, &POLICY),
            Decision::IssueChild
        );
        assert_eq!(
            decide(&grandparent, Some(&active), outside, &POLICY),
            Decision::Reject { end_session: true }
        );
        let lenient = RotationPolicy {
            rotation_enabled: false,
            ..POLICY
        };
        assert_eq!(
            decide(&grandparent, Some(&active), outside, &lenient),
            Decision::Reject { end_session: false }
        );
    }

    #[test]
    fn gotrue_plaintexts_are_recognised_and_compared_exactly() {
        assert!(could_be_from_gotrue("aB3dE5gH7jK9"));
        assert!(could_be_from_gotrue("x8xD1Tm9bDfDl-2OqLk2Aw"));
        for odd in ["", "with space", "nul\0byte", "é", &"a".repeat(256)] {
            assert!(!could_be_from_gotrue(odd), "{odd:?}");
        }
        assert!(plaintext_matches("aB3dE5gH7jK9", "aB3dE5gH7jK9"));
        assert!(!plaintext_matches("aB3dE5gH7jK9", "aB3dE5gH7jK8"));
        assert!(!plaintext_matches("aB3dE5gH7jK", "aB3dE5gH7jK9"));
    }

    #[test]
    fn plaintext_is_derivable_but_not_stored() {
        let key = RefreshTokenKey::derive(b"secret");
        let minted = key.mint();
        assert_eq!(key.reveal(&minted.nonce), minted.plaintext);
        assert_eq!(hash_token(&minted.plaintext), minted.token_hash);
        assert_ne!(minted.plaintext, minted.nonce);
        let other = RefreshTokenKey::derive(b"other secret");
        assert_ne!(other.reveal(&minted.nonce), minted.plaintext);
    }
}
