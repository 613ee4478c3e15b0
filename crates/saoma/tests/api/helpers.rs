//! Spawns saoma in-process on 127.0.0.1:0 with a fresh database and a manual clock.

use std::sync::Arc;

use chrono::Utc;
use reqwest::{header::HeaderMap, Method, StatusCode};
use saoma::{clock::ManualClock, Application, Config};
use serde_json::{json, Value};
use tokio::{sync::oneshot, task::JoinHandle};

pub use crate::db::{Backend, TestDb};

pub const SECRET: &str = "test-secret-that-is-at-least-32-characters-long";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    /// `http://127.0.0.1:<port>` of the metrics listener, when enabled.
    pub metrics_address: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    pub db: Option<TestDb>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The GoTrue error code, whichever shape the body has.
    pub fn code(&self) -> &str {
        self.body["error_code"]
            .as_str()
            .or_else(|| self.body["code"].as_str())
            .unwrap_or_default()
    }
}

/// Server logs show up in a failing test's output.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,saoma=info")
        .with_test_writer()
        .try_init();
}

pub fn test_config() -> Config {
    init_logs();
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        ..Config::default()
    };
    config.jwt.secret = SECRET.into();
    // Tests run side by side: each metrics listener on a free port.
    config.metrics.port = 0;
    config.mailer.autoconfirm = true;
    config.external.anonymous_users.enabled = true;
    // Low cost keeps tests quick; production hashing clamps to >= 10 anyway.
    config.password.bcrypt_cost = 4;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new(Backend::from_env()).await;
    spawn_app_on(db, configure).await
}

/// Starts saoma on an existing database (to test restarts).
pub async fn spawn_app_on(db: TestDb, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    config.database_url = db.url.clone();
    configure(&mut config);
    let clock = ManualClock::new(Utc::now());
    let app = Application::builder(config.clone())
        .clock(clock.clone())
        .build()
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    TestApp::serve(app, address, clock, config, db)
}

impl TestApp {
    /// Runs an already built application.
    pub fn serve(
        application: Application,
        address: String,
        clock: Arc<ManualClock>,
        config: Config,
        db: TestDb,
    ) -> Self {
        let metrics_address = application.metrics_address().map(|a| format!("http://{a}"));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_until(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            client,
            clock,
            config,
            metrics_address,
            shutdown: Some(tx),
            server: Some(server),
            db: Some(db),
        }
    }

    /// Stops the server and hands back its database.
    pub async fn stop(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("server ran");
        }
        self.db.take().expect("db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("x-supabase-api-version", "2024-01-01");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        into_reply(request.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, None).await
    }

    /// Signs up `email` (auto-confirmed) and returns the session.
    pub async fn sign_up(&self, email: &str) -> Value {
        let reply = self
            .post(
                "/auth/v1/signup",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/v1/token?grant_type=password",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(
            "/auth/v1/token?grant_type=refresh_token",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }
}

pub async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// `reply` is GoTrue's refusal `code` with `status`.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, code),
        "{}",
        reply.body
    );
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn access_token(session: &Value) -> &str {
    session["access_token"].as_str().expect("access_token")
}

pub fn refresh_token(session: &Value) -> &str {
    session["refresh_token"].as_str().expect("refresh_token")
}

/// An SMS gateway that delivers nowhere: it keeps every (number, code) it was handed, so that
/// tests read codes as a phone would.
#[derive(Default)]
pub struct CapturingSms {
    sent: std::sync::Mutex<Vec<(String, String)>>,
}

impl CapturingSms {
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().expect("sms lock").clone()
    }

    /// The last code texted to `phone`.
    pub fn code_for(&self, phone: &str) -> String {
        self.sent()
            .into_iter()
            .rev()
            .find(|(to, _)| to == phone)
            .map(|(_, code)| code)
            .unwrap_or_else(|| panic!("no code was texted to {phone}"))
    }
}

#[async_trait::async_trait]
impl saoma::sms::SmsSender for CapturingSms {
    fn name(&self) -> &'static str {
        "capture"
    }

    async fn send_otp(
        &self,
        message: &saoma::sms::OtpMessage<'_>,
    ) -> Result<(), saoma::sms::SmsError> {
        self.sent
            .lock()
            .expect("sms lock")
            .push((message.phone.to_owned(), message.otp.to_owned()));
        Ok(())
    }
}

/// saoma with a capturing SMS gateway.
pub async fn spawn_phone_app(configure: impl FnOnce(&mut Config)) -> (TestApp, Arc<CapturingSms>) {
    let sms = Arc::new(CapturingSms::default());
    let app = spawn_built(configure, |builder| builder.sms_sender(sms.clone())).await;
    (app, sms)
}

/// saoma on a fresh database, its builder finished by `inject` (a gateway, a mailer).
pub async fn spawn_built(
    configure: impl FnOnce(&mut Config),
    inject: impl FnOnce(saoma::app::ApplicationBuilder) -> saoma::app::ApplicationBuilder,
) -> TestApp {
    let db = TestDb::new(Backend::from_env()).await;
    let mut config = test_config();
    config.database_url = db.url.clone();
    configure(&mut config);
    let clock = ManualClock::new(Utc::now());
    let builder = Application::builder(config.clone()).clock(clock.clone());
    let app = inject(builder).build().await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    TestApp::serve(app, address, clock, config, db)
}

/// One mail as the mailer was handed it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub action: saoma::mail::EmailAction,
    pub to: String,
    pub otp: String,
    pub token_hash: String,
    pub confirmation_url: String,
    pub redirect_to: String,
}

/// A mailer that delivers nowhere: it keeps every mail, so that tests read codes and links as
/// a person would (the SMTP path itself is tested against a real SMTP server).
#[derive(Default)]
pub struct CapturingMailer {
    sent: std::sync::Mutex<Vec<SentMail>>,
    /// While set, every send fails as an unreachable server would.
    pub down: std::sync::atomic::AtomicBool,
}

impl CapturingMailer {
    pub fn sent(&self) -> Vec<SentMail> {
        self.sent.lock().expect("mail lock").clone()
    }

    /// The last mail sent to `to`.
    pub fn last_to(&self, to: &str) -> SentMail {
        self.sent()
            .into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail was sent to {to}"))
    }
}

#[async_trait::async_trait]
impl saoma::mail::Mailer for CapturingMailer {
    fn name(&self) -> &'static str {
        "capture"
    }

    async fn send(&self, mail: &saoma::mail::AuthMail<'_>) -> Result<(), saoma::mail::MailError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(saoma::mail::MailError::Unavailable(
                "connection refused".into(),
            ));
        }
        self.sent.lock().expect("mail lock").push(SentMail {
            action: mail.action,
            to: mail.to.to_owned(),
            otp: mail.otp.to_owned(),
            token_hash: mail.token_hash.to_owned(),
            confirmation_url: mail.confirmation_url.to_owned(),
            redirect_to: mail.redirect_to.to_owned(),
        });
        Ok(())
    }
}

/// saoma with a capturing mailer and sign-ups confirmed by mail (`mailer.autoconfirm` off).
pub async fn spawn_mail_app(
    configure: impl FnOnce(&mut Config),
) -> (TestApp, Arc<CapturingMailer>) {
    let mailer = Arc::new(CapturingMailer::default());
    let app = spawn_built(
        |config| {
            config.mailer.autoconfirm = false;
            configure(config)
        },
        |builder| builder.mailer(mailer.clone()),
    )
    .await;
    (app, mailer)
}

/// `POST /auth/v1/verify` with `body`.
pub async fn verify(app: &TestApp, body: Value) -> Reply {
    app.post("/auth/v1/verify", body).await
}

/// A user signed up by email and confirmed through the mailed link: the session the link gave.
pub async fn confirmed_user(app: &TestApp, mailer: &CapturingMailer, email: &str) -> Value {
    let signed_up = app
        .post(
            "/auth/v1/signup",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.body);
    let mail = mailer.last_to(email);
    let session = verify(
        app,
        json!({"type": "signup", "token_hash": mail.token_hash}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    session.body
}
