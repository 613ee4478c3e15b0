//! A local simulator of WeChat login: website QR login (网站应用, `snsapi_login`), a 公众号's
//! web authorization in WeChat's browser (`snsapi_base` / `snsapi_userinfo`), mini-program
//! login and phone numbers, mobile-app (native SDK) login, mini-program codes that log a
//! website in, follow-the-公众号 login with its event pushes, and shared app access tokens. It keeps WeChat's quirks
//! (text/plain JSON errors, cancel without code, single-use expiring codes, unionids shared
//! across one open platform, refusals as pages that never redirect) and has switchable faults
//! (busy, duplicate redirect, expired codes).
//!
//! Routes, relative to the mount point; every URL the simulator emits starts with
//! [`SimConfig::public_url`]. WeChat's (open.weixin.qq.com):
//! - `GET /connect/qrconnect?appid&redirect_uri&response_type=code&scope=snsapi_login&state`
//!   — the QR login page (website apps only; any other kind is "Scope 参数错误或没有 Scope
//!   权限"); `GET /connect/l/qrconnect?uuid=` — its poll (JavaScript setting
//!   `window.wx_errcode`: 408 waiting, 404 scanned, 405 confirmed with `window.wx_code`,
//!   403 cancelled, 402 expired).
//! - `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state` — a
//!   公众号's authorization page in WeChat's browser: persona radios, `#allow`, `#deny`;
//!   refusals are HTTP 200 pages (参数错误; 10005 for a non-公众号 appid; 10003 for a
//!   redirect_uri off the callback host; "scope 参数错误…"). `POST
//!   /connect/oauth2/authorize/confirm` (form: appid, redirect_uri, scope, state, persona,
//!   `decision=allow|deny`) → 302 to `redirect_uri?code=&state=` (allow, 5-minute code) or
//!   `redirect_uri?state=` (deny).
//!
//! WeChat's API (api.weixin.qq.com), always HTTP 200 `text/plain` JSON, errors
//! `{"errcode":N,"errmsg":".."}`:
//! - `GET /sns/oauth2/access_token` (website, 公众号 and mobile-app codes; `scope` is the
//!   code's), `/sns/oauth2/refresh_token`, `/sns/auth`, `/sns/userinfo` (48001 for a
//!   `snsapi_base` token).
//! - `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` →
//!   `{session_key, openid, unionid?}` (mini-programs only).
//! - `GET /cgi-bin/token?grant_type=client_credential&appid&secret` →
//!   `{access_token, expires_in}` (公众号 and mini-programs): a new token per call, the
//!   previous one valid 300 s more (then 40001); [`SimConfig::token_daily_quota`] calls a day
//!   per app (45009).
//! - `POST /cgi-bin/stable_token` JSON `{grant_type, appid, secret, force_refresh}` (a form
//!   body is 47001): the same token while valid, renewed in its last 300 s (old and new
//!   overlap), `expires_in` = remaining life; `force_refresh` kills the current one, at most
//!   once per 30 s (45011) and 20 a day (45009). Neither family retires the other's tokens.
//! - `POST /wxa/getwxacodeunlimit?access_token=` (mini-program token; 公众号's: 48001) → HTTP 200
//!   `image/jpeg` (PNG bytes) of a QR code of `/sim/mini/open?appid&page&scene`; errors as
//!   `application/json`: 47001 body, 40129 scene, 41030 page, 40097 width/env_version, 45009.
//! - `POST /cgi-bin/qrcode/create?access_token=` (公众号 token) `QR_SCENE` / `QR_STR_SCENE` →
//!   `{ticket, expire_seconds, url}`, `url` = `/sim/mp/scan/<ticket>`; `GET
//!   /cgi-bin/showqrcode?ticket=` → its PNG (404 unknown/expired).
//! - `GET /cgi-bin/user/info?access_token&openid&lang` → a follower's `{subscribe:1, …}`,
//!   `{subscribe:0, openid}` otherwise, 40003 for an openid not of the 公众号.
//! - `POST /wxa/business/getuserphonenumber?access_token=` with `{"code":".."}` →
//!   `{errcode:0, errmsg:"ok", phone_info:{phoneNumber, purePhoneNumber, countryCode,
//!   watermark:{timestamp, appid}}}`.
//!
//! Alibaba Cloud SMS (dysmsapi.aliyuncs.com) and Tencent Cloud SMS (sms.tencentcloudapi.com),
//! with the demo accounts of [`SmsAccounts`]:
//! - `POST /aliyun-sms/` — `SendSms` 2017-05-25, V3 (`Authorization: ACS3-HMAC-SHA256 …`) or
//!   V2 (`Signature` parameter) signed; Alibaba's gateway errors (4xx/5xx) and `isv.*` business
//!   errors (HTTP 200); flow control 1/min, 5/h, 10/day per signature and number.
//! - `POST /tencent-sms/` — `SendSms` 2021-01-11, TC3-HMAC-SHA256 signed; `Response.Error` for
//!   the request, `SendStatusSet[].Code` per number (30 s and daily limits).
//!
//! The simulator's own:
//! - `GET /sim/qr/<uuid>.png` — the QR code, encoding `<public_url>/sim/phone/<uuid>`.
//! - `GET /sim/phone/<uuid>`, `POST …/confirm` (form `persona=<id>`), `POST …/cancel` — the
//!   simulated phone.
//! - `POST /sim/mini/login` (`wx.login()`), `POST /sim/mini/phone` (getPhoneNumber button),
//!   `POST /sim/app/authorize` (mobile SDK): JSON `{"appid","persona"}` → `{"code"}`, or 400
//!   `{"error"}`.
//! - `GET /sim/avatar/<persona>/<0|46|64|96|132>` — headimgurl targets.
//! - `GET /sim/mini/open?appid&page&scene` — the phone opening the mini-program from its
//!   code: POSTs `{server}/wechat_mini/qr/scan` `{"scene"}` and shows personas; `POST
//!   /sim/mini/open/confirm` (form appid, scene, persona) POSTs `…/qr/confirm`
//!   `{"scene","code"}` with a fresh `wx.login()` code; `POST /sim/mini/open/cancel` POSTs
//!   `…/qr/cancel`. With `Accept: application/json`: `{"status", "body"}` (the server's).
//!   `PUT /sim/apps/<appid>/server` `{"server_url"}` sets a mini-program's server.
//! - `GET /sim/mp/scan/<ticket>` — the phone scanning a 公众号 code (关注公众号 / 进入公众号);
//!   `POST …/confirm` (form persona) follows and pushes `subscribe` (`qrscene_<scene>`), or
//!   pushes `SCAN` for a follower; JSON `{event, openid, pushed, attempts, status, body}`.
//!   Pushes are signed (`signature`, and `msg_signature` with AES in safe mode), wait
//!   [`SimConfig::push_timeout_ms`] per attempt and are retried 3 times unless answered
//!   `success`, empty, or with a passive reply. `PUT /sim/apps/<appid>/push`
//!   ([`PushConfig`]), `PUT /sim/apps/<appid>/followers/<persona>` `{"following"}`, `GET
//!   /sim/mp/pushes?appid=` (every attempt).
//! - `GET /sim/tokens` (`{appid: {token_fetches, stable_fetches, forced_refreshes}}`,
//!   `?appid=` for one), `POST /sim/tokens/<appid>/expire` (its tokens answer 42001).
//! - `GET /sim/sms` (the SMS overview), `GET /sim/sms/phone/<number>` (a phone's inbox page,
//!   auto-refreshing), `GET /sim/sms/inbox/<number>` (`{phone, messages}`, newest first),
//!   `POST /sim/sms/reset` (empty the inboxes and the limits' counts).
//! - `GET|PUT /sim/faults` ([`Faults`] as JSON: also `wxacode_rate_limit`, `duplicate_push`,
//!   `bad_push_signature`; SMS faults under `sms`), `GET /sim` (index), `GET /sim/echo-callback`
//!   (a stand-in client callback that shows its query).

mod config;
mod domain;
mod faults;
mod http;
mod ids;
mod image;
pub mod push;
mod simulator;
mod sms;

pub use config::sms::{AliyunAccount, SmsAccounts, SmsTemplate, TencentAccount};
pub use config::{AppKind, Persona, PushConfig, PushMode, SimApp, SimConfig};
pub use domain::app_tokens::TokenStats;
pub use faults::{Faults, SmsFaults};
pub use push::PushAttempt;
pub use simulator::Simulator;
