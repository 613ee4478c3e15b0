//! A local simulator of WeChat Open Platform website login (网站应用, `snsapi_login`): the QR
//! page and its poll, a "phone" page to scan into, and the `sns/*` API, with WeChat's quirks
//! (text/plain JSON errors, cancel without code, single-use expiring codes, unionids shared
//! across one open platform) and switchable faults (busy, duplicate redirect, expired codes).
//!
//! Routes, relative to the mount point; every URL the simulator emits starts with
//! [`SimConfig::public_url`]:
//! - `GET /connect/qrconnect` — the QR login page; `GET /connect/l/qrconnect?uuid=` — its poll
//!   (JavaScript setting `window.wx_errcode`: 408 waiting, 404 scanned, 405 confirmed with
//!   `window.wx_code`, 403 cancelled, 402 expired).
//! - `GET /sns/oauth2/access_token`, `/sns/oauth2/refresh_token`, `/sns/auth`, `/sns/userinfo`
//!   — WeChat's API, always HTTP 200 `text/plain` JSON.
//! - `GET /sim/qr/<uuid>.png` — the QR code, encoding `<public_url>/sim/phone/<uuid>`.
//! - `GET /sim/phone/<uuid>`, `POST …/confirm` (form `persona=<id>`), `POST …/cancel` — the
//!   simulated phone.
//! - `GET /sim/avatar/<persona>/<0|46|64|96|132>` — headimgurl targets.
//! - `GET|PUT /sim/faults` ([`Faults`] as JSON), `GET /sim` (index), `GET /sim/echo-callback`
//!   (a stand-in client callback that shows its query).

mod config;
mod domain;
mod faults;
mod http;
mod ids;
mod image;
mod simulator;

pub use config::{AppKind, Persona, SimApp, SimConfig};
pub use faults::Faults;
pub use simulator::Simulator;
