//! The HTTP surface: routes, and what is shared by every request.

mod client;
mod websocket;

pub use client::ClientLookup;
pub use websocket::ConnectionSlots;
mod graphql;

use std::sync::Arc;

use axum::{Router, extract::DefaultBodyLimit, routing::get};
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::{config::WebSocketConfig, graphql::AppSchema, service::Services};

/// Largest request body accepted. GraphQL requests are small; this leaves room for a
/// batch while keeping a flood of large bodies cheap to refuse.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub services: Services,
    pub clients: Arc<ClientLookup>,
    pub websocket: WebSocketLimits,
    pub connections: Arc<ConnectionSlots>,
    /// Cancelled when the server stops; long-lived connections watch it.
    pub shutdown: CancellationToken,
}

/// Timeouts and sizes every subscription connection applies.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketLimits {
    pub init_timeout: std::time::Duration,
    pub keepalive: std::time::Duration,
    pub max_message_bytes: usize,
}

impl From<&WebSocketConfig> for WebSocketLimits {
    fn from(config: &WebSocketConfig) -> Self {
        Self {
            init_timeout: config.ws_init_timeout,
            keepalive: config.ws_keepalive,
            max_message_bytes: config.ws_max_message_bytes,
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(websocket::upgrade))
        .route("/graphiql", get(graphql::graphiql))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
