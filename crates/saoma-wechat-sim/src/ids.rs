//! Identifiers: deterministic openids/unionids, random tickets, codes and tokens.

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use rand::{distributions::Alphanumeric, Rng};
use ring::digest::{digest, SHA256};

/// openid of `persona` as seen by `appid`: stable across restarts, so a client's stored
/// identities keep matching, and different per app, as WeChat's are.
pub fn openid(appid: &str, persona: &str) -> String {
    derived("openid", appid, persona)
}

/// unionid of `persona` across every app bound to `open_platform`.
pub fn unionid(open_platform: &str, persona: &str) -> String {
    derived("unionid", open_platform, persona)
}

/// Real ids are 28 chars of base64url starting with "o" (e.g. `oLVPpjqs9BhvzwPj5A-vTYAX3GLc`);
/// the domain tag keeps openids and unionids apart even for equal inputs.
fn derived(tag: &str, scope: &str, persona: &str) -> String {
    let hash = digest(&SHA256, format!("{tag}:{scope}:{persona}").as_bytes());
    let encoded = URL_SAFE_NO_PAD.encode(hash.as_ref());
    format!("o{}", &encoded[..27])
}

/// A 公众号's original id (原始ID), the `ToUserName` of its pushes: `gh_` and 12 hex digits.
pub fn original_id(appid: &str) -> String {
    let hash = digest(&SHA256, format!("gh:{appid}").as_bytes());
    let hex: String = hash.as_ref()[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("gh_{hex}")
}

/// Random decimal digits, for push nonces.
pub fn digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// Random alphanumerics, for tickets, codes and tokens.
pub fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A mini-program session key: 16 random bytes in standard base64, like WeChat's
/// `tiihtNczf5v6AKRyjwEUhQ==`.
pub fn session_key() -> String {
    STANDARD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_28_chars_starting_with_o_and_stable() {
        let id = openid("wx_sim_website", "xiaoming");
        assert_eq!(id.len(), 28);
        assert!(id.starts_with('o'));
        assert_eq!(id, openid("wx_sim_website", "xiaoming"));
        assert_ne!(id, openid("wx_sim_website_b", "xiaoming"));
        let union = unionid("sim-open-platform", "xiaoming");
        assert_eq!(union.len(), 28);
        assert_ne!(union, openid("sim-open-platform", "xiaoming"));
    }

    #[test]
    fn random_is_alphanumeric() {
        let value = random(32);
        assert_eq!(value.len(), 32);
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
