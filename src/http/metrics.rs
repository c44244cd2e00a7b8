//! `GET /metrics`, Prometheus text, on a listener of its own (`SESSIONHUB_METRICS_LISTEN`)
//! so that only the monitoring network reaches it.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::{
    service::Services,
    telemetry::{StatementCount, metrics},
};

/// What a scrape reads.
#[derive(Clone)]
pub struct MetricsState {
    pub handle: PrometheusHandle,
    pub services: Services,
    pub statements: StatementCount,
}

pub fn metrics_router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> Response {
    // A database that does not answer leaves the gauge at its last value; `/readyz` and
    // the operations' codes say why.
    let active = state.services.count_active_sessions().await.ok();
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
