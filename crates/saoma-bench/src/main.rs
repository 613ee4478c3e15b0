//! `saoma-bench`: saoma against the machine's floors and a peer, side by side, in one run.
//!
//! `saoma-bench all` (what `bench/run` calls) measures, on SQLite and on Postgres: saoma's
//! `GET /user`, refresh-token rotation, password sign-in, sign-up and a whole WeChat QR login;
//! the floors (an empty axum handler, the same plus one HS256 verification, saoma's SQL through
//! sqlx alone, on SQLite the engine's own limit for its writes, a bare bcrypt verification);
//! better-auth in Node doing the same jobs; saoma's memory and start-up time; saoma's
//! operations again at 64 connections for the tail latency. It rewrites the generated part of
//! docs/benchmarks.md.

mod dbfloor;
mod enginefloor;
mod floor;
mod load;
mod procs;
mod report;
mod scenarios;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::Connection;

use load::{Job, Phase};
use procs::{Server, Spec};
use report::{Backend, High, Measured, Memory, Report, Startup};

/// The allocator saoma uses, so the HTTP floors (served by this binary) differ from saoma
/// only by what saoma does per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The password of every benchmark account (saoma and peer).
pub const PASSWORD: &str = "bench-password-0123";
/// The JWT secret saoma and the JWT floor share.
const JWT_SECRET: &str = "saoma-bench-jwt-secret-0123456789-abcdefghijklmnop";

#[derive(Parser)]
#[command(name = "saoma-bench", about = "saoma's benchmarks, side by side")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every measurement and rewrites the generated part of the report.
    All(Options),
    /// Serves the HTTP floors (`/empty`, `/jwt`) on 127.0.0.1; started by `all`.
    FloorServer {
        #[arg(long)]
        port: u16,
    },
    /// Loads one saoma endpoint for a while, optionally under `perf record` (for the
    /// "where the time goes" section): `saoma-bench profile get-user --perf out.data`.
    Profile(ProfileOptions),
}

#[derive(clap::Args)]
struct ProfileOptions {
    /// get-user, refresh, sign-up, mixed (refreshes and two connections signing up), settings,
    /// qr-login (whole WeChat QR logins against `saoma dev`); or a
    /// floor: floor-jwt (HTTP+JWT floor server),
    /// floor-get-user (get-user's database floor, in this process, on the same database),
    /// engine-refresh, engine-sign-up, engine-qr-login (SQLite's engine floor, in this process).
    operation: String,
    #[arg(long, default_value = "target/release/saoma")]
    saoma: PathBuf,
    /// A SQLite file path or a postgres:// URL (a fresh SQLite file when not given).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Start saoma with `SAOMA_SQLITE_READ_CACHE=false`: every token check reads the file.
    #[arg(long)]
    no_read_cache: bool,
    /// Record saoma with `perf record -g` into this file during the measured window.
    #[arg(long)]
    perf: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct Options {
    /// saoma's release binary.
    #[arg(long, default_value = "target/release/saoma")]
    saoma: PathBuf,
    /// Workers (each with its own connection), for every measurement.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 8.0)]
    measure: f64,
    /// Workers of the second pass over saoma's operations, for the tail latency under more
    /// connections (0: no second pass).
    #[arg(long, default_value_t = 64)]
    high_concurrency: usize,
    /// Measured window of that second pass, seconds (shorter, to keep the run's length).
    #[arg(long, default_value_t = 4.0)]
    high_measure: f64,
    /// Start-ups timed per case (fresh database, existing database).
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Postgres to create the benchmark databases in (dropped at the end).
    #[arg(
        long,
        env = "SAOMA_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// Skip Postgres.
    #[arg(long)]
    no_postgres: bool,
    /// Skip the better-auth peer.
    #[arg(long)]
    no_peer: bool,
    /// The peer's folder (package.json, server.mjs, node_modules).
    #[arg(long, default_value = "bench/peer-better-auth")]
    peer_dir: PathBuf,
    /// Where the report goes; text outside its generated block is kept.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// What to call saoma's version in the report (default: the work tree's commit).
    #[arg(long)]
    saoma_commit: Option<String>,
    /// The command line to print in the report.
    #[arg(long, default_value = "bench/run")]
    command_line: String,
}

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("saoma-bench: {err:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::FloorServer { port } => floor::serve(port, JWT_SECRET).await,
        Command::All(options) => all(options).await,
        Command::Profile(options) => profile(options).await,
    }
}

async fn profile(options: ProfileOptions) -> anyhow::Result<()> {
    let saoma = std::fs::canonicalize(&options.saoma)?;
    let temp = tempfile::Builder::new()
        .prefix("saoma-profile-")
        .tempdir()?;
    let database = options
        .database
        .clone()
        .unwrap_or_else(|| temp.path().join("saoma.db").display().to_string());
    let extra_env: &[(&str, &str)] = if options.no_read_cache {
        &[("SAOMA_SQLITE_READ_CACHE", "false")]
    } else {
        &[]
    };
    // The QR login runs against `saoma dev` (the simulator mounted) alone, as in the full run.
    let qr_login = options.operation == "qr-login";
    let server = if qr_login {
        start_dev(&saoma, &database, temp.path()).await?
    } else {
        start_saoma(&saoma, &database, temp.path(), extra_env)
            .await?
            .0
    };
    let sessions = if qr_login {
        Vec::new()
    } else {
        scenarios::saoma_sessions(server.port, options.concurrency).await?
    };
    let phase = Phase {
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs_f64(options.seconds),
    };
    let perf = match &options.perf {
        Some(file) => Some(
            tokio::process::Command::new("perf")
                .args(["record", "-F", "1999", "-g", "-o"])
                .arg(file)
                .args(["-p", &server.pid.to_string(), "--", "sleep"])
                .arg(format!("{}", options.seconds + 1.0))
                .kill_on_drop(true)
                .spawn()
                .context("starting perf")?,
        ),
        None => None,
    };
    let port = server.port;
    let stats = match options.operation.as_str() {
        "get-user" => {
            let jobs = sessions
                .iter()
                .map(|s| scenarios::SaomaGetUser::new(port, s))
                .collect();
            load::run(jobs, phase, Some(server.pid)).await?
        }
        "refresh" => {
            let jobs = sessions
                .iter()
                .map(|s| scenarios::SaomaRefresh::new(port, s))
                .collect();
            load::run(jobs, phase, Some(server.pid)).await?
        }
        // New accounts, one per request: with `--perf`, the share outside bcrypt is what a
        // sign-up costs besides its hash (saoma never hashes below cost 10).
        "sign-up" => {
            let jobs = (0..options.concurrency)
                .map(|_| scenarios::SaomaSignUp::new(port))
                .collect();
            load::run(jobs, phase, Some(server.pid)).await?
        }
        // Writes competing for SQLite's one writer: refreshes (group-committed) on all
        // connections but two, sign-ups (the other writer's) on those two. Printed: the
        // sign-ups' figures; the refreshes' on a line of their own.
        "mixed" => {
            let refreshes = sessions
                .iter()
                .skip(2)
                .map(|s| scenarios::SaomaRefresh::new(port, s))
                .collect();
            let sign_ups = (0..2).map(|_| scenarios::SaomaSignUp::new(port)).collect();
            let (refreshed, signed_up) = tokio::join!(
                load::run(refreshes, phase, Some(server.pid)),
                load::run(sign_ups, phase, None)
            );
            let refreshed = refreshed?;
            println!(
                "mixed, refreshes alongside: {:.0}/s p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms",
                refreshed.throughput, refreshed.p50_ms, refreshed.p99_ms, refreshed.p999_ms
            );
            signed_up?
        }
        // saoma's whole HTTP stack (middleware included) with no database work: what the
        // stack costs on top of the floor.
        "settings" => {
            let jobs = (0..options.concurrency)
                .map(|_| scenarios::Get::new(port, "/auth/v1/settings", Vec::new()))
                .collect();
            load::run(jobs, phase, Some(server.pid)).await?
        }
        "floor-jwt" => {
            let floor = start_floor_server(temp.path()).await?;
            let jobs = sessions
                .iter()
                .map(|s| {
                    let bearer = format!("Bearer {}", s.access_token);
                    scenarios::Get::new(floor.port, "/jwt", vec![("authorization".into(), bearer)])
                })
                .collect();
            let stats = load::run(jobs, phase, Some(floor.pid)).await;
            floor.stop().await?;
            stats?
        }
        "floor-get-user" => {
            let db = dbfloor::Db::open(&database).await?;
            let jobs = dbfloor::get_user_jobs(&db, options.concurrency).await?;
            load::run(jobs, phase, Some(std::process::id())).await?
        }
        "engine-refresh" => {
            let db = dbfloor::Db::open(&database).await?;
            enginefloor::refresh(&db, options.concurrency, phase).await?
        }
        "engine-sign-up" => {
            let db = dbfloor::Db::open(&database).await?;
            enginefloor::sign_up_without_hash(&db, phase).await?
        }
        // Whole WeChat QR logins (8 requests each) against `saoma dev`.
        "qr-login" => {
            let jobs = (0..options.concurrency)
                .map(|_| scenarios::QrLogin::new(port))
                .collect();
            load::run(jobs, phase, Some(server.pid)).await?
        }
        "engine-qr-login" => {
            let db = dbfloor::Db::open(&database).await?;
            enginefloor::qr_login_database_work(&db, phase).await?
        }
        other => anyhow::bail!(
            "unknown operation {other}: get-user, refresh, sign-up, mixed, settings, qr-login, floor-jwt, \
             floor-get-user, engine-refresh, engine-sign-up or engine-qr-login"
        ),
    };
    if let Some(mut perf) = perf {
        perf.wait().await?;
    }
    server.stop().await?;
    println!(
        "{}: {:.0}/s p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms, CPU µs/op: {} {:.0}, \
         Postgres {:.0}, machine {:.0}",
        options.operation,
        stats.throughput,
        stats.p50_ms,
        stats.p99_ms,
        stats.p999_ms,
        if options.operation.starts_with("floor") || options.operation.starts_with("engine") {
            "harness"
        } else {
            "saoma"
        },
        stats.server_cpu_us.unwrap_or_default(),
        stats.postgres_cpu_us.unwrap_or_default(),
        stats.machine_cpu_us.unwrap_or_default(),
    );
    Ok(())
}

fn say(message: &str) {
    eprintln!("[{}] {message}", chrono::Utc::now().format("%H:%M:%S"));
}

async fn all(options: Options) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let saoma = std::fs::canonicalize(&options.saoma).with_context(|| {
        format!(
            "{} not found: cargo build --release -p saoma",
            options.saoma.display()
        )
    })?;
    let phase = Phase {
        warmup: Duration::from_secs_f64(options.warmup),
        measure: Duration::from_secs_f64(options.measure),
    };
    let temp = tempfile::Builder::new().prefix("saoma-bench-").tempdir()?;
    let mut report = Report::new(&options.command_line, options.concurrency, phase);
    report.high = (options.high_concurrency > 0).then(|| High {
        concurrency: options.high_concurrency,
        phase: high_phase(&options),
    });
    report.machine = report::machine();
    report.versions.insert(
        "saoma".into(),
        procs::command_output(saoma.to_str().unwrap_or_default(), &["--version"])
            .unwrap_or_default()
            .trim()
            .to_owned(),
    );
    report.versions.insert(
        "commit".into(),
        options
            .saoma_commit
            .clone()
            .unwrap_or_else(report::git_commit),
    );

    say("start-up on SQLite");
    report.startup = Some(startup(&saoma, temp.path(), options.startups).await?);

    say("SQLite");
    let sqlite_dir = temp.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite_url = sqlite_dir.join("saoma.db").display().to_string();
    let (mut sqlite, token) =
        backend("SQLite", &saoma, &sqlite_url, &sqlite_dir, &options, phase).await?;
    if !options.no_peer {
        let peer_db = format!("sqlite:{}", sqlite_dir.join("peer.db").display());
        peer(&mut sqlite, &peer_db, &sqlite_dir, &options, phase).await;
    }
    if let Ok(version) = sqlite_version(&sqlite_url).await {
        report.versions.insert("SQLite".into(), version);
    }

    say("floors: HTTP, HTTP+JWT, bcrypt");
    let shared = shared_floors(&token, temp.path(), options.concurrency, phase).await?;

    let mut backends = vec![sqlite];
    if !options.no_postgres {
        say("Postgres");
        let pg = Postgres::create(&options.pg_url).await?;
        let pg_dir = temp.path().join("postgres");
        std::fs::create_dir_all(&pg_dir)?;
        let result = async {
            let (mut postgres, _) =
                backend("Postgres", &saoma, &pg.saoma_url, &pg_dir, &options, phase).await?;
            if !options.no_peer {
                peer(&mut postgres, &pg.peer_url, &pg_dir, &options, phase).await;
            }
            Ok::<_, anyhow::Error>(postgres)
        }
        .await;
        if let Ok(version) = pg.version().await {
            report.versions.insert("Postgres".into(), version);
        }
        pg.drop_all().await;
        backends.push(result?);
    }
    if !options.no_peer {
        report
            .versions
            .insert("node".into(), report::node_version());
        report.versions.insert(
            "better-auth".into(),
            report::package_version(&options.peer_dir, "better-auth"),
        );
        report.versions.insert(
            "better-sqlite3".into(),
            report::package_version(&options.peer_dir, "better-sqlite3"),
        );
        report.versions.insert(
            "pg".into(),
            report::package_version(&options.peer_dir, "pg"),
        );
    }
    report.shared = shared;
    report.backends = backends;
    report.elapsed = started.elapsed();
    let markdown = report.markdown();
    report::write(&options.out, &markdown)?;
    let raw = PathBuf::from("target/saoma-bench/last-run.json");
    if let Some(parent) = raw.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&raw, serde_json::to_string_pretty(&report)?)?;
    println!("{markdown}");
    say(&format!(
        "wrote {} in {:.0} s",
        options.out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn saoma_env(port: u16, database_url: &str) -> Vec<(String, String)> {
    [
        ("SAOMA_HOST", "127.0.0.1".to_owned()),
        ("SAOMA_PORT", port.to_string()),
        ("SAOMA_DATABASE_URL", database_url.to_owned()),
        ("SAOMA_JWT_SECRET", JWT_SECRET.to_owned()),
        ("SAOMA_MAILER_AUTOCONFIRM", "true".to_owned()),
        ("SAOMA_PASSWORD_BCRYPT_COST", "10".to_owned()),
        ("SAOMA_LOG", "warn".to_owned()),
        // All the load comes from one address: the limiter would answer 429.
        ("SAOMA_RATE_LIMIT_ENABLED", "false".to_owned()),
        // Never a clash on the default metrics port with another saoma on this machine.
        ("SAOMA_METRICS_PORT", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn start_saoma(
    saoma: &Path,
    database_url: &str,
    cwd: &Path,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<(Server, Duration)> {
    let port = procs::free_port()?;
    let mut env = saoma_env(port, database_url);
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Server::start(Spec {
        name: "saoma serve",
        program: saoma,
        args: &["serve"],
        cwd,
        env,
        port,
        health: "/health",
    })
    .await
}

/// Start-up to the first answered `/health`, on a new SQLite file and on an existing one.
async fn startup(saoma: &Path, temp: &Path, runs: usize) -> anyhow::Result<Startup> {
    let mut fresh = Vec::new();
    let mut existing = Vec::new();
    let mut idle_rss = Vec::new();
    for i in 0..runs.max(1) {
        let dir = temp.join(format!("startup-{i}"));
        std::fs::create_dir_all(&dir)?;
        let url = dir.join("saoma.db").display().to_string();
        let (server, took) = start_saoma(saoma, &url, &dir, &[]).await?;
        fresh.push(took);
        tokio::time::sleep(Duration::from_millis(300)).await;
        idle_rss.extend(server.rss_kib());
        server.stop().await?;
        let (server, took) = start_saoma(saoma, &url, &dir, &[]).await?;
        existing.push(took);
        server.stop().await?;
    }
    Ok(Startup {
        fresh,
        existing,
        idle_rss_kib: idle_rss,
    })
}

async fn measure<J: Job>(
    label: &str,
    jobs: anyhow::Result<Vec<J>>,
    phase: Phase,
    pid: Option<u32>,
) -> Measured {
    let outcome = match jobs {
        Ok(jobs) => load::run(jobs, phase, pid).await,
        Err(err) => Err(err),
    };
    logged(label, outcome)
}

/// Says how a measurement went, and keeps its error as text for the report.
fn logged(label: &str, outcome: anyhow::Result<load::Stats>) -> Measured {
    match &outcome {
        Ok(stats) => say(&format!(
            "  {label}: {:.0}/s p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms",
            stats.throughput, stats.p50_ms, stats.p99_ms, stats.p999_ms
        )),
        Err(err) => say(&format!("  {label}: FAILED {err:#}")),
    }
    outcome.map_err(|e| format!("{e:#}"))
}

/// The second pass's phase: the same warm-up, its own (shorter) window.
fn high_phase(options: &Options) -> Phase {
    Phase {
        warmup: Duration::from_secs_f64(options.warmup),
        measure: Duration::from_secs_f64(options.high_measure),
    }
}

/// The result key of saoma's `operation` measured with `workers` connections: the first
/// pass's keys stay as they were (`saoma.refresh`), the second pass's carry its count
/// (`saoma.refresh@64`).
pub fn pass_key(operation: &str, workers: Option<usize>) -> String {
    match workers {
        None => operation.to_owned(),
        Some(n) => format!("{operation}@{n}"),
    }
}

/// saoma (serve, then dev for the QR login) and the database floor on one database; on
/// SQLite also the engine floor. Returns the results and an access token for the JWT floor.
async fn backend(
    name: &str,
    saoma: &Path,
    database_url: &str,
    dir: &Path,
    options: &Options,
    phase: Phase,
) -> anyhow::Result<(Backend, String)> {
    let n = options.concurrency;
    let high = (options.high_concurrency > 0).then_some(options.high_concurrency);
    let mut out = Backend::new(name);
    let (server, _) = start_saoma(saoma, database_url, dir, &[]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut memory = Memory {
        idle_kib: server.rss_kib(),
        ..Memory::default()
    };
    let serve = Serve {
        saoma,
        database_url,
        dir,
        port: server.port,
        pid: server.pid,
    };
    let sessions = scenarios::saoma_sessions(server.port, n).await?;
    let mut results = saoma_pass(&serve, &sessions, phase, None).await;
    if let Some(high) = high {
        say(&format!("  saoma again, {high} connections"));
        // Sessions of their own: the first pass rotated the first sessions' refresh tokens.
        match scenarios::saoma_sessions(server.port, high).await {
            Ok(wide) => {
                results.extend(saoma_pass(&serve, &wide, high_phase(options), Some(high)).await)
            }
            Err(err) => say(&format!("  {high} sessions: FAILED {err:#}")),
        }
    }
    memory.load_kib = results
        .values()
        .filter_map(|r| r.as_ref().ok().and_then(|s| s.peak_rss_kib))
        .max();
    tokio::time::sleep(Duration::from_secs(1)).await;
    memory.after_kib = server.rss_kib();
    memory.hwm_kib = procs::hwm_kib(server.pid);
    server.stop().await?;

    results.extend(qr_logins(saoma, database_url, dir, options, phase).await?);

    say(&format!("  database floor ({name}, sqlx alone)"));
    let db = dbfloor::Db::open(database_url).await?;
    // The harness's own process does the database floor's work: its CPU time is the floor's.
    let me = Some(std::process::id());
    results.insert(
        "db.get_user".into(),
        measure(
            "db GET /user statements",
            dbfloor::get_user_jobs(&db, n).await,
            phase,
            me,
        )
        .await,
    );
    results.insert(
        "db.refresh".into(),
        measure(
            "db refresh statements",
            dbfloor::refresh_jobs(&db, n).await,
            phase,
            me,
        )
        .await,
    );
    results.insert(
        "db.sign_in".into(),
        measure(
            "db sign-in statements",
            dbfloor::sign_in_jobs(&db, n).await,
            phase,
            me,
        )
        .await,
    );
    results.insert(
        "db.qr".into(),
        measure(
            "db QR login statements",
            dbfloor::qr_jobs(&db, n).await,
            phase,
            me,
        )
        .await,
    );
    if let dbfloor::Db::Sqlite { .. } = db {
        results.insert(
            "db.data_version".into(),
            measure(
                "db PRAGMA data_version",
                dbfloor::data_version_jobs(&db, n),
                phase,
                me,
            )
            .await,
        );
        say(&format!(
            "  engine floor (rusqlite, one thread, {} per transaction)",
            enginefloor::BATCH
        ));
        results.insert(
            "engine.refresh".into(),
            logged(
                "engine refresh rotation",
                enginefloor::refresh(&db, n, phase).await,
            ),
        );
        results.insert(
            "engine.sign_up".into(),
            logged(
                "engine sign-up without hash",
                enginefloor::sign_up_without_hash(&db, phase).await,
            ),
        );
        results.insert(
            "engine.qr".into(),
            logged(
                "engine WeChat QR login's database work",
                enginefloor::qr_login_database_work(&db, phase).await,
            ),
        );
    }
    db.close().await;
    out.results = results;
    out.memory = memory;
    let token = sessions
        .first()
        .map(|s| s.access_token.clone())
        .unwrap_or_default();
    Ok((out, token))
}

/// A running `saoma serve` on a database, and what a second one on the same file needs.
struct Serve<'a> {
    saoma: &'a Path,
    database_url: &'a str,
    dir: &'a Path,
    port: u16,
    pid: u32,
}

/// saoma's operations on `serve`, one worker per session: `GET /user` (on SQLite also with the
/// read cache off, on a second saoma), refresh, sign-in, sign-up. `workers` names the second
/// pass in the keys and labels.
async fn saoma_pass(
    serve: &Serve<'_>,
    sessions: &[scenarios::SaomaSession],
    phase: Phase,
    workers: Option<usize>,
) -> BTreeMap<String, Measured> {
    let label = |what: &str| match workers {
        None => format!("saoma {what}"),
        Some(n) => format!("saoma {what} ({n} connections)"),
    };
    let port = serve.port;
    let pid = Some(serve.pid);
    let mut results = BTreeMap::new();
    results.insert(
        pass_key("saoma.get_user", workers),
        measure(
            &label("GET /user"),
            Ok(sessions
                .iter()
                .map(|s| scenarios::SaomaGetUser::new(port, s))
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    if !serve.database_url.starts_with("postgres") {
        // The same requests on a second saoma that reads the file for every token check.
        let uncached = async {
            let (server, _) = start_saoma(
                serve.saoma,
                serve.database_url,
                serve.dir,
                &[("SAOMA_SQLITE_READ_CACHE", "false")],
            )
            .await?;
            let jobs = sessions
                .iter()
                .map(|s| scenarios::SaomaGetUser::new(server.port, s))
                .collect();
            let measured = measure(
                &label("GET /user, read cache off"),
                Ok(jobs),
                phase,
                Some(server.pid),
            )
            .await;
            server.stop().await?;
            anyhow::Ok(measured)
        }
        .await
        .unwrap_or_else(|err| Err(format!("{err:#}")));
        results.insert(pass_key("saoma.get_user_uncached", workers), uncached);
    }
    results.insert(
        pass_key("saoma.refresh", workers),
        measure(
            &label("refresh"),
            Ok(sessions
                .iter()
                .map(|s| scenarios::SaomaRefresh::new(port, s))
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    results.insert(
        pass_key("saoma.sign_in", workers),
        measure(
            &label("password sign-in"),
            Ok(sessions
                .iter()
                .map(|s| scenarios::SaomaSignIn::new(port, s))
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    results.insert(
        pass_key("saoma.sign_up", workers),
        measure(
            &label("sign-up"),
            Ok((0..sessions.len())
                .map(|_| scenarios::SaomaSignUp::new(port))
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    results
}

/// The whole WeChat QR login against `saoma dev` (the simulator mounted at /wechat-sim), with
/// the first pass's workers and, when there is one, the second pass's.
async fn qr_logins(
    saoma: &Path,
    database_url: &str,
    dir: &Path,
    options: &Options,
    phase: Phase,
) -> anyhow::Result<BTreeMap<String, Measured>> {
    let mut results = BTreeMap::new();
    let dev = start_dev(saoma, database_url, dir).await;
    let dev = match dev {
        Ok(dev) => dev,
        Err(err) => {
            results.insert("saoma.qr".to_owned(), Err(format!("{err:#}")));
            return Ok(results);
        }
    };
    let mut passes = vec![(None, options.concurrency, phase)];
    if options.high_concurrency > 0 {
        passes.push((
            Some(options.high_concurrency),
            options.high_concurrency,
            high_phase(options),
        ));
    }
    for (workers, n, phase) in passes {
        let label = match workers {
            None => "saoma WeChat QR login".to_owned(),
            Some(n) => format!("saoma WeChat QR login ({n} connections)"),
        };
        let qr = measure(
            &label,
            Ok((0..n).map(|_| scenarios::QrLogin::new(dev.port)).collect()),
            phase,
            Some(dev.pid),
        )
        .await;
        if qr.is_err() {
            say(&dev.log_tail());
        }
        results.insert(pass_key("saoma.qr", workers), qr);
    }
    dev.stop().await?;
    Ok(results)
}

/// `saoma dev` (the simulator mounted at /wechat-sim) on `database_url`, in `dir`/dev.
async fn start_dev(saoma: &Path, database_url: &str, dir: &Path) -> anyhow::Result<Server> {
    let dev_dir = dir.join("dev");
    std::fs::create_dir_all(&dev_dir)?;
    let dev_port = procs::free_port()?;
    let (dev, _) = Server::start(Spec {
        name: "saoma dev",
        program: saoma,
        args: &["dev"],
        cwd: &dev_dir,
        env: vec![
            ("SAOMA_PORT".into(), dev_port.to_string()),
            ("SAOMA_DATABASE_URL".into(), database_url.to_owned()),
            ("SAOMA_PASSWORD_BCRYPT_COST".into(), "10".into()),
            ("SAOMA_LOG".into(), "warn".into()),
            ("SAOMA_RATE_LIMIT_ENABLED".into(), "false".into()),
            ("SAOMA_METRICS_PORT".into(), "0".into()),
        ],
        port: dev_port,
        health: "/health",
    })
    .await?;
    Ok(dev)
}

/// better-auth on `database` (sqlite:<path> or a Postgres URL): session check, sign-in,
/// sign-up. Failures are recorded, not fatal.
async fn peer(out: &mut Backend, database: &str, dir: &Path, options: &Options, phase: Phase) {
    let n = options.concurrency;
    let result = async {
        let peer_dir = std::fs::canonicalize(&options.peer_dir)
            .with_context(|| format!("{} not found", options.peer_dir.display()))?;
        anyhow::ensure!(
            peer_dir.join("node_modules").is_dir(),
            "{}/node_modules missing: npm ci there (bench/run does)",
            peer_dir.display()
        );
        let port = procs::free_port()?;
        let server_js = peer_dir.join("server.mjs").display().to_string();
        let node = PathBuf::from("node");
        let (server, _) = Server::start(Spec {
            name: "better-auth",
            program: &node,
            args: &[server_js.as_str()],
            // server.mjs resolves its packages from its own folder; logs go to the temp dir.
            cwd: dir,
            env: vec![
                ("PEER_PORT".into(), port.to_string()),
                ("PEER_DATABASE".into(), database.to_owned()),
                ("NODE_ENV".into(), "production".into()),
            ],
            port,
            health: "/health",
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = server.rss_kib();
        let sessions = scenarios::peer_sessions(port, n).await?;
        let pid = Some(server.pid);
        let mut results = BTreeMap::new();
        results.insert(
            "peer.get_session",
            measure(
                "better-auth get-session",
                Ok(sessions
                    .iter()
                    .map(|s| {
                        scenarios::Get::new(
                            port,
                            "/api/auth/get-session",
                            vec![("cookie".into(), s.cookie.clone())],
                        )
                        .refusing("null")
                    })
                    .collect()),
                phase,
                pid,
            )
            .await,
        );
        results.insert(
            "peer.sign_in",
            measure(
                "better-auth sign-in",
                Ok(sessions
                    .iter()
                    .map(|s| scenarios::PeerSignIn::new(port, s))
                    .collect()),
                phase,
                pid,
            )
            .await,
        );
        results.insert(
            "peer.sign_up",
            measure(
                "better-auth sign-up",
                Ok((0..n).map(|_| scenarios::PeerSignUp::new(port)).collect()),
                phase,
                pid,
            )
            .await,
        );
        let load = results
            .values()
            .filter_map(|r| r.as_ref().ok().and_then(|s| s.peak_rss_kib))
            .max();
        server.stop().await?;
        Ok::<_, anyhow::Error>((results, idle, load))
    }
    .await;
    match result {
        Ok((results, idle, load)) => {
            for (k, v) in results {
                out.results.insert(k.to_owned(), v);
            }
            out.peer_memory = Memory {
                idle_kib: idle,
                load_kib: load,
                ..Memory::default()
            };
        }
        Err(err) => {
            say(&format!("  better-auth: FAILED {err:#}"));
            for key in ["peer.get_session", "peer.sign_in", "peer.sign_up"] {
                out.results.insert(key.to_owned(), Err(format!("{err:#}")));
            }
        }
    }
}

/// The backend-independent floors: empty handler, one HS256 verification, bcrypt cost 10.
/// This binary's `floor-server` (the HTTP floors) in its own process.
async fn start_floor_server(temp: &Path) -> anyhow::Result<Server> {
    let port = procs::free_port()?;
    let me = std::env::current_exe()?;
    let port_arg = port.to_string();
    let (server, _) = Server::start(Spec {
        name: "floor server",
        program: &me,
        args: &["floor-server", "--port", &port_arg],
        cwd: temp,
        env: Vec::new(),
        port,
        health: "/health",
    })
    .await?;
    Ok(server)
}

async fn shared_floors(
    token: &str,
    temp: &Path,
    concurrency: usize,
    phase: Phase,
) -> anyhow::Result<BTreeMap<String, Measured>> {
    let mut results = BTreeMap::new();
    let server = start_floor_server(temp).await?;
    let port = server.port;
    let pid = Some(server.pid);
    results.insert(
        "floor.http".to_owned(),
        measure(
            "HTTP floor (empty handler)",
            Ok((0..concurrency)
                .map(|_| scenarios::Get::new(port, "/empty", Vec::new()))
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    let bearer = format!("Bearer {token}");
    results.insert(
        "floor.jwt".to_owned(),
        measure(
            "HTTP+JWT floor",
            Ok((0..concurrency)
                .map(|_| {
                    scenarios::Get::new(
                        port,
                        "/jwt",
                        vec![("authorization".into(), bearer.clone())],
                    )
                })
                .collect()),
            phase,
            pid,
        )
        .await,
    );
    server.stop().await?;
    results.insert(
        "floor.bcrypt".to_owned(),
        measure(
            "bcrypt cost 10 verify",
            dbfloor::bcrypt_jobs(concurrency, PASSWORD),
            phase,
            Some(std::process::id()),
        )
        .await,
    );
    Ok(results)
}

async fn sqlite_version(path: &str) -> anyhow::Result<String> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    Ok(version)
}

/// Two fresh databases on the Postgres server (saoma's and the peer's), dropped at the end.
struct Postgres {
    admin_url: String,
    names: Vec<String>,
    saoma_url: String,
    peer_url: String,
}

impl Postgres {
    async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to Postgres at {admin_url}"))?;
        let stamp = format!(
            "{}_{}",
            std::process::id(),
            chrono::Utc::now().format("%H%M%S")
        );
        let names = vec![
            format!("saoma_bench_{stamp}"),
            format!("saoma_bench_peer_{stamp}"),
        ];
        for name in &names {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await?;
        }
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(admin_url);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            saoma_url: format!("{base}/{}", names[0]),
            peer_url: format!("{base}/{}", names[1]),
            names,
        })
    }

    async fn version(&self) -> anyhow::Result<String> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await?;
        Ok(version)
    }

    async fn drop_all(&self) {
        let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await else {
            return;
        };
        for name in &self.names {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}
