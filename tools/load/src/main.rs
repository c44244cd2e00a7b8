//! The load tool: the one way this service's speed is measured (docs/performance.md).
//!
//! It starts the release server itself (`--start`, SQLite by default) or targets a running
//! one (`--url`), seeds one account per connection through the public API (3 devices × 2
//! sessions each), then runs each scenario for a fixed time with C connections, each
//! rotating through its own account's tokens. It prints a markdown table: req/s, p50/p99,
//! errors (an HTTP 200 whose body has `errors` is an error), the server's CPU time per
//! request and RSS, and how busy the tool itself was.
//!
//! `load seed` fills a database directly instead, as years of use would, and `--at-size`
//! measures a server on it against one on an empty database, in the same run.
//!
//! `cargo run --release --bin load -- --help`

mod client;
mod fanout;
mod housekeeping;
mod idle;
mod live;
mod report;
mod rounds;
mod scenario;
mod seed;
mod server;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;
use report::{Report, Usage};
use scenario::{Scenario, Seeded};
use server::{Postgres, Started, Target};

#[derive(Parser)]
#[command(
    about = "Seeds Sessionhub through its API and measures each scenario",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Brings a database's schema up to date with the release server next to this tool,
    /// then adds accounts to it directly, for `--at-size`.
    Seed {
        /// `sqlite://FILE?mode=rwc`, or a `postgres://` URL (the database is made if
        /// missing).
        #[arg(long)]
        database: String,
        #[command(flatten)]
        shape: seed::Shape,
    },
}

#[derive(clap::Args)]
struct Options {
    /// Start the release server next to this binary: `sqlite` for a fresh temporary SQLite
    /// file, or a `postgres://` URL of a server to make a fresh database on (dropped
    /// afterwards).
    #[arg(long, conflicts_with = "url")]
    start: Option<String>,
    /// A running server to measure instead; it must accept `--identity-secret`.
    #[arg(long)]
    url: Option<String>,
    /// A database `load seed` filled: the server under test runs on it as it is (and
    /// leaves it so), a baseline on a fresh, empty database of the same kind, both with
    /// the `--set` settings; then both servers' background jobs are timed on `--due` rows.
    #[arg(long, conflicts_with_all = ["url", "start", "baseline", "baseline_binary"])]
    at_size: Option<String>,
    /// With `--at-size`: rows of each kind planted for the background jobs to do.
    #[arg(long, default_value_t = 10_000)]
    due: u64,
    /// The HS256 secret the target server verifies identity tokens with.
    #[arg(long, env = "SESSIONHUB_IDENTITY_SECRET")]
    identity_secret: Option<String>,
    /// The target server's process id, to read its resident memory (with `--url`).
    #[arg(long)]
    pid: Option<u32>,
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "typename-anon,typename,heartbeat,devices,sessions,start-session"
    )]
    scenarios: Vec<Scenario>,
    /// Concurrent connections (one seeded account each).
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// How long each scenario runs.
    #[arg(long, default_value = "8s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Sessions of one account subscribed to `signedOut` for `revoke-fanout`; 0 skips it.
    #[arg(long, default_value_t = 1000)]
    fanout_subscribers: usize,
    /// Instances the websocket scenarios spread over: `revoke-fanout`'s subscribers, and
    /// the push rounds' sockets (on the last; changes go through the first). More than one
    /// needs `--start postgres://…`.
    #[arg(long, default_value_t = 1)]
    fanout_instances: usize,
    /// Rounds of `sign-out-push` and of `push-after-subscribe`; 0 skips them.
    #[arg(long, default_value_t = 100)]
    push_rounds: usize,
    /// Sockets that `idle-sockets` holds open; 0 skips it.
    #[arg(long, default_value_t = 10_000)]
    idle_sockets: usize,
    /// Subscriptions per idle socket, the first of `signedOut`, `sessionRevoked`,
    /// `sessionStarted` (an account page holds all three).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    idle_subscriptions: u8,
    /// Environment of the started server beyond the tool's own (`KEY=VALUE`, repeatable),
    /// e.g. `SESSIONHUB_SESSION_CACHE_SIZE=0`.
    #[arg(long = "set", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Also start a baseline server with these settings (`KEY=VALUE`, repeatable), and
    /// measure each scenario on it right before the server under test: before and after
    /// in one run, with the ratio.
    #[arg(long = "baseline", value_parser = parse_setting)]
    baseline: Vec<(String, String)>,
    /// Also start a baseline server from this binary (another build of `sessionhub`), with
    /// the `--baseline` settings if any.
    #[arg(long)]
    baseline_binary: Option<PathBuf>,
    /// Unmeasured run before each scenario, to warm caches and connections.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
}

fn parse_setting(setting: &str) -> Result<(String, String), String> {
    let (key, value) = setting
        .split_once('=')
        .ok_or_else(|| format!("`{setting}` is not KEY=VALUE"))?;
    Ok((key.to_owned(), value.to_owned()))
}

/// One server under load, and the accounts seeded on it.
struct Bench {
    label: &'static str,
    target: Arc<Target>,
    seeded: Seeded,
    started: Option<Started>,
    /// The binary and settings it was started with, for a second instance.
    launched: Option<(PathBuf, Vec<(String, String)>)>,
    /// Where its metrics are served, when the tool asked for them.
    metrics_url: Option<String>,
}

/// Where a started server keeps its data.
enum Storage<'a> {
    /// A fresh database: `sqlite`, or a `postgres://` server to make one on.
    Fresh(&'a str),
    /// A database as it is, left as it is afterwards.
    Existing(&'a str),
}

impl Bench {
    async fn start(
        label: &'static str,
        binary: &Path,
        storage: Storage<'_>,
        settings: &[(String, String)],
        connections: usize,
    ) -> anyhow::Result<Self> {
        let started = match storage {
            Storage::Fresh(database) => Started::launch(binary, database, settings).await?,
            Storage::Existing(url) => Started::launch_on(binary, url, settings).await?,
        };
        let target = Arc::new(started.target());
        let seeded = Seeded::accounts(&target, connections).await?;
        let metrics_url = settings
            .iter()
            .find(|(key, _)| key == "SESSIONHUB_METRICS_LISTEN")
            .map(|(_, address)| format!("http://{address}/metrics"));
        Ok(Self {
            label,
            target,
            seeded,
            started: Some(started),
            launched: Some((binary.to_owned(), settings.to_owned())),
            metrics_url,
        })
    }

    /// The websocket scenarios across `instances` instances of this server's deployment:
    /// this one and `instances - 1` peers started for them, stopped after.
    async fn live(&self, options: &Options, report: &mut report::Report) -> anyhow::Result<()> {
        let mut peers = Vec::new();
        if options.fanout_instances > 1 {
            let (Some(started), Some((binary, settings))) = (&self.started, &self.launched) else {
                bail!("--fanout-instances needs servers the tool starts (--start)");
            };
            for _ in 1..options.fanout_instances {
                peers.push(started.peer(binary, settings).await?);
            }
        }
        let peer_targets: Vec<Target> = peers.iter().map(Started::target).collect();
        let targets: Vec<&Target> = std::iter::once(&*self.target)
            .chain(&peer_targets)
            .collect();
        let measured = self.live_on(&targets, options, report).await;
        for peer in peers {
            peer.stop().await?;
        }
        measured
    }

    async fn live_on(
        &self,
        targets: &[&Target],
        options: &Options,
        report: &mut report::Report,
    ) -> anyhow::Result<()> {
        if options.fanout_subscribers > 0 {
            let fanout = fanout::revoke_fanout(targets, options.fanout_subscribers).await?;
            report.fanout(self.label, &fanout);
        }
        if options.push_rounds > 0 {
            let rounds = rounds::sign_out_push(targets, options.push_rounds).await?;
            report.rounds(self.label, "sign-out-push", &rounds);
            let rounds = rounds::push_after_subscribe(targets, options.push_rounds).await?;
            report.rounds(self.label, "push-after-subscribe", &rounds);
        }
        Ok(())
    }
}

// One thread, as `wrk -t1` would: the other core is left to the server.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Seed { database, shape }) => seed_database(&database, shape).await,
        None => measure(cli.options).await,
    }
}

/// `load seed`: the schema from the release server's own `migrate`, then the accounts.
async fn seed_database(database: &str, shape: seed::Shape) -> anyhow::Result<()> {
    if database.starts_with("postgres") {
        Postgres::ensure(database).await?;
    }
    let started = std::time::Instant::now();
    let migrated = tokio::process::Command::new(server::release_binary()?)
        .arg("migrate")
        .env("DATABASE_URL", database)
        .status()
        .await?;
    if !migrated.success() {
        bail!("`sessionhub migrate` failed: {migrated}");
    }
    let db = sea_orm::Database::connect(database).await?;
    let before = seed::seed(&db, shape).await?;
    println!(
        "{database}: {} seeded accounts (was {before}) in {:.0} s",
        before + shape.accounts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn measure(options: Options) -> anyhow::Result<()> {
    let compared = !options.baseline.is_empty()
        || options.baseline_binary.is_some()
        || options.at_size.is_some();
    let mut benches = Vec::new();
    if let Some(at_size) = &options.at_size {
        let binary = server::release_binary()?;
        let empty = if at_size.starts_with("sqlite") {
            "sqlite"
        } else {
            at_size
        };
        for (label, storage) in [
            ("empty", Storage::Fresh(empty)),
            ("at size", Storage::Existing(at_size)),
        ] {
            let settings = with_jobs_measured(&options.settings)?;
            let bench = Bench::start(label, &binary, storage, &settings, options.connections);
            benches.push(bench.await?);
        }
        if !at_size.starts_with("sqlite") {
            // Statistics for the accounts just seeded on both, as autovacuum gathers within
            // a minute or so of a new table's first rows: a fresh database without them is
            // planned from guesses, and would be no fair "empty".
            for bench in &benches {
                if let Some(started) = &bench.started {
                    let db = sea_orm::Database::connect(started.database_url()).await?;
                    sea_orm::ConnectionTrait::execute_unprepared(&db, "ANALYZE").await?;
                }
            }
        }
    } else if let Some(url) = &options.url {
        if compared || !options.settings.is_empty() {
            bail!("--set and --baseline… configure servers the tool starts, not --url");
        }
        let secret = options
            .identity_secret
            .clone()
            .context("--url needs --identity-secret (or SESSIONHUB_IDENTITY_SECRET)")?;
        let target = Arc::new(Target::new(url.clone(), secret, options.pid));
        let seeded = Seeded::accounts(&target, options.connections).await?;
        benches.push(Bench {
            label: "",
            target,
            seeded,
            started: None,
            launched: None,
            metrics_url: None,
        });
    } else {
        let database = options.start.as_deref().unwrap_or("sqlite");
        let binary = server::release_binary()?;
        if compared {
            let baseline_binary = options.baseline_binary.as_deref().unwrap_or(&binary);
            let baseline = Bench::start(
                "baseline",
                baseline_binary,
                Storage::Fresh(database),
                &options.baseline,
                options.connections,
            );
            benches.push(baseline.await?);
        }
        let label = if compared { "under test" } else { "" };
        let under_test = Bench::start(
            label,
            &binary,
            Storage::Fresh(database),
            &options.settings,
            options.connections,
        );
        benches.push(under_test.await?);
    }
    println!(
        "{} connections, {} s per scenario{}\n",
        options.connections,
        options.duration.as_secs_f64(),
        match (&options.baseline_binary, options.baseline.is_empty()) {
            (None, true) => String::new(),
            (None, false) => format!("; baseline: {}", describe(&options.baseline)),
            (Some(binary), _) => format!(
                "; baseline: {} {}",
                binary.display(),
                describe(&options.baseline)
            ),
        }
    );
    let mut report = Report::new(compared);
    for scenario in &options.scenarios {
        for (index, bench) in benches.iter().enumerate() {
            // The first of compared servers is the one the others are compared with.
            let baseline = compared && index == 0;
            scenario
                .run(&bench.target, &bench.seeded, options.warmup)
                .await?;
            let (server_before, tool_before) =
                (bench.target.cpu_seconds(), server::cpu_seconds("self"));
            let measured = scenario
                .run(&bench.target, &bench.seeded, options.duration)
                .await?;
            let usage = Usage {
                server_cpu: bench
                    .target
                    .cpu_seconds()
                    .zip(server_before)
                    .map(|(a, b)| a - b),
                tool_cpu: server::cpu_seconds("self")
                    .zip(tool_before)
                    .map(|(a, b)| a - b),
                resident_mib: bench.target.resident_mib(),
            };
            report.row(
                *scenario,
                bench.label,
                baseline,
                &measured,
                &usage,
                options.duration,
            );
        }
    }
    report.targets();
    if options.at_size.is_some() {
        let run = std::process::id().to_string();
        let mut measured = Vec::new();
        for bench in &benches {
            let (Some(metrics_url), Some(started)) = (&bench.metrics_url, &bench.started) else {
                continue;
            };
            let jobs =
                housekeeping::measure(metrics_url, started.database_url(), options.due, &run);
            measured.push((bench.label, jobs.await?));
        }
        report.housekeeping(options.due, &measured);
    }
    if options.fanout_subscribers > 0 || options.push_rounds > 0 || options.idle_sockets > 0 {
        report.live_header();
    }
    for bench in &benches {
        bench.live(&options, &mut report).await?;
    }
    if options.idle_sockets > 0 {
        for bench in &benches {
            let idle = idle::idle_sockets(
                &bench.target,
                options.idle_sockets,
                options.idle_subscriptions.into(),
            )
            .await?;
            report.idle(bench.label, &idle);
        }
    }
    for bench in benches {
        if let Some(started) = bench.started {
            started.stop().await?;
        }
    }
    report.finish()
}

/// `settings`, and what lets `--at-size` time the background jobs: their metrics on a
/// port of their own, and passes every second.
fn with_jobs_measured(settings: &[(String, String)]) -> anyhow::Result<Vec<(String, String)>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut settings = settings.to_vec();
    settings.extend(
        [
            ("SESSIONHUB_METRICS_LISTEN", format!("127.0.0.1:{port}")),
            ("SESSIONHUB_SWEEP_INTERVAL", "1s".to_owned()),
            ("SESSIONHUB_RETENTION_INTERVAL", "1s".to_owned()),
        ]
        .map(|(key, value)| (key.to_owned(), value)),
    );
    Ok(settings)
}

fn describe(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(key, value)| format!("`{key}={value}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
