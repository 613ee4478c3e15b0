//! What the load generator does against saoma, the floors and the peer: one `Job` per
//! worker, each with its own connection.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hyper::StatusCode;
use serde_json::json;

use crate::{load::Conn, load::Job, PASSWORD};

/// Unique e-mail addresses across one run.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub fn unique_email(tag: &str) -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{n}@bench.example.com", std::process::id())
}

/// A signed-up saoma user with its session.
#[derive(Clone, Debug)]
pub struct SaomaSession {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Signs up `count` users (autoconfirm gives each a session at once).
pub async fn saoma_sessions(port: u16, count: usize) -> anyhow::Result<Vec<SaomaSession>> {
    let mut conn = Conn::local(port);
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let email = unique_email("setup");
        let reply = conn
            .post_json(
                "/auth/v1/signup",
                &[],
                &json!({ "email": email, "password": PASSWORD }),
            )
            .await?
            .expect(StatusCode::OK, "saoma sign-up")?;
        let body = reply.json()?;
        sessions.push(SaomaSession {
            email,
            access_token: body["access_token"]
                .as_str()
                .context("no access_token")?
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .context("no refresh_token")?
                .to_owned(),
        });
    }
    Ok(sessions)
}

/// `GET /auth/v1/user` with a valid access token.
pub struct SaomaGetUser {
    conn: Conn,
    authorization: String,
}

impl SaomaGetUser {
    pub fn new(port: u16, session: &SaomaSession) -> Self {
        Self {
            conn: Conn::local(port),
            authorization: format!("Bearer {}", session.access_token),
        }
    }
}

impl Job for SaomaGetUser {
    async fn run(&mut self) -> anyhow::Result<()> {
        self.conn
            .get("/auth/v1/user", &[("authorization", &self.authorization)])
            .await?
            .expect(StatusCode::OK, "GET /user")?;
        Ok(())
    }
}

/// `POST /auth/v1/token?grant_type=refresh_token`, each answer's token presented next.
pub struct SaomaRefresh {
    conn: Conn,
    refresh_token: String,
}

impl SaomaRefresh {
    pub fn new(port: u16, session: &SaomaSession) -> Self {
        Self {
            conn: Conn::local(port),
            refresh_token: session.refresh_token.clone(),
        }
    }
}

impl Job for SaomaRefresh {
    async fn run(&mut self) -> anyhow::Result<()> {
        let reply = self
            .conn
            .post_json(
                "/auth/v1/token?grant_type=refresh_token",
                &[],
                &json!({ "refresh_token": self.refresh_token }),
            )
            .await?
            .expect(StatusCode::OK, "refresh")?;
        self.refresh_token = reply.json()?["refresh_token"]
            .as_str()
            .context("no refresh_token")?
            .to_owned();
        Ok(())
    }
}

/// `POST /auth/v1/token?grant_type=password`.
pub struct SaomaSignIn {
    conn: Conn,
    body: serde_json::Value,
}

impl SaomaSignIn {
    pub fn new(port: u16, session: &SaomaSession) -> Self {
        Self {
            conn: Conn::local(port),
            body: json!({ "email": session.email, "password": PASSWORD }),
        }
    }
}

impl Job for SaomaSignIn {
    async fn run(&mut self) -> anyhow::Result<()> {
        self.conn
            .post_json("/auth/v1/token?grant_type=password", &[], &self.body)
            .await?
            .expect(StatusCode::OK, "password sign-in")?;
        Ok(())
    }
}

/// `POST /auth/v1/signup` with a new address each time.
pub struct SaomaSignUp {
    conn: Conn,
}

impl SaomaSignUp {
    pub fn new(port: u16) -> Self {
        Self {
            conn: Conn::local(port),
        }
    }
}

impl Job for SaomaSignUp {
    async fn run(&mut self) -> anyhow::Result<()> {
        self.conn
            .post_json(
                "/auth/v1/signup",
                &[],
                &json!({ "email": unique_email("signup"), "password": PASSWORD }),
            )
            .await?
            .expect(StatusCode::OK, "sign-up")?;
        Ok(())
    }
}

/// A whole WeChat QR login against `saoma dev`: authorize → QR page → phone page → confirm →
/// poll → callback → PKCE exchange.
pub struct QrLogin {
    conn: Conn,
}

impl QrLogin {
    pub fn new(port: u16) -> Self {
        // saoma dev's external URL is http://localhost:<port>, the simulator's callback domain.
        Self {
            conn: Conn::new(port, "localhost"),
        }
    }
}

/// The path and query of an absolute URL, without its fragment.
fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

fn query_value(url: &url::Url, name: &str) -> anyhow::Result<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .with_context(|| format!("no {name} in {url}"))
}

fn location(reply: &crate::load::Reply, what: &str) -> anyhow::Result<url::Url> {
    anyhow::ensure!(
        reply.status == StatusCode::FOUND,
        "{what}: expected 302, got {}: {}",
        reply.status,
        reply.text()
    );
    let location = reply.header("location").context("302 without Location")?;
    url::Url::parse(location).with_context(|| format!("{what}: Location {location}"))
}

impl Job for QrLogin {
    async fn run(&mut self) -> anyhow::Result<()> {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        let challenge = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let conn = &mut self.conn;
        let authorize = conn
            .get(
                &format!(
                    "/auth/v1/authorize?provider=wechat_qr&redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fx\
                     &code_challenge={challenge}&code_challenge_method=s256"
                ),
                &[],
            )
            .await?;
        let mut qr_page = location(&authorize, "authorize")?;
        qr_page.set_fragment(None);
        let page = conn
            .get(&path_and_query(&qr_page), &[])
            .await?
            .expect(StatusCode::OK, "QR page")?
            .text();
        let uuid = page
            .split_once("data-uuid=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(uuid, _)| uuid.to_owned())
            .context("no data-uuid on the QR page")?;
        conn.get(&format!("/wechat-sim/sim/phone/{uuid}"), &[])
            .await?
            .expect(StatusCode::OK, "phone page")?;
        conn.post_form(
            &format!("/wechat-sim/sim/phone/{uuid}/confirm"),
            "persona=xiaoming",
        )
        .await?
        .expect(StatusCode::OK, "confirm")?;
        let poll = conn
            .get(&format!("/wechat-sim/connect/l/qrconnect?uuid={uuid}"), &[])
            .await?
            .expect(StatusCode::OK, "poll")?
            .text();
        anyhow::ensure!(
            poll.contains("wx_errcode=405"),
            "poll did not confirm: {poll}"
        );
        let code = poll
            .split_once("wx_code='")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(code, _)| code.to_owned())
            .context("no wx_code")?;
        let mut callback = url::Url::parse(&query_value(&qr_page, "redirect_uri")?)?;
        let state = query_value(&qr_page, "state")?;
        callback
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
        let back = conn.get(&path_and_query(&callback), &[]).await?;
        let app = location(&back, "callback")?;
        let auth_code = query_value(&app, "code")?;
        conn.post_json(
            "/auth/v1/token?grant_type=pkce",
            &[],
            &json!({ "auth_code": auth_code, "code_verifier": verifier }),
        )
        .await?
        .expect(StatusCode::OK, "PKCE exchange")?;
        Ok(())
    }
}

/// A GET expecting 200, with fixed headers: the floors, and the peer's session check.
pub struct Get {
    conn: Conn,
    path: String,
    headers: Vec<(String, String)>,
    /// A body that means failure despite the 200 (better-auth answers `null` for no session).
    refuse_body: Option<&'static str>,
}

impl Get {
    pub fn new(port: u16, path: &str, headers: Vec<(String, String)>) -> Self {
        Self {
            conn: Conn::local(port),
            path: path.to_owned(),
            headers,
            refuse_body: None,
        }
    }

    pub fn refusing(mut self, body: &'static str) -> Self {
        self.refuse_body = Some(body);
        self
    }
}

impl Job for Get {
    async fn run(&mut self) -> anyhow::Result<()> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = self
            .conn
            .get(&self.path, &headers)
            .await?
            .expect(StatusCode::OK, &self.path)?;
        if let Some(refused) = self.refuse_body {
            anyhow::ensure!(
                reply.body.as_ref() != refused.as_bytes(),
                "{} answered {refused}",
                self.path
            );
        }
        Ok(())
    }
}

/// better-auth: a signed-up user and its session cookie.
#[derive(Clone, Debug)]
pub struct PeerSession {
    pub email: String,
    pub cookie: String,
}

fn session_cookie(reply: &crate::load::Reply) -> anyhow::Result<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("better-auth.session_token="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("no better-auth.session_token cookie")
}

pub async fn peer_sessions(port: u16, count: usize) -> anyhow::Result<Vec<PeerSession>> {
    let mut conn = Conn::local(port);
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let email = unique_email("peer-setup");
        let reply = conn
            .post_json(
                "/api/auth/sign-up/email",
                &[],
                &json!({ "email": email, "password": PASSWORD, "name": "Bench" }),
            )
            .await?
            .expect(StatusCode::OK, "better-auth sign-up")?;
        sessions.push(PeerSession {
            cookie: session_cookie(&reply)?,
            email,
        });
    }
    Ok(sessions)
}

/// better-auth `POST /api/auth/sign-in/email`.
pub struct PeerSignIn {
    conn: Conn,
    body: serde_json::Value,
}

impl PeerSignIn {
    pub fn new(port: u16, session: &PeerSession) -> Self {
        Self {
            conn: Conn::local(port),
            body: json!({ "email": session.email, "password": PASSWORD }),
        }
    }
}

impl Job for PeerSignIn {
    async fn run(&mut self) -> anyhow::Result<()> {
        let reply = self
            .conn
            .post_json("/api/auth/sign-in/email", &[], &self.body)
            .await?
            .expect(StatusCode::OK, "better-auth sign-in")?;
        session_cookie(&reply)?;
        Ok(())
    }
}

/// better-auth `POST /api/auth/sign-up/email` with a new address each time.
pub struct PeerSignUp {
    conn: Conn,
}

impl PeerSignUp {
    pub fn new(port: u16) -> Self {
        Self {
            conn: Conn::local(port),
        }
    }
}

impl Job for PeerSignUp {
    async fn run(&mut self) -> anyhow::Result<()> {
        self.conn
            .post_json(
                "/api/auth/sign-up/email",
                &[],
                &json!({ "email": unique_email("peer-signup"), "password": PASSWORD, "name": "Bench" }),
            )
            .await?
            .expect(StatusCode::OK, "better-auth sign-up")?;
        Ok(())
    }
}
