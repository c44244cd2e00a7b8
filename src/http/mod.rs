//! The HTTP surface: routes, and what is shared by every request.

mod client;

pub use client::ClientLookup;
mod graphql;

use std::sync::Arc;

use axum::{Router, extract::DefaultBodyLimit, routing::get};
use tower_http::trace::TraceLayer;

use crate::{graphql::AppSchema, service::Services};

/// Largest request body accepted. GraphQL requests are small; this leaves room for a
/// batch while keeping a flood of large bodies cheap to refuse.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub services: Services,
    pub clients: Arc<ClientLookup>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/graphiql", get(graphql::graphiql))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
