//! The load tool: the one way this service's speed is measured (docs/performance.md).
//!
//! It starts the release server itself (`--start`, SQLite by default) or targets a running
//! one (`--url`), seeds one account per connection through the public API (3 devices × 2
//! sessions each), then runs each scenario for a fixed time with C connections, each
//! rotating through its own account's tokens. It prints a markdown table: req/s, p50/p99,
//! errors (an HTTP 200 whose body has `errors` is an error), the server's CPU time per
//! request and RSS, and how busy the tool itself was.
//!
//! `cargo run --release --bin load -- --help`

mod client;
mod fanout;
mod scenario;
mod server;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use scenario::{Scenario, Seeded};

#[derive(Parser)]
#[command(about = "Seeds Sessionhub through its API and measures each scenario")]
struct Options {
    /// Start the release server next to this binary on this database URL (`sqlite` for a
    /// fresh temporary SQLite file; a `postgres://` URL must name an empty database).
    #[arg(long, conflicts_with = "url")]
    start: Option<String>,
    /// A running server to measure instead; it must accept `--identity-secret`.
    #[arg(long)]
    url: Option<String>,
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
    /// Unmeasured run before each scenario, to warm caches and connections.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
}

/// Share of its one core above which the tool, not the server, limits the rate.
const TOOL_BOUND: f64 = 0.9;

// One thread, as `wrk -t1` would: the other core is left to the server.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let (target, _server) = match (&options.start, &options.url) {
        (_, Some(url)) => {
            let secret = options
                .identity_secret
                .clone()
                .context("--url needs --identity-secret (or SESSIONHUB_IDENTITY_SECRET)")?;
            (server::Target::new(url.clone(), secret, options.pid), None)
        }
        (start, None) => {
            let database = start.as_deref().unwrap_or("sqlite");
            let server = server::Started::launch(database).await?;
            (server.target(), Some(server))
        }
    };
    let target = std::sync::Arc::new(target);
    let seeded = Seeded::accounts(&target, options.connections).await?;
    println!(
        "{} connections, {} s per scenario, server at {}\n",
        options.connections,
        options.duration.as_secs_f64(),
        target.base
    );
    println!(
        "| scenario | req/s | p50 | p99 | errors | server CPU per request | load tool CPU | server RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut failed = Vec::new();
    let mut bound = Vec::new();
    for scenario in &options.scenarios {
        scenario.run(&target, &seeded, options.warmup).await?;
        let (server_before, tool_before) = (target.cpu_seconds(), server::cpu_seconds("self"));
        let measured = scenario.run(&target, &seeded, options.duration).await?;
        let server_cpu = target.cpu_seconds().zip(server_before).map(|(a, b)| a - b);
        let tool_cpu = server::cpu_seconds("self")
            .zip(tool_before)
            .map(|(a, b)| a - b);
        let tool_share = tool_cpu.map(|cpu| cpu / options.duration.as_secs_f64());
        println!(
            "| `{}` | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} | {} |",
            scenario.name(),
            measured.per_second(),
            measured.percentile_ms(0.50),
            measured.percentile_ms(0.99),
            measured.errors,
            server_cpu.map_or("?".into(), |cpu| format!(
                "{:.0} µs",
                cpu * 1e6 / measured.count().max(1) as f64
            )),
            tool_share.map_or("?".into(), |share| format!("{:.0}%", share * 100.0)),
            target
                .resident_mib()
                .map_or("?".into(), |mib| format!("{mib:.1} MiB")),
        );
        if let Some(example) = &measured.first_error {
            failed.push(format!(
                "{}: {} errors, e.g. {example}",
                scenario.name(),
                measured.errors
            ));
        }
        if tool_share.is_some_and(|share| share > TOOL_BOUND) {
            bound.push(scenario.name());
        }
    }
    if options.fanout_subscribers > 0 {
        let fanout = fanout::revoke_fanout(&target, options.fanout_subscribers).await?;
        println!(
            "\n`revoke-fanout`: {} sessions of one account subscribed to `signedOut`; revokeAllSessions answered in {:.1} ms; {} of {} told, the last {:.1} ms after the answer",
            fanout.subscribers,
            fanout.answered_after.as_secs_f64() * 1000.0,
            fanout.told,
            fanout.subscribers,
            fanout.last_told_after_answer.as_secs_f64() * 1000.0,
        );
        if fanout.told < fanout.subscribers {
            failed.push(format!(
                "revoke-fanout: {} sockets were never told",
                fanout.subscribers - fanout.told
            ));
        }
    }
    if !bound.is_empty() {
        eprintln!(
            "\nNOTE: the load tool used most of its core in {}: there the rate is the tool's \
             limit, not the server's (compare the server's CPU per request instead).",
            bound.join(", ")
        );
    }
    if !failed.is_empty() {
        eprintln!("\nERRORS: these runs are not valid measurements:");
        for line in &failed {
            eprintln!("  {line}");
        }
        bail!("{} scenario(s) had errors", failed.len());
    }
    Ok(())
}
