//! `GET /metrics`, Prometheus text, on a listener of its own (`SESSIONHUB_METRICS_LISTEN`)
//! so that only the monitoring network reaches it.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Duration, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Mutex;

use crate::{
    service::Services,
    telemetry::{StatementCount, metrics},
};

/// How long a count of the active sessions is shown before it is taken again. The count
/// reads the index of every live session of the service (about a second per million on
/// PostgreSQL), too much for each scrape of each instance.
const ACTIVE_SESSIONS_COUNTED_EVERY: Duration = Duration::minutes(1);

/// The last count of active sessions: when it was taken, and the count.
type Counted = (DateTime<Utc>, u64);

/// What a scrape reads.
#[derive(Clone)]
pub struct MetricsState {
    pub handle: PrometheusHandle,
    pub services: Services,
    pub statements: StatementCount,
    active_sessions: Arc<Mutex<Option<Counted>>>,
}

impl MetricsState {
    pub fn new(handle: PrometheusHandle, services: Services, statements: StatementCount) -> Self {
        Self {
            handle,
            services,
            statements,
            active_sessions: Arc::default(),
        }
    }

    /// The active sessions, counted at most once a minute (scrapes meanwhile wait for the
    /// one counting, then share its count). A database that does not answer leaves the
    /// gauge at its last value; `/readyz` and the operations' codes say why.
    async fn active_sessions(&self) -> Option<u64> {
        let mut last = self.active_sessions.lock().await;
        let now = self.services.now();
        if let Some((counted_at, count)) = *last
            && now - counted_at < ACTIVE_SESSIONS_COUNTED_EVERY
        {
            return Some(count);
        }
        let count = self.services.count_active_sessions().await.ok()?;
        *last = Some((now, count));
        Some(count)
    }
}

pub fn metrics_router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> Response {
    let active = state.active_sessions().await;
    let body = metrics::render(&state.handle, state.statements.get(), active);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}
