//! The HTTP surface: routes, and what is shared by every request.

mod account_page;
mod admin;
mod batch;
mod client;
mod compat;
mod edge;
mod embedded;
mod errors;
mod graphiql;
mod graphql;
mod media;
mod metrics;
mod observe;
mod refusals;
mod websocket;

pub use client::ClientLookup;
pub use compat::{openapi_document, openapi_json};
pub use metrics::{MetricsState, metrics_router};
pub use websocket::{ConnectionSlots, SharedSlots};

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::json;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use observe::{Observer, Surface};

use crate::{
    config::{ApiConfig, ClientIpLogging, CompatConfig},
    graphql::{AdminSchema, AppSchema, DocumentCache},
    service::Services,
};

/// State shared by every handler: one pointer, since a handler and each layer around it
/// takes its own copy per request (a clone of every field cost about 10 µs of CPU per
/// request behind two layers, docs/performance.md).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct SharedState {
    pub schema: AppSchema,
    /// The admin API's schema, when operator keys are configured.
    pub admin_schema: Option<AdminSchema>,
    /// The schema's parsed documents, which also name the operations requests run.
    pub documents: DocumentCache,
    pub services: Services,
    pub clients: Arc<ClientLookup>,
    pub websocket: WebSocketLimits,
    pub api: Arc<ApiConfig>,
    /// Which compatibility REST APIs are served, and where.
    pub compat: Arc<CompatConfig>,
    /// How client addresses appear in log lines.
    pub log_client_ips: ClientIpLogging,
    pub connections: Arc<ConnectionSlots>,
    /// Cancelled when the server stops; long-lived connections watch it.
    pub shutdown: CancellationToken,
    /// Every subscription connection's task, so shutdown can wait for their close frames.
    pub sockets: TaskTracker,
}

/// Timeouts and sizes every subscription connection applies.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketLimits {
    pub init_timeout: std::time::Duration,
    pub keepalive: std::time::Duration,
    pub max_message_bytes: usize,
    pub max_subscriptions: usize,
}

pub fn router(state: AppState) -> anyhow::Result<Router> {
    let graphql = Router::new().route("/graphql", get(graphql::get).post(graphql::post));
    let websocket = Router::new().route("/graphql/ws", get(websocket::upgrade));
    let mut routes = Router::new()
        .merge(at_the_edge(graphql, &state, Surface::Graphql))
        .merge(at_the_edge(websocket, &state, Surface::Websocket))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if state.api.graphiql_enabled() {
        routes = routes.merge(graphiql::routes());
    }
    if state.api.account_page_enabled() {
        routes = routes.merge(account_page::routes());
    }
    routes = routes
        .merge(compat::routes(&state, &state.compat)?)
        .layer(cors(&state.api.cors_origins)?);
    // Operators call the admin API from their tools, never from a user's browser: it
    // answers no CORS preflight, so no origin allowed for the user API reaches it.
    if state.admin_schema.is_some() {
        let admin = Router::new().route("/admin/graphql", post(admin::post));
        routes = routes.merge(at_the_edge(admin, &state, Surface::Admin));
    }
    Ok(routes
        .layer(DefaultBodyLimit::max(state.api.max_body_bytes))
        .layer(catch_panics())
        // Answers carry tokens and account data: no cache may keep them (assets say
        // otherwise themselves), and no browser may read one as another media type.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state))
}

/// Routes as every caller meets them: the client identified once (`edge`), then each
/// request observed (`observe`), whatever it came to.
fn at_the_edge(routes: Router<AppState>, state: &AppState, surface: Surface) -> Router<AppState> {
    let observer = Observer {
        surface,
        clients: state.clients.clone(),
        client_ips: state.log_client_ips,
    };
    routes.layer(middleware::from_fn_with_state(observer, observe::layer))
}

/// `GET /readyz`: 200 when the database answers and the event transport is connected;
/// otherwise 503 with the reasons, so a load balancer sends traffic elsewhere meanwhile.
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    let reasons = state.services.unready_reasons().await;
    if reasons.is_empty() {
        (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response()
    } else {
        let body = json!({ "status": "unavailable", "reasons": reasons });
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

/// Browsers on the configured origins may call the API; by default no other origin may.
fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.trim())
                .map_err(|_| anyhow::anyhow!("`{origin}` is not a valid CORS origin"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]))
}

/// A panic anywhere in a request answers INTERNAL (details only in the log) and the
/// server keeps serving.
fn catch_panics() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> axum::response::Response>
{
    fn internal(_: Box<dyn std::any::Any + Send>) -> axum::response::Response {
        tracing::error!("a request handler panicked");
        refusals::EdgeRefusal::Internal.into_response()
    }
    CatchPanicLayer::custom(internal)
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("resolver bug with secret details")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_and_the_router_keeps_serving() {
        let app: Router = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(catch_panics());
        let response = app
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
        assert!(!body.to_string().contains("secret"));
        let response = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
