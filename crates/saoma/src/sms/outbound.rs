//! What the gateway clients share: an HTTP client with timeouts, the one-retry rule, and the
//! hashing their request signatures are made of.

use std::future::Future;
use std::time::Duration;

use ring::{digest, hmac};

use super::SmsError;

/// One attempt's outcome: transient faults (a connection error, a 5xx, the gateway's own
/// "busy, try again") are worth one more try; anything else is the answer.
pub(super) enum Attempt {
    Done(Result<(), SmsError>),
    Transient(SmsError),
}

/// A pause before the retry, so a gateway that was busy has a moment to recover.
const RETRY_DELAY: Duration = Duration::from_millis(300);

/// Runs `attempt`, and once more after a transient fault. Each attempt builds and signs a
/// fresh request: gateways refuse a reused nonce or a stale timestamp.
pub(super) async fn with_one_retry<F, Fut>(gateway: &str, mut attempt: F) -> Result<(), SmsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    match attempt().await {
        Attempt::Done(result) => result,
        Attempt::Transient(error) => {
            tracing::warn!(gateway, %error, "SMS gateway fault; retrying once");
            tokio::time::sleep(RETRY_DELAY).await;
            match attempt().await {
                Attempt::Done(result) => result,
                Attempt::Transient(error) => Err(error),
            }
        }
    }
}

/// An HTTP client that gives up after `timeout` (connecting included).
pub(super) fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()?)
}

/// A transport failure (no answer, or no complete answer): transient. The URL is left out of
/// the message: Alibaba's query carries the number and the code.
pub(super) fn transport_fault(gateway: &str, error: reqwest::Error) -> Attempt {
    let what = if error.is_timeout() {
        "timed out"
    } else {
        "could not be reached"
    };
    let error = error.without_url();
    Attempt::Transient(SmsError::Unavailable(format!("{gateway} {what}: {error}")))
}

/// An answer that is not the gateway's JSON: a proxy's error page, most likely. Worth a retry
/// only when it came with a 5xx.
pub(super) fn unreadable(gateway: &str, status: reqwest::StatusCode) -> Attempt {
    let error = SmsError::Unavailable(format!(
        "{gateway} answered {status} with an unreadable body"
    ));
    if status.is_server_error() {
        Attempt::Transient(error)
    } else {
        Attempt::Done(Err(error))
    }
}

/// `scheme://host[:port]` of `base_url` without a trailing slash, and the `host[:port]` the
/// request's Host header will carry (signed by both gateways).
pub(super) fn endpoint(base_url: &str) -> anyhow::Result<(String, String)> {
    let url = url::Url::parse(base_url)
        .map_err(|error| anyhow::anyhow!("base_url {base_url:?} is not a URL: {error}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("base_url {base_url:?} has no host"))?;
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((format!("{}/", base_url.trim_end_matches('/')), host))
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

pub(super) use crate::hex::encode as hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_body_hashes_as_alibaba_documents() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn endpoints_keep_explicit_ports_for_the_host_header() {
        assert_eq!(
            endpoint("http://127.0.0.1:9999/wechat-sim/aliyun-sms/").unwrap(),
            (
                "http://127.0.0.1:9999/wechat-sim/aliyun-sms/".to_owned(),
                "127.0.0.1:9999".to_owned()
            )
        );
        assert_eq!(
            endpoint("https://dysmsapi.aliyuncs.com").unwrap().1,
            "dysmsapi.aliyuncs.com"
        );
    }
}
