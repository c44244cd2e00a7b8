//! Prometheus metrics. Code records through the helpers here, where things happen;
//! [`install`] puts a Prometheus recorder behind the `metrics` facade once per process.
//! An instance that serves no metrics installs none, and every helper returns at once.
//!
//! Labels come from bounded sets only: error codes, event kinds, limit names, route
//! templates with known methods, and at most [`MAX_OPERATION_NAMES`] distinct operation
//! names of at most [`super::MAX_RECORDED_CHARS`] characters, since clients choose those.

use std::{
    collections::HashSet,
    sync::{OnceLock, RwLock},
    time::Duration,
};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const REQUESTS: &str = "sessionhub_requests_total";
const REQUEST_SECONDS: &str = "sessionhub_request_duration_seconds";
const WEBSOCKET_CONNECTIONS: &str = "sessionhub_websocket_connections";
const SUBSCRIPTIONS: &str = "sessionhub_websocket_subscriptions";
const EVENTS_PUBLISHED: &str = "sessionhub_events_published_total";
const PUSHES: &str = "sessionhub_pushes_sent_total";
const RATE_LIMITED: &str = "sessionhub_rate_limited_total";
const SESSION_CACHE: &str = "sessionhub_session_cache_lookups_total";
const STATEMENTS: &str = "sessionhub_database_statements_total";
const ACTIVE_SESSIONS: &str = "sessionhub_sessions_active";
const JOB_SECONDS: &str = "sessionhub_job_duration_seconds";
const JOB_ROWS: &str = "sessionhub_job_rows_total";

/// Latency buckets, in seconds: from a cached read (well under a millisecond) to the
/// database timeout.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Distinct operation names given a label of their own; later names count as `(other)`.
pub const MAX_OPERATION_NAMES: usize = 200;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static OPERATION_NAMES: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();

/// Installs the Prometheus recorder, once per process; the handle renders what it holds.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; metrics stay empty");
            }
            describe();
            handle
        })
        .clone()
}

/// Whether metrics are kept in this process.
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "Requests and websocket operations, by surface (graphql, admin, websocket, or a REST API), operation (GraphQL operation name or REST route) and outcome code (OK or the first error's code)"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "How long requests took, parsing included (a websocket operation: to its first answer), by surface and operation"
    );
    describe_gauge!(WEBSOCKET_CONNECTIONS, "Open subscription connections");
    describe_gauge!(SUBSCRIPTIONS, "Running subscriptions");
    describe_counter!(
        EVENTS_PUBLISHED,
        "Account events committed by this instance, by kind"
    );
    describe_counter!(PUSHES, "Subscription results sent to clients");
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit");
    describe_counter!(
        SESSION_CACHE,
        "Session checks answered from memory (hit) or from the database (miss)"
    );
    describe_counter!(STATEMENTS, "SQL statements run by this instance");
    describe_histogram!(
        JOB_SECONDS,
        Unit::Seconds,
        "How long each run of a background job (sweep, trust_lapse, retention) took"
    );
    describe_counter!(
        JOB_ROWS,
        "Rows a background job ended, lapsed, forgot or deleted, by job"
    );
    describe_gauge!(
        ACTIVE_SESSIONS,
        "Active sessions in the database (every instance reports the same count)"
    );
}

/// What a request is counted as, beside its surface.
pub enum Operation<'a> {
    /// A GraphQL operation by the name its document gives it: clients choose these, so
    /// only the first [`MAX_OPERATION_NAMES`] get a label of their own.
    Graphql(Option<&'a str>),
    /// A route template or a fixed word, one of a known few.
    Fixed(&'a str),
}

/// A request (or websocket operation) of `surface` was answered with `code`.
pub fn request(surface: &'static str, operation: &Operation<'_>, code: &str, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let operation = match operation {
        Operation::Graphql(name) => operation_label(*name),
        Operation::Fixed(fixed) => (*fixed).to_owned(),
    };
    counter!(REQUESTS, "surface" => surface, "operation" => operation.clone(), "code" => code.to_owned())
        .increment(1);
    histogram!(REQUEST_SECONDS, "surface" => surface, "operation" => operation)
        .record(elapsed.as_secs_f64());
}

/// The label an operation name counts under: itself while fewer than
/// [`MAX_OPERATION_NAMES`] names have been seen, `(other)` after, `(anonymous)` without.
fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name.map(super::bounded) else {
        return "(anonymous)".to_owned();
    };
    let names = OPERATION_NAMES.get_or_init(Default::default);
    if names.read().is_ok_and(|names| names.contains(name)) {
        return name.to_owned();
    }
    let Ok(mut names) = names.write() else {
        return "(other)".to_owned();
    };
    if names.len() < MAX_OPERATION_NAMES {
        names.insert(name.to_owned());
        name.to_owned()
    } else {
        "(other)".to_owned()
    }
}

/// One run of background job `job` handled `rows` rows in `elapsed`.
pub fn job(job: &'static str, rows: usize, elapsed: Duration) {
    if !enabled() {
        return;
    }
    histogram!(JOB_SECONDS, "job" => job).record(elapsed.as_secs_f64());
    counter!(JOB_ROWS, "job" => job).increment(rows as u64);
}

/// A request was refused by the rate `limit` (`client`, `session` or `sign_in`).
pub fn rate_limited(limit: &'static str) {
    if enabled() {
        counter!(RATE_LIMITED, "limit" => limit).increment(1);
    }
}

/// An account event of `kind` was committed by this instance.
pub fn event_published(kind: String) {
    if enabled() {
        counter!(EVENTS_PUBLISHED, "kind" => kind).increment(1);
    }
}

/// A subscription result was sent to a client.
pub fn push_sent() {
    if enabled() {
        counter!(PUSHES).increment(1);
    }
}

/// A session check was answered from memory (`hit`) or had to read the database.
pub fn session_cache(hit: bool) {
    if enabled() {
        counter!(SESSION_CACHE, "result" => if hit { "hit" } else { "miss" }).increment(1);
    }
}

/// Counts an open websocket connection until dropped.
pub fn websocket_connection() -> Open {
    Open::new(WEBSOCKET_CONNECTIONS)
}

/// Counts a running subscription until dropped.
pub fn subscription() -> Open {
    Open::new(SUBSCRIPTIONS)
}

/// One of something open, counted in a gauge while this lives.
#[must_use]
pub struct Open(Option<&'static str>);

impl Open {
    fn new(gauge_name: &'static str) -> Self {
        if !enabled() {
            return Self(None);
        }
        gauge!(gauge_name).increment(1.0);
        Self(Some(gauge_name))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(gauge_name) = self.0 {
            gauge!(gauge_name).decrement(1.0);
        }
    }
}

/// The metrics as Prometheus text, with the figures read at scrape time: the statements
/// run so far and, when the database answered, the active sessions.
pub fn render(handle: &PrometheusHandle, statements: u64, active_sessions: Option<u64>) -> String {
    counter!(STATEMENTS).absolute(statements);
    if let Some(active) = active_sessions {
        gauge!(ACTIVE_SESSIONS).set(active as f64);
    }
    handle.render()
}

/// Folds recorded latencies into their buckets now and then, so that memory stays
/// bounded however rarely metrics are scraped.
pub async fn keep_up(handle: PrometheusHandle, shutdown: tokio_util::sync::CancellationToken) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => handle.run_upkeep(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_past_the_cap_count_as_other() {
        assert_eq!(operation_label(None), "(anonymous)");
        // Long names are cut: two that differ only past the cut are one label.
        let long = format!("Long{}", "x".repeat(super::super::MAX_RECORDED_CHARS));
        let cut = super::super::bounded(&long);
        assert_eq!(operation_label(Some(&long)), cut);
        assert_eq!(operation_label(Some(&format!("{long}y"))), cut);
        for index in 1..MAX_OPERATION_NAMES {
            let name = format!("Seen{index}");
            assert_eq!(operation_label(Some(&name)), name);
        }
        assert_eq!(operation_label(Some("OneTooMany")), "(other)");
        assert_eq!(operation_label(Some("Seen7")), "Seen7");
        assert_eq!(operation_label(Some(&long)), cut);
    }
}
