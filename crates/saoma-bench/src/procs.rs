//! Server processes under test: spawning, waiting for the first answered request, reading
//! their memory and CPU time from /proc, stopping them.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::load::Conn;

/// A running server; stopped (SIGTERM, then SIGKILL) by [`Server::stop`] or when dropped.
pub struct Server {
    name: String,
    pub port: u16,
    pub pid: u32,
    child: Child,
    log: PathBuf,
}

/// What to start.
pub struct Spec<'a> {
    pub name: &'a str,
    pub program: &'a Path,
    pub args: &'a [&'a str],
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    pub port: u16,
    /// Path answering 200 once the server is ready.
    pub health: &'a str,
}

impl Server {
    /// Starts the process and waits (polling every millisecond) for a 200 on the health
    /// path; returns the server and the time from spawn to that first answer.
    pub async fn start(spec: Spec<'_>) -> anyhow::Result<(Self, Duration)> {
        let log = spec
            .cwd
            .join(format!("{}.log", spec.name.replace(' ', "-")));
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(spec.program);
        command
            .args(spec.args)
            .current_dir(spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        // Only the configuration given here: no SAOMA_* leaking in from the caller.
        for (key, _) in std::env::vars() {
            if key.starts_with("SAOMA_") {
                command.env_remove(key);
            }
        }
        for (key, value) in &spec.env {
            command.env(key, value);
        }
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", spec.program.display()))?;
        let pid = child.id().context("child has no pid")?;
        let deadline = spawned + Duration::from_secs(30);
        let mut conn = Conn::local(spec.port);
        loop {
            if let Ok(reply) = conn.get(spec.health, &[]).await {
                if reply.status.is_success() {
                    break;
                }
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited ({status}) before answering; its log:\n{}",
                    spec.name,
                    tail(&log)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer {} within 30 s; its log:\n{}",
                    spec.name,
                    spec.health,
                    tail(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ready = spawned.elapsed();
        Ok((
            Self {
                name: spec.name.to_owned(),
                port: spec.port,
                pid,
                child,
                log,
            },
            ready,
        ))
    }

    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid)
    }

    /// SIGTERM, up to 5 s for a graceful exit, then SIGKILL.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                self.child.kill().await?;
                Ok(())
            }
        }
    }

    /// The last lines the process printed, named.
    pub fn log_tail(&self) -> String {
        format!("{} log:\n{}", self.name, tail(&self.log))
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

/// VmHWM (peak resident set) of `pid` in KiB.
pub fn hwm_kib(pid: u32) -> Option<u64> {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// utime + stime of `pid` (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after its closing parenthesis are fixed.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": state(0) ppid(1) ... utime is field 14 overall, i.e. index 11 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK`, 100 when it cannot be asked.
pub fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A command's first line of output, for the report (`lscpu`, `node --version`, ...).
pub fn command_output(program: &str, args: &[&str]) -> Option<String> {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
}

/// Busy clock ticks of the whole machine (all CPUs), from /proc/stat.
pub fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some(total - idle)
}

/// CPU ticks of each Postgres process (skipping `pids`), by pid.
pub fn postgres_ticks(pids: &[u32]) -> HashMap<u32, u64> {
    let mut ticks = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if pids.contains(&pid) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                ticks.insert(pid, cpu_ticks(pid).unwrap_or_default());
            }
        }
    }
    ticks
}

/// What the processes of `end` used since `start`: each one's growth, all of a new one's. A
/// process that ended meanwhile counts nothing (its last ticks are gone). Summing totals
/// instead let a backend that ended in the window (a pool closed just before it) subtract its
/// whole life from the others' work.
pub fn ticks_since(start: &HashMap<u32, u64>, end: &HashMap<u32, u64>) -> u64 {
    end.iter()
        .map(|(pid, ticks)| ticks.saturating_sub(start.get(pid).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend that ended in the window takes nothing away from the others' work; a new one
    /// counts whole.
    #[test]
    fn postgres_work_counts_each_backend_s_growth() {
        let start = HashMap::from([(1, 1_000_000), (2, 50), (3, 10)]);
        let end = HashMap::from([(2, 80), (3, 10), (4, 25)]);
        assert_eq!(ticks_since(&start, &end), 30 + 25);
    }
}
