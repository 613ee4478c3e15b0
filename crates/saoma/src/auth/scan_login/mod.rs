//! Website login by scanning a code with WeChat (`wechat_mini_qr`, `wechat_mp_qr`), for apps
//! without a verified website app.
//!
//! `/authorize` starts an ordinary flow and sends the browser to saoma's waiting page instead
//! of a provider. The page asks for a ticket ([`show`]): a row in the database with a public
//! `scene` (it travels in the code, so anyone who sees the screen knows it) and a browser
//! secret that only the page holds. WeChat tells saoma who scanned: the mini-program page
//! sends a `wx.login()` code ([`confirm`] resolves it at `jscode2session`), or the 公众号
//! pushes a signed event with the follower's openid. The page polls with its secret
//! ([`poll`]) and, once confirmed, continues to `/callback` with `scene.secret` as the code;
//! the callback redeems the ticket once ([`redeem`]) and finishes the flow as any provider's.
//! Every step is a row update, so any node may serve any of them.

mod codes;
mod push;

use codes::data_uri;
pub use codes::unlimited_code;
pub use push::{pushed, verify_push_url};

use chrono::{DateTime, Duration, Utc};
use rand::{distributions::Alphanumeric, Rng};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::{
    auth::{rate_limit, AuthError, AuthResult},
    domain::{
        flow::FlowState,
        refresh::hash_token,
        scan_ticket::{ScanStatus, ScanTicket, SCAN_TICKET_LIFETIME},
    },
    providers::{urlencode, ProviderUser, ScanLogin},
    state::AppState,
};

/// WeChat's `scene` holds at most 32 characters; 32 alphanumerics are 190 bits.
const SCENE_LENGTH: usize = 32;
const SECRET_LENGTH: usize = 43;
/// How soon the waiting page asks again.
pub const POLL_EVERY_MS: u64 = 1500;
/// Codes one flow may have drawn per five minutes: a page that expires and is refreshed
/// needs a few; a script minting codes to spend the app's WeChat quota gets no more.
const CODES_PER_FLOW: f64 = 5.0;
/// Codes drawn per hour per scan provider, below WeChat's quotas (mini-program codes
/// 5000/min, parametric QR codes 100000/day) and shared with nothing else saoma does.
const CODES_PER_HOUR: f64 = 3000.0;

/// The waiting page's address for a flow (what `/authorize` redirects to).
pub fn page_url(state: &AppState, flow: &FlowState) -> String {
    format!(
        "{}/scan_login?state={}",
        state.config.external_url.trim_end_matches('/'),
        flow.state_param()
    )
}

/// The provider whose code the waiting page for `state_param` shows; refused when the flow
/// cannot finish any more.
pub async fn waiting(state: &AppState, state_param: &str) -> AuthResult<&'static str> {
    let flow = open_flow(state, state_param, state.clock.now()).await?;
    Ok(scan_provider(state, &flow.provider_type)?.name())
}

/// A code on screen: what the waiting page (or an app drawing its own) shows and polls with.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub provider: &'static str,
    /// What the code carries; the mini-program page and the push name the ticket by it.
    pub scene: String,
    /// Only this browser's: it continues the login. Never shown in the code.
    pub secret: String,
    /// The code as a `data:` URI, ready for an `<img src>`.
    pub image: String,
    pub expires_in: i64,
    pub poll_interval_ms: u64,
}

/// A new ticket and its code for the flow `state_param` names.
pub async fn show(state: &AppState, state_param: &str) -> AuthResult<Shown> {
    let now = state.clock.now();
    let flow = open_flow(state, state_param, now).await?;
    let provider = scan_provider(state, &flow.provider_type)?;
    // Each code spends the app's WeChat quota, which its real logins need.
    let flow_budget = format!("scan_codes:{}", flow.id.simple());
    let app_budget = format!("scan_codes:{}", provider.name());
    if !rate_limit::take_budget(state, &flow_budget, CODES_PER_FLOW, 300.0).await?
        || !rate_limit::take_budget(state, &app_budget, CODES_PER_HOUR, 3600.0).await?
    {
        return Err(AuthError::RateLimited);
    }
    let scene = random_text(SCENE_LENGTH);
    let secret = random_text(SECRET_LENGTH);
    // Never past the flow's own end: a ticket outliving it could not finish.
    let flow_end = flow.created_at + crate::domain::flow::FLOW_LIFETIME;
    let until = (now + SCAN_TICKET_LIFETIME).min(flow_end);
    let ticket = ScanTicket::new(
        scene.clone(),
        provider.name(),
        flow.id,
        hash_token(&secret),
        now,
        until,
    );
    // Stored before WeChat draws the code, so a scan can never find it missing.
    state.store.create_scan_ticket(&ticket).await?;
    let lifetime = (until - now).to_std().unwrap_or_default();
    let code = provider.code(&scene, lifetime).await?;
    Ok(Shown {
        provider: provider.name(),
        scene,
        secret,
        image: data_uri(&code),
        expires_in: seconds(until - now),
        poll_interval_ms: POLL_EVERY_MS,
    })
}

/// What a waiting browser learns: where the ticket is, and where to go once confirmed. Never
/// who scanned.
#[derive(Debug, Serialize)]
pub struct Poll {
    pub status: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

pub async fn poll(state: &AppState, scene: &str, secret: &str) -> AuthResult<Poll> {
    let now = state.clock.now();
    let ticket = owned_ticket(state, scene, secret).await?;
    let expires_in = seconds(ticket.scannable_until() - now).max(0);
    let status = match ticket.status {
        ScanStatus::Confirmed if now < ticket.expires_at => {
            let code = format!("{scene}.{secret}");
            let location = format!(
                "{}/callback?code={}&state={}",
                state.config.external_url.trim_end_matches('/'),
                urlencode(&code),
                ticket.flow_id.simple()
            );
            return Ok(Poll {
                status: "confirmed",
                expires_in,
                location: Some(location),
            });
        }
        ScanStatus::Waiting | ScanStatus::Scanned | ScanStatus::Confirmed
            if ticket.is_expired(now) =>
        {
            "expired"
        }
        other => other.as_str(),
    };
    Ok(Poll {
        status,
        expires_in,
        location: None,
    })
}

/// What the phone shows before the person confirms.
#[derive(Debug, Serialize)]
pub struct Scanned {
    pub status: &'static str,
    /// The site asking, as the browser will land on it (its host), so the person can tell a
    /// login they started from one someone put in front of them.
    pub site: String,
    pub expires_in: i64,
}

/// The phone opened the code (the mini-program page is showing).
pub async fn scanned(state: &AppState, provider: &str, scene: &str) -> AuthResult<Scanned> {
    let now = state.clock.now();
    let ticket = scannable(state, provider, scene, now).await?;
    move_open(state, scene, ScanStatus::Scanned, None).await?;
    let flow = state.store.flow_by_id(ticket.flow_id).await?;
    let site = flow
        .and_then(|flow| url::Url::parse(&flow.redirect_to).ok())
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Scanned {
        status: "scanned",
        site,
        expires_in: seconds(ticket.scannable_until() - now).max(0),
    })
}

/// WeChat vouched for the person who scanned: `proof` is a `wx.login()` code, or the openid
/// of a push whose signature was checked. The first confirmation wins; a repeat of the same
/// person's (WeChat retrying a push) is answered as done.
pub async fn confirm(state: &AppState, provider: &str, scene: &str, proof: &str) -> AuthResult<()> {
    let now = state.clock.now();
    let ticket = match scannable(state, provider, scene, now).await {
        Err(AuthError::ScanTicketFinished) => {
            return already_confirmed(state, provider, scene, proof).await
        }
        other => other?,
    };
    let login = scan_provider(state, &ticket.provider)?;
    let person = login.person(proof).await?;
    let stored = serde_json::to_string(&person).map_err(AuthError::internal)?;
    move_open(state, scene, ScanStatus::Confirmed, Some(&stored)).await
}

/// A second confirmation of a finished ticket. For a push it is WeChat's retry (or its
/// duplicate) of the one that confirmed: same openid, nothing to do. A mini-program code
/// cannot be compared without spending it, so that repeat is refused.
async fn already_confirmed(
    state: &AppState,
    provider: &str,
    scene: &str,
    proof: &str,
) -> AuthResult<()> {
    let login = scan_provider(state, provider)?;
    if login.proof() != crate::providers::ScanProof::SignedPush {
        return Err(AuthError::ScanTicketFinished);
    }
    let ticket = state
        .store
        .scan_ticket(scene)
        .await?
        .ok_or(AuthError::ScanTicketNotFound)?;
    let same_person = ticket
        .person
        .as_deref()
        .and_then(|json| serde_json::from_str::<ProviderUser>(json).ok())
        .is_some_and(|person| {
            person.identity_data.get("openid").and_then(|o| o.as_str()) == Some(proof)
        });
    if same_person {
        Ok(())
    } else {
        Err(AuthError::ScanTicketFinished)
    }
}

/// The person said no on the phone.
pub async fn cancel(state: &AppState, provider: &str, scene: &str) -> AuthResult<()> {
    scannable(state, provider, scene, state.clock.now()).await?;
    move_open(state, scene, ScanStatus::Cancelled, None).await
}

/// The callback's code (`scene.secret`) for `flow` → the person, once. The ticket must be the
/// flow's own, confirmed, and its secret the one its page held.
pub async fn redeem(state: &AppState, flow: &FlowState, code: &str) -> AuthResult<ProviderUser> {
    let invalid =
        || AuthError::BadOAuthCallback("This login code is invalid or was already used".into());
    let (scene, secret) = code.split_once('.').ok_or_else(invalid)?;
    let ticket = state
        .store
        .scan_ticket(scene)
        .await?
        .filter(|ticket| ticket.flow_id == flow.id && ticket.provider == flow.provider_type)
        .filter(|ticket| secret_matches(ticket, secret))
        .ok_or_else(invalid)?;
    let now = state.clock.now();
    let moved = state
        .store
        .advance_scan_ticket(
            scene,
            &[ScanStatus::Confirmed],
            ScanStatus::Redeemed,
            None,
            now,
        )
        .await?;
    if !moved {
        return Err(invalid());
    }
    let person = ticket
        .person
        .as_deref()
        .ok_or_else(|| AuthError::internal("a confirmed scan ticket without its person"))?;
    serde_json::from_str(person).map_err(AuthError::internal)
}

/// The flow a waiting page belongs to, while it can still finish.
async fn open_flow(
    state: &AppState,
    state_param: &str,
    now: DateTime<Utc>,
) -> AuthResult<FlowState> {
    let id = FlowState::parse_state(state_param).ok_or(AuthError::BadOAuthState)?;
    let flow = state
        .store
        .flow_by_id(id)
        .await?
        .ok_or(AuthError::FlowStateNotFound)?;
    if flow.callback_expired(now) {
        return Err(AuthError::FlowStateExpired);
    }
    if flow.auth_code_issued_at.is_some() {
        return Err(AuthError::FlowStateAlreadyUsed);
    }
    Ok(flow)
}

fn scan_provider<'a>(
    state: &'a AppState,
    name: &str,
) -> AuthResult<&'a std::sync::Arc<dyn ScanLogin>> {
    state
        .providers
        .scan_login(name)
        .ok_or_else(|| AuthError::ProviderDisabled(name.to_owned()))
}

/// The ticket `scene` of `provider`, while a phone may still act on it.
async fn scannable(
    state: &AppState,
    provider: &str,
    scene: &str,
    now: DateTime<Utc>,
) -> AuthResult<ScanTicket> {
    scan_provider(state, provider)?;
    let ticket = state
        .store
        .scan_ticket(scene)
        .await?
        .filter(|ticket| ticket.provider == provider)
        .ok_or(AuthError::ScanTicketNotFound)?;
    match ticket.status {
        ScanStatus::Waiting | ScanStatus::Scanned if ticket.is_expired(now) => {
            Err(AuthError::ScanTicketExpired)
        }
        ScanStatus::Waiting | ScanStatus::Scanned => Ok(ticket),
        ScanStatus::Confirmed | ScanStatus::Cancelled | ScanStatus::Redeemed => {
            Err(AuthError::ScanTicketFinished)
        }
    }
}

/// Moves a ticket a phone may still act on (waiting or scanned) to `to`, recording `person`
/// if given; one statement, so of two requests (on any nodes) only one moves it.
async fn move_open(
    state: &AppState,
    scene: &str,
    to: ScanStatus,
    person: Option<&str>,
) -> AuthResult<()> {
    let now = state.clock.now();
    let open = [ScanStatus::Waiting, ScanStatus::Scanned];
    if state
        .store
        .advance_scan_ticket(scene, &open, to, person, now)
        .await?
    {
        return Ok(());
    }
    Err(refusal(state, scene, now).await)
}

/// Why a ticket did not move: another request moved it first, or time ran out.
async fn refusal(state: &AppState, scene: &str, now: DateTime<Utc>) -> AuthError {
    match state.store.scan_ticket(scene).await {
        Ok(Some(ticket)) if ticket.is_expired(now) => AuthError::ScanTicketExpired,
        Ok(Some(_)) => AuthError::ScanTicketFinished,
        Ok(None) => AuthError::ScanTicketNotFound,
        Err(err) => err.into(),
    }
}

/// The ticket `scene`, only for the browser holding its secret; anyone else learns nothing,
/// not even that it exists.
async fn owned_ticket(state: &AppState, scene: &str, secret: &str) -> AuthResult<ScanTicket> {
    state
        .store
        .scan_ticket(scene)
        .await?
        .filter(|ticket| secret_matches(ticket, secret))
        .ok_or(AuthError::ScanTicketNotFound)
}

fn secret_matches(ticket: &ScanTicket, secret: &str) -> bool {
    let given = hash_token(secret);
    given
        .as_bytes()
        .ct_eq(ticket.browser_secret_hash.as_bytes())
        .into()
}

fn random_text(length: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

fn seconds(duration: Duration) -> i64 {
    duration.num_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_fit_wechat_and_secrets_are_long() {
        let scene = random_text(SCENE_LENGTH);
        assert_eq!(scene.len(), 32);
        assert!(scene.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(scene, random_text(SCENE_LENGTH));
        assert_eq!(random_text(SECRET_LENGTH).len(), 43);
    }
}
