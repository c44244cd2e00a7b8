//! What operators see of each GraphQL request over HTTP: one log line at info (operation
//! name, outcome code, duration, client) and its metrics. Done here rather than as an
//! async-graphql extension, whose hook every field of every request would pass through
//! (docs/performance.md); and skipped altogether while neither is wanted.

use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse};

use super::errors::answers;
use crate::{
    config::ClientIpLogging,
    graphql::{DocumentCache, error_code},
    service::ClientInfo,
    telemetry::{self, logging::client_address, metrics},
};

/// What a request's operation is called by: its query text, in whose parsed document the
/// name is looked up, and the name the client asked to run.
struct Named {
    query: String,
    operation_name: Option<String>,
}

/// A batch being observed, from before it runs to its answer.
pub(super) struct Observation {
    started: Instant,
    requests: Vec<Named>,
    /// The client's address as the log shows it.
    client: Option<String>,
}

impl Observation {
    /// Starts observing `batch` from `client`, unless neither the request log nor metrics
    /// are on.
    pub(super) fn start(
        batch: &BatchRequest,
        client: &ClientInfo,
        client_ips: ClientIpLogging,
    ) -> Option<Self> {
        if !tracing::enabled!(tracing::Level::INFO) && !metrics::enabled() {
            return None;
        }
        let requests = batch
            .iter()
            .map(|request| Named {
                query: request.query.clone(),
                operation_name: request.operation_name.clone(),
            })
            .collect();
        Some(Self {
            started: Instant::now(),
            requests,
            client: client_address(client.ip_address.as_deref(), client_ips),
        })
    }

    /// Logs and counts each request of the batch with its outcome: `OK`, or the code of
    /// its first error.
    pub(super) fn finish(self, documents: &DocumentCache, response: &BatchResponse) {
        let elapsed = self.started.elapsed();
        for (named, response) in self.requests.into_iter().zip(answers(response)) {
            let operation = documents.operation_name(&named.query, named.operation_name.as_deref());
            let operation = operation.as_deref().map(telemetry::bounded);
            let code = response.errors.first().map_or("OK", error_code);
            metrics::operation(operation, code, elapsed);
            tracing::info!(
                operation = operation.unwrap_or("(anonymous)"),
                code,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                client = self.client.as_deref(),
                "graphql request"
            );
        }
    }
}
