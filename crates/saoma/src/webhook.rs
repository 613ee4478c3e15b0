//! GoTrue's HTTP hooks (Send SMS, Send Email): a JSON POST signed per Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key,
//! "id.timestamp.body")>`), to an endpoint that must be HTTPS unless it is on this machine.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::hmac;

/// The keys a hook's requests are signed with, from its `v1,whsec_<base64>` secrets.
#[derive(Clone)]
pub struct WebhookSigner {
    keys: Vec<Vec<u8>>,
}

impl WebhookSigner {
    /// `v1,whsec_<base64>` entries separated by `|`; `setting` names them in errors
    /// (`sms.hook.secrets`). Asymmetric `v1a,` secrets are refused: GoTrue accepts them but
    /// cannot sign with them.
    pub fn from_secrets(secrets: &str, setting: &str, env_name: &str) -> anyhow::Result<Self> {
        let keys = secrets
            .split('|')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .enumerate()
            .map(|(index, secret)| {
                let encoded = secret.strip_prefix("v1,whsec_").ok_or_else(|| {
                    anyhow::anyhow!(
                        "{setting} entry {} is not of the form v1,whsec_<base64>",
                        index + 1
                    )
                })?;
                BASE64.decode(encoded).map_err(|_| {
                    anyhow::anyhow!(
                        "{setting} entry {}: the part after whsec_ is not base64",
                        index + 1
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if keys.is_empty() {
            anyhow::bail!("the hook needs {setting} ({env_name}): v1,whsec_<base64>");
        }
        Ok(Self { keys })
    }

    /// The three headers of one request: a fresh id, now, and one signature per key.
    pub fn headers(&self, body: &str) -> [(&'static str, String); 3] {
        let id = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self.signature(&id, timestamp, body);
        [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ]
    }

    /// The `webhook-signature` header: one `v1,<base64>` per key, joined with ", ".
    pub fn signature(&self, id: &str, timestamp: i64, body: &str) -> String {
        let signed = format!("{id}.{timestamp}.{body}");
        self.keys
            .iter()
            .map(|key| {
                let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), signed.as_bytes());
                format!("v1,{}", BASE64.encode(tag.as_ref()))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[cfg(test)]
    pub(crate) fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }
}

/// HTTPS, or plain HTTP to this machine (GoTrue's rule); `setting` names the URI in errors.
pub fn check_uri(uri: &str, setting: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(uri)
        .map_err(|error| anyhow::anyhow!("{setting} {uri:?} is not a URL: {error}"))?;
    let local = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "host.docker.internal")
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => anyhow::bail!(
            "{setting} must be https (plain http only for localhost, 127.0.0.1, ::1 or host.docker.internal)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secrets: &str) -> anyhow::Result<WebhookSigner> {
        WebhookSigner::from_secrets(secrets, "x.hook.secrets", "X")
    }

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The Standard Webhooks reference libraries' test vector.
        let signer = signer("v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signer.signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_symmetric_standard_webhooks_secrets() {
        assert_eq!(
            signer("v1,whsec_YWJj | v1,whsec_ZGVm").unwrap().keys(),
            [b"abc".to_vec(), b"def".to_vec()]
        );
        let missing = signer("").err().unwrap().to_string();
        assert!(
            missing.contains("x.hook.secrets") && missing.contains('X'),
            "{missing}"
        );
        assert!(signer("whsec_YWJj").is_err());
        assert!(signer("v1a,whpk_abc:whsk_def").is_err());
        assert!(signer("v1,whsec_not base64!").is_err());
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(check_uri("https://hooks.example.com/sms", "u").is_ok());
        assert!(check_uri("http://localhost:3000/sms", "u").is_ok());
        assert!(check_uri("http://127.0.0.1/sms", "u").is_ok());
        let refused = check_uri("http://hooks.example.com/sms", "sms.hook.uri");
        assert!(refused.err().unwrap().to_string().contains("sms.hook.uri"));
    }
}
