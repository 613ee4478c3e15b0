//! OAuth flow state: what saoma remembers between `/authorize` and `/callback`, and between
//! the callback and the PKCE code exchange. The id doubles as the `state` sent to the
//! provider: 32 hex characters, inside WeChat's 128-byte `[a-zA-Z0-9]` limit.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use ring::digest;
use uuid::Uuid;

/// How long a user may take from `/authorize` to the provider's callback (WeChat's codes live
/// 10 minutes; scanning a QR code takes a while).
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);
/// How long the app may take to exchange its auth code, as GoTrue.
pub const AUTH_CODE_LIFETIME: Duration = Duration::minutes(5);
/// WeChat sometimes redirects twice with the same code: answer the repeat within this window.
pub const DUPLICATE_CALLBACK_WINDOW: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    S256,
    Plain,
}

impl ChallengeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "s256",
            Self::Plain => "plain",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "s256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }
}

/// A PKCE challenge as sent to `/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub value: String,
    pub method: ChallengeMethod,
}

impl Challenge {
    /// GoTrue's rules: both or neither; 43-128 characters of `[a-zA-Z0-9._~-]`.
    pub fn parse(value: Option<&str>, method: Option<&str>) -> Result<Option<Self>, &'static str> {
        let value = value.filter(|v| !v.is_empty());
        let method = method.filter(|m| !m.is_empty());
        match (value, method) {
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => {
                Err("PKCE flow requires code_challenge and code_challenge_method")
            }
            (Some(value), Some(method)) => {
                let method = ChallengeMethod::parse(method)
                    .ok_or("code_challenge_method must be s256 or plain")?;
                if !is_pkce_string(value) {
                    return Err("code challenge does not match previously saved code verifier");
                }
                Ok(Some(Self {
                    value: value.to_owned(),
                    method,
                }))
            }
        }
    }

    /// Constant-time check of a verifier against this challenge. A verifier outside RFC 7636's
    /// shape never verifies, whatever challenge was stored: a short one can be guessed.
    pub fn verify(&self, verifier: &str) -> bool {
        if check_verifier(verifier).is_err() {
            return false;
        }
        let expected = match self.method {
            ChallengeMethod::S256 => {
                URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
            }
            ChallengeMethod::Plain => verifier.to_owned(),
        };
        use subtle::ConstantTimeEq;
        bool::from(expected.as_bytes().ct_eq(self.value.as_bytes()))
    }
}

/// RFC 7636 §4.1: a verifier is 43-128 characters of the unreserved set `[A-Za-z0-9-._~]`.
/// Checked before the flow is looked up, so a malformed verifier never consumes an attempt.
pub fn check_verifier(verifier: &str) -> Result<(), &'static str> {
    if is_pkce_string(verifier) {
        Ok(())
    } else {
        Err("code verifier must be 43-128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'")
    }
}

/// The shape RFC 7636 gives both verifiers and challenges (a plain challenge is the verifier;
/// an S256 one, base64url without padding, is 43 characters of the same set).
fn is_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowState {
    pub id: Uuid,
    pub provider_type: String,
    /// GoTrue's `authentication_method`: `oauth` for provider logins; for an email link the
    /// link's kind (`magiclink`, `recovery`, `email/signup`, `invite`, `email_change`), by
    /// which `/verify` finds the flow the link's user started.
    pub authentication_method: String,
    /// Where the user goes at the end (already validated).
    pub redirect_to: String,
    /// None for the implicit flow.
    pub challenge: Option<Challenge>,
    /// Set once the provider called back: who signed in, and the code handed to the app.
    pub user_id: Option<Uuid>,
    pub auth_code: Option<String>,
    pub auth_code_issued_at: Option<DateTime<Utc>>,
    pub provider_access_token: Option<String>,
    pub provider_refresh_token: Option<String>,
    /// SHA-256 of the provider's code, to recognise a repeated callback.
    pub provider_code_hash: Option<String>,
    /// Set when a signed-in user links another provider: the user who gets the identity.
    pub linking_target_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl FlowState {
    pub fn new(
        provider: &str,
        redirect_to: String,
        challenge: Option<Challenge>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            provider_type: provider.to_owned(),
            authentication_method: "oauth".to_owned(),
            redirect_to,
            challenge,
            user_id: None,
            auth_code: None,
            auth_code_issued_at: None,
            provider_access_token: None,
            provider_refresh_token: None,
            provider_code_hash: None,
            linking_target_id: None,
            created_at: now,
        }
    }

    /// The `state` parameter: the id without dashes.
    pub fn state_param(&self) -> String {
        self.id.simple().to_string()
    }

    pub fn parse_state(state: &str) -> Option<Uuid> {
        (state.len() == 32)
            .then(|| Uuid::try_parse(state).ok())
            .flatten()
    }

    pub fn callback_expired(&self, now: DateTime<Utc>) -> bool {
        now > self.created_at + FLOW_LIFETIME
    }

    pub fn auth_code_expired(&self, now: DateTime<Utc>) -> bool {
        self.auth_code_issued_at
            .is_none_or(|issued| now > issued + AUTH_CODE_LIFETIME)
    }
}

pub fn hash_code(code: &str) -> String {
    crate::domain::refresh::hash_token(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A pair computed independently (Python's hashlib + base64url without padding).
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9Fhq1_lHLAp2y4NR6zT9K5OwQ";
    const CHALLENGE: &str = "QWbuHREcNB1QdF5rUVPdcUsGeTDuxfmdy75-ZjqWt3w";

    #[test]
    fn s256_and_plain() {
        let challenge = Challenge::parse(Some(CHALLENGE), Some("S256"))
            .expect("valid")
            .expect("some");
        assert!(challenge.verify(VERIFIER));
        assert!(!challenge.verify("dBjftJeZ4CVP-mJ92K9Fhq1_lHLAp2y4NR6zT9K5OwR"));
        let plain = Challenge::parse(Some(VERIFIER), Some("plain"))
            .expect("valid")
            .expect("some");
        assert!(plain.verify(VERIFIER));
    }

    #[test]
    fn malformed_challenges() {
        assert_eq!(Challenge::parse(None, None), Ok(None));
        assert!(Challenge::parse(Some(CHALLENGE), None).is_err());
        assert!(Challenge::parse(None, Some("s256")).is_err());
        assert!(Challenge::parse(Some("short"), Some("s256")).is_err());
        assert!(Challenge::parse(Some(&format!("{CHALLENGE}!")), Some("s256")).is_err());
        assert!(Challenge::parse(Some(CHALLENGE), Some("md5")).is_err());
    }

    #[test]
    fn verifiers_follow_rfc_7636() {
        let at_least = "a".repeat(43);
        let at_most = "Az09-._~".repeat(16);
        assert_eq!(at_most.len(), 128);
        for good in [VERIFIER, at_least.as_str(), at_most.as_str()] {
            assert_eq!(check_verifier(good), Ok(()), "{good}");
        }
        let too_short = "a".repeat(42);
        let too_long = format!("{at_most}a");
        let bad_char = format!("{}+", &at_least[1..]);
        let non_ascii = format!("{}é", "a".repeat(42));
        for bad in [
            "",
            "a",
            too_short.as_str(),
            too_long.as_str(),
            bad_char.as_str(),
            non_ascii.as_str(),
        ] {
            assert!(check_verifier(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_short_verifier_never_verifies_even_against_its_own_challenge() {
        let s256_of_a = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, b"a"));
        let challenge = Challenge::parse(Some(&s256_of_a), Some("s256"))
            .expect("a 43-character challenge is well formed")
            .expect("some");
        assert!(!challenge.verify("a"));
        let plain = Challenge {
            value: "a".into(),
            method: ChallengeMethod::Plain,
        };
        assert!(!plain.verify("a"));
    }

    #[test]
    fn state_is_short_and_alphanumeric() {
        let flow = FlowState::new(
            "wechat_qr",
            "http://localhost:3000".into(),
            None,
            Utc::now(),
        );
        let state = flow.state_param();
        assert!(state.len() <= 32 && state.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(FlowState::parse_state(&state), Some(flow.id));
        assert_eq!(FlowState::parse_state("not-a-state"), None);
        assert_eq!(
            FlowState::parse_state(&flow.id.to_string()),
            None,
            "only the short form"
        );
    }
}
