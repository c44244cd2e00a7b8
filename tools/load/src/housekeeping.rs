//! `--at-size`'s measurement of the background jobs: the same due work planted in each
//! database, and how long the server's own passes took to do it, read from its metrics.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::Database;

use crate::seed;

/// The jobs, and the rows each does for one planted row of each kind.
pub const JOBS: [(&str, u64); 3] = [("sweep", 1), ("trust_lapse", 1), ("retention", 3)];

/// The longest a planted backlog may take before the run counts as failed.
const PATIENCE: Duration = Duration::from_secs(600);

/// What the server's job metrics said at one moment, per job in [`JOBS`]'s order.
#[derive(Clone, Copy, Default)]
struct Totals {
    seconds: [f64; 3],
    runs: [f64; 3],
    rows: [f64; 3],
}

/// What one server's jobs did.
pub struct Housekeeping {
    /// Mean duration of a pass before the due work was planted (it found nothing or
    /// little), per job.
    pub idle_pass: [Option<Duration>; 3],
    /// Total duration of the passes that did the planted work, per job.
    pub due_work: [Duration; 3],
    /// Passes that took, per job.
    pub due_runs: [u64; 3],
    /// Rows each job handled for it.
    pub rows: [u64; 3],
}

/// Plants `due` rows of each kind in the database at `database_url` and waits until the
/// server's jobs, whose metrics are at `metrics_url`, have done them.
pub async fn measure(
    metrics_url: &str,
    database_url: &str,
    due: u64,
    run: &str,
) -> anyhow::Result<Housekeeping> {
    let http = reqwest::Client::new();
    let before = totals(&http, metrics_url).await?;
    let db = Database::connect(database_url)
        .await
        .context("cannot connect to the server's database")?;
    seed::plant_due_work(&db, due, run).await?;
    let given_up = Instant::now() + PATIENCE;
    let after = loop {
        let now = totals(&http, metrics_url).await?;
        let done = JOBS
            .iter()
            .enumerate()
            .all(|(job, (_, per_row))| now.rows[job] - before.rows[job] >= (due * per_row) as f64);
        if done {
            break now;
        }
        if Instant::now() > given_up {
            bail!("the jobs did not finish {due} planted rows within {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Ok(Housekeeping {
        idle_pass: std::array::from_fn(|job| {
            (before.runs[job] > 0.0)
                .then(|| Duration::from_secs_f64(before.seconds[job] / before.runs[job]))
        }),
        due_work: std::array::from_fn(|job| {
            Duration::from_secs_f64(after.seconds[job] - before.seconds[job])
        }),
        due_runs: std::array::from_fn(|job| (after.runs[job] - before.runs[job]) as u64),
        rows: std::array::from_fn(|job| (after.rows[job] - before.rows[job]) as u64),
    })
}

/// The job metrics the server renders now.
async fn totals(http: &reqwest::Client, metrics_url: &str) -> anyhow::Result<Totals> {
    let text = http
        .get(metrics_url)
        .send()
        .await
        .context("cannot read the server's metrics")?
        .text()
        .await?;
    let mut totals = Totals::default();
    for (job, (name, _)) in JOBS.iter().enumerate() {
        let label = format!("{{job=\"{name}\"}}");
        let value = |metric: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{metric}{label} ")))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        totals.seconds[job] = value("sessionhub_job_duration_seconds_sum");
        totals.runs[job] = value("sessionhub_job_duration_seconds_count");
        totals.rows[job] = value("sessionhub_job_rows_total");
    }
    Ok(totals)
}
