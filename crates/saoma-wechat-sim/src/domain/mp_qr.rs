//! A 公众号's temporary parametric QR codes (`cgi-bin/qrcode/create`), who follows it, what
//! scanning such a code does (follow, or an event for a follower) and `cgi-bin/user/info`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::oauth::required;
use super::{State, WxError};
use crate::config::{AppKind, SimApp, SimConfig};
use crate::ids;

/// `expire_seconds` when the request has none, and the most it may ask for (30 days).
const DEFAULT_EXPIRY: u64 = 60;
const MAX_EXPIRY: u64 = 2_592_000;
const SCENE_STR_MAX: usize = 64;

#[derive(Debug, Deserialize)]
pub struct QrCreateRequest {
    pub expire_seconds: Option<u64>,
    #[serde(default)]
    pub action_name: String,
    pub action_info: Option<ActionInfo>,
}

#[derive(Debug, Deserialize)]
pub struct ActionInfo {
    pub scene: Option<SceneInfo>,
}

#[derive(Debug, Deserialize)]
pub struct SceneInfo {
    pub scene_id: Option<u32>,
    pub scene_str: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QrCreated {
    pub ticket: String,
    pub expire_seconds: u64,
    /// The QR code's content.
    pub url: String,
}

/// What a code carries: `QR_SCENE`'s number or `QR_STR_SCENE`'s string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrScene {
    Id(u32),
    Str(String),
}

impl QrScene {
    /// The scene as events carry it (an id in decimal).
    pub fn event_key(&self) -> String {
        match self {
            QrScene::Id(id) => id.to_string(),
            QrScene::Str(text) => text.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct QrTicket {
    appid: String,
    scene: QrScene,
    expires: Instant,
}

/// A persona following a 公众号: since when and through which code.
#[derive(Debug, Clone)]
struct Follow {
    subscribe_time: u64,
    scene: Option<QrScene>,
}

#[derive(Debug, Default)]
pub struct OfficialAccounts {
    tickets: HashMap<String, QrTicket>,
    /// The tickets by when they expire (each code has its own `expire_seconds`), so that a
    /// new code forgets the expired ones without a sweep of every live ticket.
    expiring: BTreeSet<(Instant, String)>,
    /// (appid, persona) → follow.
    followers: HashMap<(String, String), Follow>,
}

/// The event a scan makes WeChat push to the 公众号.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEvent {
    pub appid: String,
    pub openid: String,
    /// `subscribe` (it followed just now) or `SCAN` (it already followed).
    pub event: &'static str,
    pub event_key: String,
    pub ticket: String,
}

/// The phone scanned a code that is unknown or past its `expire_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketExpired;

impl OfficialAccounts {
    /// Keeps `code` under `ticket` until it expires, forgetting those expired at `now`.
    fn remember(&mut self, ticket: String, code: QrTicket, now: Instant) {
        while let Some(first) = self.expiring.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, expired)) = self.expiring.pop_first() {
                self.tickets.remove(&expired);
            }
        }
        self.expiring.insert((code.expires, ticket.clone()));
        let replaced = self.tickets.insert(ticket, code);
        // A ticket met twice would be forgotten at its first code's expiry.
        debug_assert!(replaced.is_none(), "a ticket was handed out twice");
    }

    /// The live ticket of `appid`'s code for `scene` (what a phone's camera reads off the
    /// screen, for tests that do not decode the picture).
    pub fn ticket_for_scene(&self, appid: &str, scene: &str, now: Instant) -> Option<&str> {
        self.tickets
            .iter()
            .find(|(_, code)| {
                code.appid == appid && now < code.expires && code.scene.event_key() == scene
            })
            .map(|(ticket, _)| ticket.as_str())
    }

    /// The app a live ticket belongs to.
    pub fn ticket_appid(&self, ticket: &str, now: Instant) -> Result<&str, TicketExpired> {
        match self.tickets.get(ticket) {
            Some(code) if now < code.expires => Ok(&code.appid),
            _ => Err(TicketExpired),
        }
    }

    pub fn follows(&self, appid: &str, persona: &str) -> bool {
        self.followers
            .contains_key(&(appid.to_owned(), persona.to_owned()))
    }

    /// A tester's follow or unfollow, without any push.
    pub fn set_following(&mut self, appid: &str, persona: &str, following: bool, unix: u64) {
        let key = (appid.to_owned(), persona.to_owned());
        if following {
            self.followers.entry(key).or_insert(Follow {
                subscribe_time: unix,
                scene: None,
            });
        } else {
            self.followers.remove(&key);
        }
    }

    /// `persona` scanned `ticket`: follows if it did not (`subscribe`, key `qrscene_<scene>`),
    /// else `SCAN` with the bare scene.
    pub fn scan(
        &mut self,
        ticket: &str,
        persona: &str,
        now: Instant,
        unix: u64,
    ) -> Result<ScanEvent, TicketExpired> {
        let code = match self.tickets.get(ticket) {
            Some(code) if now < code.expires => code.clone(),
            _ => return Err(TicketExpired),
        };
        let key = (code.appid.clone(), persona.to_owned());
        let scene_key = code.scene.event_key();
        let (event, event_key) = match self.followers.entry(key) {
            Entry::Occupied(_) => ("SCAN", scene_key),
            Entry::Vacant(vacant) => {
                vacant.insert(Follow {
                    subscribe_time: unix,
                    scene: Some(code.scene),
                });
                ("subscribe", format!("qrscene_{scene_key}"))
            }
        };
        Ok(ScanEvent {
            openid: ids::openid(&code.appid, persona),
            appid: code.appid,
            event,
            event_key,
            ticket: ticket.to_owned(),
        })
    }
}

/// The 公众号 an app access token speaks for; other apps' tokens are 48001.
fn official_account<'c>(
    config: &'c SimConfig,
    state: &State,
    access_token: Option<&str>,
    now: Instant,
) -> Result<&'c SimApp, WxError> {
    let access_token = access_token
        .filter(|token| !token.is_empty())
        .ok_or(WxError::MissingAccessToken)?;
    let appid = state.app_tokens.check(access_token, now)?;
    let app = config.app(appid).ok_or(WxError::InvalidAppid)?;
    if app.kind != AppKind::OfficialAccount {
        return Err(WxError::ApiUnauthorized);
    }
    Ok(app)
}

/// `POST cgi-bin/qrcode/create`: temporary codes only (`QR_SCENE`, `QR_STR_SCENE`); the
/// `url` is `scan_url(ticket)`, the QR content the phone opens.
pub fn create_qrcode(
    config: &SimConfig,
    state: &mut State,
    access_token: Option<&str>,
    body: &[u8],
    now: Instant,
    scan_url: impl Fn(&str) -> String,
) -> Result<QrCreated, WxError> {
    let app = official_account(config, state, access_token, now)?;
    let request: QrCreateRequest = serde_json::from_slice(body).map_err(|_| WxError::DataFormat)?;
    let scene_info = request
        .action_info
        .and_then(|info| info.scene)
        .ok_or(WxError::InvalidArgs)?;
    let scene = match (request.action_name.as_str(), scene_info) {
        (
            "QR_SCENE",
            SceneInfo {
                scene_id: Some(id), ..
            },
        ) if id != 0 => QrScene::Id(id),
        (
            "QR_STR_SCENE",
            SceneInfo {
                scene_str: Some(text),
                ..
            },
        ) if (1..=SCENE_STR_MAX).contains(&text.chars().count()) => QrScene::Str(text),
        _ => return Err(WxError::InvalidArgs),
    };
    let expire_seconds = request.expire_seconds.unwrap_or(DEFAULT_EXPIRY);
    if !(1..=MAX_EXPIRY).contains(&expire_seconds) {
        return Err(WxError::InvalidArgs);
    }
    let ticket = format!("gQ{}", ids::random(62));
    let code = QrTicket {
        appid: app.appid.clone(),
        scene,
        expires: now + Duration::from_secs(expire_seconds),
    };
    state.official_accounts.remember(ticket.clone(), code, now);
    Ok(QrCreated {
        url: scan_url(&ticket),
        ticket,
        expire_seconds,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct UserInfoParams {
    pub access_token: Option<String>,
    pub openid: Option<String>,
}

/// `cgi-bin/user/info` of a follower; since 2021 the profile fields come back empty.
#[derive(Debug, Serialize)]
pub struct Subscriber {
    pub subscribe: u8,
    pub openid: String,
    pub language: &'static str,
    pub subscribe_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    pub remark: &'static str,
    pub groupid: u32,
    pub tagid_list: [u32; 0],
    pub subscribe_scene: &'static str,
    pub qr_scene: u32,
    pub qr_scene_str: String,
    pub nickname: &'static str,
    pub sex: u8,
    pub headimgurl: &'static str,
}

/// A follower's [`Subscriber`], or `{subscribe: 0, openid}` for anyone else.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UserInfoAnswer {
    Follower(Box<Subscriber>),
    NotFollowing { subscribe: u8, openid: String },
}

/// `GET cgi-bin/user/info`: an openid of none of the 公众号's users is 40003.
pub fn user_info(
    config: &SimConfig,
    state: &State,
    params: &UserInfoParams,
    now: Instant,
) -> Result<UserInfoAnswer, WxError> {
    let app = official_account(config, state, params.access_token.as_deref(), now)?;
    let openid = required(&params.openid, WxError::InvalidOpenid)?;
    let persona = config
        .personas
        .iter()
        .find(|persona| ids::openid(&app.appid, &persona.id) == openid)
        .ok_or(WxError::InvalidOpenid)?;
    let key = (app.appid.clone(), persona.id.clone());
    let Some(follow) = state.official_accounts.followers.get(&key) else {
        return Ok(UserInfoAnswer::NotFollowing {
            subscribe: 0,
            openid: openid.to_owned(),
        });
    };
    let (qr_scene, qr_scene_str) = match &follow.scene {
        Some(QrScene::Id(id)) => (*id, String::new()),
        Some(QrScene::Str(text)) => (0, text.clone()),
        None => (0, String::new()),
    };
    Ok(UserInfoAnswer::Follower(Box::new(Subscriber {
        subscribe: 1,
        openid: openid.to_owned(),
        language: "zh_CN",
        subscribe_time: follow.subscribe_time,
        unionid: super::oauth::unionid(app, &persona.id),
        remark: "",
        groupid: 0,
        tagid_list: [],
        subscribe_scene: "ADD_SCENE_QR_CODE",
        qr_scene,
        qr_scene_str,
        nickname: "",
        sex: 0,
        headimgurl: "",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(expires: Instant) -> QrTicket {
        QrTicket {
            appid: "wxmp".into(),
            scene: QrScene::Id(1),
            expires,
        }
    }

    /// A new code forgets the codes expired by then, whatever order their lifetimes put them
    /// in, and keeps the live ones.
    #[test]
    fn a_new_code_forgets_the_expired_ones() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut accounts = OfficialAccounts::default();
        accounts.remember("long".into(), code(start + 600 * second), start);
        accounts.remember("short".into(), code(start + 60 * second), start);
        accounts.remember("mid".into(), code(start + 120 * second), start);
        accounts.remember(
            "next".into(),
            code(start + 900 * second),
            start + 120 * second,
        );
        let live: BTreeSet<&str> = accounts.tickets.keys().map(String::as_str).collect();
        assert_eq!(live, BTreeSet::from(["long", "next"]));
        assert_eq!(accounts.expiring.len(), 2);
        assert!(accounts.ticket_appid("long", start + 120 * second).is_ok());
    }
}
