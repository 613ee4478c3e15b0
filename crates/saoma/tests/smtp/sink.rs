//! The SMTP sink process (tests/smtp-sink/sink.mjs): started per test, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Mutex};

pub struct Sink {
    pub port: u16,
    child: Child,
    messages: Mutex<mpsc::UnboundedReceiver<Value>>,
}

fn sink_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp-sink")
}

impl Sink {
    /// Starts a sink; `auth` makes it require that user and password.
    pub async fn start(auth: Option<(&str, &str)>) -> Self {
        let dir = sink_dir();
        assert!(
            dir.join("node_modules/smtp-server").exists(),
            "the SMTP sink is not installed: run `npm ci` in {} (scripts/test does)",
            dir.display()
        );
        let (user, pass) = auth.unwrap_or_default();
        let mut child = Command::new("node")
            .arg(dir.join("sink.mjs"))
            .env("SINK_USER", user)
            .env("SINK_PASS", pass)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node tests/smtp-sink/sink.mjs (is Node.js installed?)");
        let stdout = child.stdout.take().expect("the sink's stdout");
        let (lines, mut received) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if lines.send(value).is_err() {
                        break;
                    }
                }
            }
        });
        let first = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("the sink did not start within 20 s")
            .expect("the sink exited");
        let port = first["listening"].as_u64().expect("{listening: port}") as u16;
        Self {
            port,
            child,
            messages: Mutex::new(received),
        }
    }

    /// The next message the sink accepted.
    pub async fn next(&self) -> Value {
        let mut messages = self.messages.lock().await;
        tokio::time::timeout(Duration::from_secs(10), messages.recv())
            .await
            .expect("no mail reached the sink within 10 s")
            .expect("the sink exited")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
