//! The server's own periodic work, beside the requests: recording what time ended
//! (expired sessions, lapsed trust), applying the retention horizons, and forgetting the
//! rate-limit buckets of clients that went quiet. Each job runs on its own interval until
//! shutdown; a failed run is logged and tried again on the next tick.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::{
    service::{RetentionReport, ServiceResult, Services},
    telemetry::metrics,
};

/// How often the jobs run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Expired sessions and lapsed trust.
    pub sweep: Duration,
    /// The retention horizons.
    pub retention: Duration,
}

/// How often idle rate-limit buckets are dropped.
const RATE_LIMIT_CLEANUP: Duration = Duration::from_secs(60);

/// Starts every job on `services` until `shutdown`.
pub fn spawn(services: &Services, schedule: Schedule, shutdown: &CancellationToken) {
    tokio::spawn(every(schedule.sweep, shutdown.clone(), {
        let services = services.clone();
        move || sweep(services.clone())
    }));
    tokio::spawn(every(schedule.retention, shutdown.clone(), {
        let services = services.clone();
        move || apply_retention(services.clone())
    }));
    tokio::spawn(every(RATE_LIMIT_CLEANUP, shutdown.clone(), {
        let services = services.clone();
        move || {
            services.rate_limits().forget_idle();
            std::future::ready(())
        }
    }));
}

/// Runs `job` every `period` (the first run one period after start, so a starting server
/// serves before it sweeps) until `shutdown`; a run that overruns delays the next instead
/// of piling up.
async fn every<F, Fut>(period: Duration, shutdown: CancellationToken, job: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = job() => {}
        }
    }
}

/// Records expired sessions as ended and lapsed trust as lapsed, so each is logged and
/// pushed to subscribers. Neither needs the sweep to take effect: an expired session is
/// refused, and lapsed trust reads as none, the moment the time comes.
async fn sweep(services: Services) {
    match timed("sweep", services.sweep_expired_sessions(), |ended| *ended).await {
        Ok(0) => {}
        Ok(ended) => tracing::info!(ended, "recorded expired sessions as ended"),
        Err(error) => tracing::warn!(%error, "expiry sweep failed; retrying next tick"),
    }
    match timed("trust_lapse", services.sweep_lapsed_trust(), |lapsed| {
        *lapsed
    })
    .await
    {
        Ok(0) => {}
        Ok(lapsed) => tracing::info!(lapsed, "recorded lapsed device trust"),
        Err(error) => tracing::warn!(%error, "trust sweep failed; retrying next tick"),
    }
}

/// Forgets devices unseen for long and deletes what is past its horizon.
async fn apply_retention(services: Services) {
    match timed(
        "retention",
        services.apply_retention(),
        RetentionReport::rows,
    )
    .await
    {
        Ok(report) if report == Default::default() => {}
        Ok(report) => tracing::info!(
            forgotten_devices = report.forgotten_devices,
            deleted_sessions = report.deleted_sessions,
            deleted_devices = report.deleted_devices,
            deleted_events = report.deleted_events,
            deleted_deliveries = report.deleted_deliveries,
            "applied retention"
        ),
        Err(error) => tracing::warn!(%error, "retention failed; retrying next tick"),
    }
}

/// Runs one pass of `job` and records its duration and the rows it handled (`rows` of
/// what it returns), so an operator sees what housekeeping costs as the tables grow.
async fn timed<T>(
    job: &'static str,
    pass: impl Future<Output = ServiceResult<T>>,
    rows: impl Fn(&T) -> usize,
) -> ServiceResult<T> {
    let started = Instant::now();
    let outcome = pass.await;
    let handled = outcome.as_ref().map_or(0, &rows);
    metrics::job(job, handled, started.elapsed());
    outcome
}
