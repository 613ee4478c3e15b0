//! WeChat app access tokens shared by every node through the database.
//!
//! Each node used to fetch and cache its own `cgi-bin/token`, and each fetch retires the
//! previous token after five minutes: two nodes kept retiring each other's tokens (40001) and
//! spent the app's daily quota. Now a node takes the token from the database; when it is
//! missing or near its end, one node (the holder of the row's lease) fetches it from
//! `cgi-bin/stable_token` and stores it, and the others wait for the row to change. A token
//! WeChat rejects is fetched again once in normal mode, and only forced (which retires every
//! node's copy) when WeChat keeps handing out the rejected one, within WeChat's limits.
//!
//! Tokens are sealed (AES-256-GCM, a key derived from the JWT secret every node shares) so a
//! copy of the database does not hand out the app's credentials.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration as StdDuration,
};

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use ring::{
    aead::{self, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    hmac,
    rand::{SecureRandom, SystemRandom},
};

use crate::{
    clock::SharedClock,
    domain::app_token::AppToken,
    providers::ProviderError,
    store::{AppTokenStore, StoreError},
};

/// A token this close to its end is fetched again (WeChat's stable token is renewed in its
/// last five minutes, and a request may be in flight for a while).
const RENEW_BEFORE: Duration = Duration::minutes(5);
/// How long a node may take to fetch a token before another node may try.
const LEASE: Duration = Duration::seconds(15);
/// How long a node waits for another node's fetch: past the other's lease, so a node that
/// died holding it is replaced.
const WAIT_FOR_OTHERS: StdDuration = StdDuration::from_secs(17);
/// How often a node waiting for another's fetch looks at the row again.
const WAIT_STEP: StdDuration = StdDuration::from_millis(100);
/// WeChat refuses forced refreshes closer together than this.
const FORCE_GAP: Duration = Duration::seconds(30);
/// WeChat allows 20 forced refreshes a day; saoma spends at most this many, leaving the rest
/// to the operator (two forced refreshes end a leaked token).
const FORCES_PER_DAY: i32 = 10;

/// What a fetch from WeChat gives: the token and its remaining life in seconds.
pub struct Fetched {
    pub access_token: String,
    pub expires_in: i64,
}

/// The tokens of every WeChat app this node uses, shared with the other nodes.
pub struct AppTokenShelf {
    store: OnceLock<Arc<dyn AppTokenStore>>,
    clock: SharedClock,
    seal: LessSafeKey,
    random: SystemRandom,
    /// This node's name in leases.
    holder: String,
    /// The last token read or fetched per app, so most calls do not read the database.
    local: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    /// One request of this node at a time goes to the database for a token: the lease is
    /// per node, so concurrent requests of one node would all hold it and all fetch.
    obtaining: tokio::sync::Mutex<()>,
}

impl AppTokenShelf {
    pub fn new(clock: SharedClock, jwt_secret: &[u8]) -> Arc<Self> {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, jwt_secret),
            b"saoma: sealing provider app access tokens at rest",
        );
        let unbound = UnboundKey::new(&AES_256_GCM, derived.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC-SHA-256 gives 32 bytes, AES-256's key"));
        let random = SystemRandom::new();
        let mut id = [0u8; 8];
        let _ = random.fill(&mut id);
        Arc::new(Self {
            store: OnceLock::new(),
            clock,
            seal: LessSafeKey::new(unbound),
            random,
            holder: crate::hex::encode(&id),
            local: Mutex::new(HashMap::new()),
            obtaining: tokio::sync::Mutex::new(()),
        })
    }

    /// Connects the shelf to the database once it is open (providers are built before it,
    /// so a misconfigured provider is reported without waiting for the database).
    pub fn attach(&self, store: Arc<dyn AppTokenStore>) {
        let _ = self.store.set(store);
    }

    fn store(&self) -> Result<&Arc<dyn AppTokenStore>, ProviderError> {
        self.store
            .get()
            .ok_or_else(|| ProviderError::Unavailable("the database is not open yet".into()))
    }

    /// A token of `app_id` that WeChat should accept, fetched with `fetch(force)` only when
    /// no node has a fresh one.
    pub async fn token<F, Fut>(&self, app_id: &str, fetch: F) -> Result<String, ProviderError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, ProviderError>>,
    {
        if let Some(token) = self.fresh_local(app_id) {
            return Ok(token);
        }
        self.obtain(app_id, None, &fetch).await
    }

    /// WeChat rejected `rejected` (40001 not latest, 42001 expired): a token other than it.
    pub async fn replace<F, Fut>(
        &self,
        app_id: &str,
        rejected: &str,
        fetch: F,
    ) -> Result<String, ProviderError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, ProviderError>>,
    {
        self.forget_local(app_id, rejected);
        self.obtain(app_id, Some(rejected), &fetch).await
    }

    async fn obtain<F, Fut>(
        &self,
        app_id: &str,
        rejected: Option<&str>,
        fetch: &F,
    ) -> Result<String, ProviderError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, ProviderError>>,
    {
        let store = self.store()?;
        let _one_at_a_time = self.obtaining.lock().await;
        if rejected.is_none() {
            // Another request of this node may have fetched while this one waited.
            if let Some(token) = self.fresh_local(app_id) {
                return Ok(token);
            }
        }
        let mut waited = StdDuration::ZERO;
        loop {
            if let Some(token) = self.usable(&read(store, app_id).await?, rejected) {
                return Ok(token);
            }
            let now = self.clock.now();
            if lease(store, app_id, &self.holder, now, now + LEASE).await? {
                let fetched = self.fetch_holding(store, app_id, rejected, fetch).await;
                if fetched.is_err() {
                    let _ = store.release_app_token_lease(app_id, &self.holder).await;
                }
                return fetched;
            }
            // Another node is fetching: its token will be in the row. A node that died while
            // holding the lease gives it up when the lease runs out.
            if waited >= WAIT_FOR_OTHERS {
                return Err(ProviderError::Unavailable(
                    "another saoma node is fetching the WeChat access token and has not finished"
                        .into(),
                ));
            }
            tokio::time::sleep(WAIT_STEP).await;
            waited += WAIT_STEP;
        }
    }

    /// Holding the lease: look once more (a node may have stored a token since), then fetch.
    async fn fetch_holding<F, Fut>(
        &self,
        store: &Arc<dyn AppTokenStore>,
        app_id: &str,
        rejected: Option<&str>,
        fetch: &F,
    ) -> Result<String, ProviderError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, ProviderError>>,
    {
        let row = read(store, app_id).await?;
        if let Some(token) = self.usable(&row, rejected) {
            let _ = store.release_app_token_lease(app_id, &self.holder).await;
            return Ok(token);
        }
        let mut fetched = fetch(false).await?;
        let mut forced = false;
        if rejected == Some(fetched.access_token.as_str()) {
            // WeChat hands out the token it just refused: only a forced refresh replaces it.
            let now = self.clock.now();
            if !may_force(row.as_ref(), now) {
                return Err(ProviderError::Unavailable(
                    "WeChat rejects its own access token and saoma's forced refreshes for today are spent or too recent"
                        .into(),
                ));
            }
            fetched = fetch(true).await?;
            forced = true;
        }
        let now = self.clock.now();
        let expires_at = now + Duration::seconds(fetched.expires_in.max(0));
        let sealed = self.seal(app_id, &fetched.access_token)?;
        let stored = store
            .store_app_token(app_id, &self.holder, &sealed, expires_at, forced, now)
            .await
            .map_err(unavailable)?;
        if !stored {
            tracing::warn!(app_id, "the access token lease ran out while fetching");
        }
        self.remember(app_id, &fetched.access_token, expires_at);
        Ok(fetched.access_token)
    }

    /// The row's token, when it is fresh and not the one WeChat rejected.
    fn usable(&self, row: &Option<AppToken>, rejected: Option<&str>) -> Option<String> {
        let row = row.as_ref()?;
        let expires_at = row.expires_at?;
        if self.clock.now() + RENEW_BEFORE >= expires_at {
            return None;
        }
        let token = self.open(&row.app_id, row.access_token.as_deref()?)?;
        if rejected == Some(token.as_str()) {
            return None;
        }
        self.remember(&row.app_id, &token, expires_at);
        Some(token)
    }

    fn fresh_local(&self, app_id: &str) -> Option<String> {
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let (token, expires_at) = local.get(app_id)?;
        (self.clock.now() + RENEW_BEFORE < *expires_at).then(|| token.clone())
    }

    fn remember(&self, app_id: &str, token: &str, expires_at: DateTime<Utc>) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.insert(app_id.to_owned(), (token.to_owned(), expires_at));
    }

    fn forget_local(&self, app_id: &str, rejected: &str) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if local
            .get(app_id)
            .is_some_and(|(token, _)| token == rejected)
        {
            local.remove(app_id);
        }
    }

    /// Sealed for `app_id` (its associated data): a row copied onto another app's does not
    /// open.
    fn seal(&self, app_id: &str, token: &str) -> Result<String, ProviderError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| ProviderError::Unavailable("no randomness for sealing".into()))?;
        let mut sealed = token.as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(app_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| ProviderError::Unavailable("sealing the access token failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// The token in a sealed value; `None` when it was sealed with another key (the JWT
    /// secret changed): then it is fetched again.
    fn open(&self, app_id: &str, sealed: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(app_id.as_bytes()), &mut buffer)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// Whether saoma may force a refresh now: WeChat's 30-second gap and saoma's daily share.
fn may_force(row: Option<&AppToken>, now: DateTime<Utc>) -> bool {
    let Some(forced_at) = row.and_then(|row| row.forced_at) else {
        return true;
    };
    if now < forced_at + FORCE_GAP {
        return false;
    }
    let forced_today = row.map_or(0, |row| row.forced_today);
    forced_at.date_naive() != now.date_naive() || forced_today < FORCES_PER_DAY
}

async fn read(
    store: &Arc<dyn AppTokenStore>,
    app_id: &str,
) -> Result<Option<AppToken>, ProviderError> {
    store.app_token(app_id).await.map_err(unavailable)
}

async fn lease(
    store: &Arc<dyn AppTokenStore>,
    app_id: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, ProviderError> {
    store
        .lease_app_token(app_id, holder, now, until)
        .await
        .map_err(unavailable)
}

fn unavailable(err: StoreError) -> ProviderError {
    ProviderError::Unavailable(format!("the shared access token could not be read: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn shelf() -> Arc<AppTokenShelf> {
        AppTokenShelf::new(ManualClock::new(Utc::now()), b"jwt secret")
    }

    #[test]
    fn sealed_tokens_open_only_with_the_same_secret_for_the_same_app() {
        let one = shelf();
        let sealed = one.seal("wx1", "ACCESS_TOKEN").expect("seal");
        assert!(!sealed.contains("ACCESS_TOKEN"));
        assert_eq!(one.open("wx1", &sealed).as_deref(), Some("ACCESS_TOKEN"));
        let again = one.seal("wx1", "ACCESS_TOKEN").expect("seal");
        assert_ne!(again, sealed, "fresh nonce");
        assert_eq!(
            one.open("wx2", &sealed),
            None,
            "a row copied onto another app's"
        );
        let other = AppTokenShelf::new(ManualClock::new(Utc::now()), b"another secret");
        assert_eq!(other.open("wx1", &sealed), None);
        assert_eq!(one.open("wx1", "not base64 !"), None);
        assert_eq!(one.open("wx1", "AAAA"), None);
    }

    #[test]
    fn forcing_respects_the_gap_and_the_daily_share() {
        let now = Utc::now();
        let row = |forced_at: Option<DateTime<Utc>>, forced_today| AppToken {
            app_id: "wx".into(),
            access_token: None,
            expires_at: None,
            lease_holder: None,
            lease_until: None,
            forced_at,
            forced_today,
            updated_at: now,
        };
        assert!(may_force(None, now));
        assert!(may_force(Some(&row(None, 0)), now));
        assert!(!may_force(
            Some(&row(Some(now - Duration::seconds(10)), 1)),
            now
        ));
        assert!(may_force(
            Some(&row(Some(now - Duration::seconds(40)), 1)),
            now
        ));
        let spent = row(Some(now - Duration::seconds(40)), FORCES_PER_DAY);
        assert!(!may_force(Some(&spent), now));
        assert!(may_force(Some(&spent), now + Duration::days(1)));
    }
}
