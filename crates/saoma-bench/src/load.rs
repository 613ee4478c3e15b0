//! The load generator: a fixed number of workers, each with its own keep-alive HTTP/1.1
//! connection (hyper's client connection, no pool in between), running one operation in a
//! closed loop for a warm-up and then a measured window. Bounded in time, loopback only.

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    client::conn::http1::SendRequest,
    header::{HeaderName, HeaderValue},
    HeaderMap, Method, Request, StatusCode,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::procs;

/// One HTTP/1.1 connection to a server on the loopback interface.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A finished exchange: status, headers and the whole body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("not JSON ({}): {}", self.status, self.text()))
    }

    /// Fails unless the status is `expected`, quoting the body.
    pub fn expect(self, expected: StatusCode, what: &str) -> anyhow::Result<Self> {
        if self.status != expected {
            bail!(
                "{what}: expected {expected}, got {}: {}",
                self.status,
                self.text().chars().take(300).collect::<String>()
            );
        }
        Ok(self)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Conn {
    /// A connection (opened lazily) to `port` on 127.0.0.1, sending `Host: host_name:port`.
    pub fn new(port: u16, host_name: &str) -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port),
            host: format!("{host_name}:{port}"),
            sender: None,
        }
    }

    pub fn local(port: u16) -> Self {
        Self::new(port, "127.0.0.1")
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let reusable = self
            .sender
            .as_ref()
            .is_some_and(|sender| !sender.is_closed());
        if !reusable {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .context("HTTP handshake")?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .context("no connection after connecting")
    }

    /// Sends one request and reads the whole answer. `target` is a path with its query.
    pub async fn send(
        &mut self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Bytes)>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, &self.host);
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(hyper::header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body))?;
        let sender = self.connect().await?;
        sender.ready().await.context("connection not ready")?;
        let result = async {
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        }
        .await;
        match result {
            Ok(reply) => Ok(reply),
            Err(err) => {
                self.sender = None;
                Err(err).with_context(|| format!("request to {target}"))
            }
        }
    }

    pub async fn get(&mut self, target: &str, headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        self.send(Method::GET, target, headers, None).await
    }

    pub async fn post_json(
        &mut self,
        target: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> anyhow::Result<Reply> {
        let bytes = Bytes::from(serde_json::to_vec(body)?);
        self.send(
            Method::POST,
            target,
            headers,
            Some(("application/json", bytes)),
        )
        .await
    }

    pub async fn post_form(&mut self, target: &str, form: &str) -> anyhow::Result<Reply> {
        self.send(
            Method::POST,
            target,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                Bytes::from(form.to_owned()),
            )),
        )
        .await
    }
}

/// One unit of work, repeated by a worker in a closed loop: one request, a chain of requests,
/// or a batch of database statements. Its latency is what `run` records.
pub trait Job: Send + 'static {
    fn run(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// How long to warm up and how long to measure.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Phase {
    pub warmup: Duration,
    pub measure: Duration,
}

/// What a measured window gave.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub concurrency: usize,
    pub completed: u64,
    pub errors: u64,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub mean_ms: f64,
    /// CPU time the watched process used per completed operation, in microseconds.
    pub server_cpu_us: Option<f64>,
    /// Largest VmRSS of the watched process seen during the window, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// CPU the rest of the machine used during the window (not the harness, the watched
    /// process or Postgres), in cores: other work on a shared machine skews this row.
    pub others_cores: Option<f64>,
    /// CPU all Postgres processes used per completed operation, in microseconds.
    pub postgres_cpu_us: Option<f64>,
    /// CPU the whole machine used per completed operation, in microseconds.
    pub machine_cpu_us: Option<f64>,
    pub first_error: Option<String>,
}

/// The most errors a measurement tolerates before it is abandoned.
const MAX_ERRORS: u64 = 20;

/// Runs `jobs` (one worker each) through `phase`, watching `server_pid` (CPU time and RSS)
/// when given. Fails when every worker failed or errors pile up.
pub async fn run<J: Job>(
    jobs: Vec<J>,
    phase: Phase,
    server_pid: Option<u32>,
) -> anyhow::Result<Stats> {
    let concurrency = jobs.len();
    let start = Instant::now();
    let measure_from = start + phase.warmup;
    let end = measure_from + phase.measure;
    let errors = Arc::new(Mutex::new((0u64, None::<String>)));
    let mut handles = Vec::with_capacity(concurrency);
    for mut job in jobs {
        let errors = errors.clone();
        handles.push(tokio::spawn(async move {
            let mut samples: Vec<u32> = Vec::with_capacity(4096);
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let outcome = job.run().await;
                let finished = Instant::now();
                match outcome {
                    Ok(()) => {
                        if finished >= measure_from && finished <= end {
                            let micros = (finished - began).as_micros();
                            samples.push(u32::try_from(micros).unwrap_or(u32::MAX));
                        }
                    }
                    Err(err) => {
                        let too_many = {
                            let mut guard = errors.lock().unwrap_or_else(|p| p.into_inner());
                            guard.0 += 1;
                            if guard.1.is_none() {
                                guard.1 = Some(format!("{err:#}"));
                            }
                            guard.0 > MAX_ERRORS
                        };
                        if too_many {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            samples
        }));
    }
    let watcher = server_pid.map(|pid| tokio::spawn(watch(pid, measure_from, end)));
    let mut samples = Vec::new();
    for handle in handles {
        samples.extend(handle.await.context("load worker panicked")?);
    }
    let watched = match watcher {
        Some(handle) => Some(handle.await.context("watcher panicked")?),
        None => None,
    };
    let (error_count, first_error) = {
        let guard = errors.lock().unwrap_or_else(|p| p.into_inner());
        (guard.0, guard.1.clone())
    };
    summarize(
        concurrency,
        samples,
        error_count,
        first_error,
        phase,
        watched.unwrap_or_default(),
    )
}

/// Runs `batch` over and over on one thread of its own (blocking work: no async, no other
/// task on that thread) through `phase`, watching this process. Each call does some
/// operations and answers how many; every one of them counts the whole call as its latency,
/// as a request waits for the commit that holds it.
pub async fn run_batched<F>(mut batch: F, phase: Phase) -> anyhow::Result<Stats>
where
    F: FnMut() -> anyhow::Result<usize> + Send + 'static,
{
    let start = Instant::now();
    let measure_from = start + phase.warmup;
    let end = measure_from + phase.measure;
    let watcher = tokio::spawn(watch(std::process::id(), measure_from, end));
    let worker = tokio::task::spawn_blocking(move || {
        let mut samples: Vec<u32> = Vec::with_capacity(1 << 16);
        loop {
            let began = Instant::now();
            if began >= end {
                break;
            }
            let done = batch()?;
            let finished = Instant::now();
            if finished >= measure_from && finished <= end {
                let micros = u32::try_from((finished - began).as_micros()).unwrap_or(u32::MAX);
                samples.extend(std::iter::repeat_n(micros, done));
            }
        }
        anyhow::Ok(samples)
    });
    let samples = worker.await.context("batch worker panicked")??;
    let watched = watcher.await.context("watcher panicked")?;
    summarize(1, samples, 0, None, phase, watched)
}

/// The window's statistics from its latency samples (µs) and what the watcher saw.
fn summarize(
    concurrency: usize,
    mut samples: Vec<u32>,
    error_count: u64,
    first_error: Option<String>,
    phase: Phase,
    watched: Watched,
) -> anyhow::Result<Stats> {
    if error_count > MAX_ERRORS || samples.is_empty() {
        bail!(
            "{error_count} errors, {} completed; first error: {}",
            samples.len(),
            first_error.unwrap_or_default()
        );
    }
    samples.sort_unstable();
    let seconds = phase.measure.as_secs_f64();
    let completed = samples.len() as u64;
    let percentile = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        f64::from(samples[index]) / 1000.0
    };
    let mean_ms =
        samples.iter().map(|&s| f64::from(s)).sum::<f64>() / samples.len() as f64 / 1000.0;
    let per_op = |ticks: Option<u64>| {
        ticks.map(|t| t as f64 / procs::clock_ticks_per_second() * 1e6 / completed as f64)
    };
    Ok(Stats {
        concurrency,
        completed,
        errors: error_count,
        seconds,
        throughput: completed as f64 / seconds,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        p999_ms: percentile(0.999),
        mean_ms,
        server_cpu_us: per_op(watched.server),
        peak_rss_kib: watched.peak_rss_kib,
        others_cores: watched
            .others
            .map(|t| t as f64 / procs::clock_ticks_per_second() / seconds),
        postgres_cpu_us: per_op(watched.postgres),
        machine_cpu_us: per_op(watched.machine),
        first_error,
    })
}

/// What the watcher saw in the measured window: CPU ticks and the peak VmRSS.
#[derive(Default)]
struct Watched {
    /// Ticks of the watched process.
    server: Option<u64>,
    peak_rss_kib: Option<u64>,
    /// Ticks of every Postgres process.
    postgres: Option<u64>,
    /// Busy ticks of the whole machine.
    machine: Option<u64>,
    /// Busy ticks of the machine outside the harness, the watched process and Postgres.
    others: Option<u64>,
}

/// Samples `pid` during [from, to].
async fn watch(pid: u32, from: Instant, to: Instant) -> Watched {
    tokio::time::sleep_until(from.into()).await;
    let pids = [pid, std::process::id()];
    let busy_start = procs::machine_busy_ticks();
    let harness_start = procs::cpu_ticks(std::process::id());
    let postgres_start = procs::postgres_ticks(&pids);
    let cpu_start = procs::cpu_ticks(pid);
    let mut peak = procs::rss_kib(pid);
    loop {
        let now = Instant::now();
        if now >= to {
            break;
        }
        tokio::time::sleep((to - now).min(Duration::from_millis(100))).await;
        if let Some(rss) = procs::rss_kib(pid) {
            peak = Some(peak.map_or(rss, |p| p.max(rss)));
        }
    }
    let cpu_end = procs::cpu_ticks(pid);
    let harness_end = procs::cpu_ticks(std::process::id());
    let postgres = procs::ticks_since(&postgres_start, &procs::postgres_ticks(&pids));
    let busy_end = procs::machine_busy_ticks();
    let between = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let server = between(cpu_start, cpu_end);
    let machine = between(busy_start, busy_end);
    // The harness may be the watched process (in-process floors): count it once.
    let harness = if pid == std::process::id() {
        Some(0)
    } else {
        between(harness_start, harness_end)
    };
    let others = match (machine, server, harness) {
        (Some(m), Some(s), Some(h)) => Some(m.saturating_sub(s + h + postgres)),
        _ => None,
    };
    Watched {
        server,
        peak_rss_kib: peak,
        postgres: Some(postgres),
        machine,
        others,
    }
}
