//! What operators see of each request, whatever it came by (GraphQL over HTTP, the admin
//! API, a REST API, an operation over a websocket): one log line at info (surface,
//! operation, HTTP status where there is one, outcome code, duration, client) and the same
//! two metrics (`sessionhub_requests_total`, `sessionhub_request_duration_seconds`).
//!
//! Over HTTP a layer observes every routed request, refusals included; the handler says
//! what it ran by leaving an [`Answered`] in its response. Over a websocket the connection
//! observes each operation at its first answer. Done here rather than as an async-graphql
//! extension, whose hook every field of every request would pass through
//! (docs/performance.md); and skipped altogether while neither log nor metrics want it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{BatchRequest, BatchResponse};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::Response,
};

use super::{
    AppState, ClientLookup, edge::identify_client, errors::answers, refusals::EdgeRefusal,
};
use crate::{
    config::{ClientIpLogging, CompatApi},
    graphql::error_code,
    service::ClientInfo,
    telemetry::{
        self,
        logging::client_address,
        metrics::{self, Operation},
    },
};

/// What a request came by: the first label of its log line and metrics.
#[derive(Clone, Copy)]
pub(super) enum Surface {
    /// `GET`/`POST /graphql`.
    Graphql,
    /// `POST /admin/graphql`.
    Admin,
    /// `/graphql/ws`: the upgrade, then each operation sent over the connection.
    Websocket,
    /// A compatibility REST API.
    Rest(CompatApi),
}

impl Surface {
    fn name(self) -> &'static str {
        match self {
            Self::Graphql => "graphql",
            Self::Admin => "admin",
            Self::Websocket => "websocket",
            Self::Rest(api) => api.name(),
        }
    }
}

/// Whether anybody wants requests observed: the request log or metrics.
pub(super) fn wanted() -> bool {
    tracing::enabled!(tracing::Level::INFO) || metrics::enabled()
}

/// What a handler ran, left in its response for the layer: without it, the request is
/// observed by its route, with the code its status calls for ([`code_of`]).
#[derive(Clone)]
pub(super) enum Answered {
    /// Refused before any operation ran, with this code.
    Refused(&'static str),
    /// GraphQL operations ran, each named (when its document names it) with its outcome.
    Operations(Vec<(Option<String>, String)>),
}

/// Which operator key an admin API request was made with (its id, never the key), for
/// its log line.
#[derive(Clone)]
pub(super) struct OperatorKey(pub String);

/// How one surface's requests are met: the state of its [`layer`].
#[derive(Clone)]
pub(super) struct Observer {
    pub surface: Surface,
    pub clients: Arc<ClientLookup>,
    /// How client addresses appear in log lines.
    pub client_ips: ClientIpLogging,
}

/// The one layer around every API route: identifies the client (`edge::identify_client`),
/// then observes the request: its operations (or route), code, status, duration and
/// client. One layer rather than two, since each takes its own copy of what it wraps per
/// request.
pub(super) async fn layer(
    State(observer): State<Observer>,
    mut request: Request,
    next: Next,
) -> Response {
    identify_client(&observer.clients, &mut request);
    if !wanted() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let route = route_of(&request);
    let client = request
        .extensions()
        .get::<ClientInfo>()
        .and_then(|client| client_address(client.ip_address.as_deref(), observer.client_ips));
    let response = next.run(request).await;
    let seen = Seen {
        surface: observer.surface,
        status: Some(response.status()),
        elapsed: started.elapsed(),
        client,
        operator: response
            .extensions()
            .get::<OperatorKey>()
            .map(|OperatorKey(key)| key.clone()),
    };
    match response.extensions().get::<Answered>() {
        Some(Answered::Operations(operations)) => {
            for (name, code) in operations {
                seen.record(Operation::Graphql(name.as_deref()), code);
            }
        }
        Some(Answered::Refused(code)) => seen.record(seen.unrun(&route), code),
        None => seen.record(seen.unrun(&route), code_of(response.status())),
    }
    response
}

/// The code of an answer its handler did not name one for: `OK`, or what the router
/// itself refused (a method a path does not take, a request that is no websocket
/// handshake).
fn code_of(status: StatusCode) -> &'static str {
    match status {
        status if !status.is_client_error() && !status.is_server_error() => "OK",
        StatusCode::METHOD_NOT_ALLOWED => EdgeRefusal::MethodNotAllowed.code(),
        StatusCode::PAYLOAD_TOO_LARGE => EdgeRefusal::PayloadTooLarge { limit: None }.code(),
        status if status.is_server_error() => EdgeRefusal::Internal.code(),
        _ => EdgeRefusal::BadRequest(String::new()).code(),
    }
}

/// One observation: where, how it ended, how long it took, for whom.
struct Seen {
    surface: Surface,
    status: Option<StatusCode>,
    elapsed: Duration,
    /// The client's address as the log shows it.
    client: Option<String>,
    /// The operator key of an admin API request.
    operator: Option<String>,
}

impl Seen {
    /// What a request that ran no GraphQL operation is counted as: a REST request by its
    /// route; a GraphQL one as refused before it ran.
    fn unrun<'r>(&self, route: &'r str) -> Operation<'r> {
        match self.surface {
            Surface::Rest(_) => Operation::Fixed(route),
            Surface::Websocket if route.ends_with("/graphql/ws") => Operation::Fixed("(connect)"),
            Surface::Graphql | Surface::Admin | Surface::Websocket => Operation::Fixed("(not run)"),
        }
    }

    fn record(&self, operation: Operation<'_>, code: &str) {
        metrics::request(self.surface.name(), &operation, code, self.elapsed);
        let named = match operation {
            Operation::Graphql(name) => name.map_or("(anonymous)", telemetry::bounded),
            Operation::Fixed(fixed) => fixed,
        };
        tracing::info!(
            surface = self.surface.name(),
            operation = named,
            status = self.status.map(|status| status.as_u16()),
            code,
            duration_ms = self.elapsed.as_secs_f64() * 1000.0,
            client = self.client.as_deref(),
            admin_key = self.operator.as_deref(),
            "request"
        );
    }
}

/// The method and route template a request was routed by (`POST /graphql`,
/// `GET /compat/ruuvi/sessions/{id}`): templates, not paths, and only the methods HTTP
/// defines, so a client cannot mint series.
fn route_of(request: &Request) -> String {
    let method = known_method(request.method());
    match request.extensions().get::<MatchedPath>() {
        Some(path) => format!("{method} {}", path.as_str()),
        None => format!("{method} (unrouted)"),
    }
}

/// `method` as a label: itself when HTTP defines it, `OTHER` when a client made it up.
fn known_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The operations of a batch, as named once it has run: kept from before it runs, since
/// running consumes it. `None` while nobody observes.
pub(super) struct Naming(Vec<(String, Option<String>)>);

impl Naming {
    pub(super) fn of(batch: &BatchRequest) -> Option<Self> {
        wanted().then(|| {
            Self(
                batch
                    .iter()
                    .map(|request| (request.query.clone(), request.operation_name.clone()))
                    .collect(),
            )
        })
    }

    /// Each request of the batch with its outcome: `OK`, or the code of its first error.
    pub(super) fn answered(self, state: &AppState, response: &BatchResponse) -> Answered {
        let operations = self
            .0
            .into_iter()
            .zip(answers(response))
            .map(|((query, operation_name), response)| {
                let name = state
                    .documents
                    .operation_name(&query, operation_name.as_deref());
                let code = response.errors.first().map_or("OK", error_code);
                (name, code.to_owned())
            })
            .collect();
        Answered::Operations(operations)
    }
}

/// An operation sent over a websocket, observed at its first answer (a refusal, its first
/// result, or its end), as the layer observes a request over HTTP.
pub(super) struct WebsocketOperation {
    started: Instant,
    query: String,
    operation_name: Option<String>,
}

impl WebsocketOperation {
    /// Starts observing an operation, unless nobody wants it.
    pub(super) fn start(request: &async_graphql::Request) -> Option<Self> {
        wanted().then(|| Self {
            started: Instant::now(),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
        })
    }

    /// Records its first answer, with `code`.
    pub(super) fn answered(self, state: &AppState, client: &ClientInfo, code: &str) {
        let name = state
            .documents
            .operation_name(&self.query, self.operation_name.as_deref());
        let seen = Seen {
            surface: Surface::Websocket,
            status: None,
            elapsed: self.started.elapsed(),
            client: client_address(client.ip_address.as_deref(), state.log_client_ips),
            operator: None,
        };
        seen.record(Operation::Graphql(name.as_deref()), code);
    }
}
