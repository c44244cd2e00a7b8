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
    let route = Route::of(&request);
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
        Some(Answered::Refused(code)) => seen.record_unrun(&route, code),
        None => seen.record_unrun(&route, code_of(response.status())),
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
    /// Records a request that ran no GraphQL operation: a REST request by its route, the
    /// websocket's upgrade as `(connect)`, a GraphQL request as refused before it ran.
    fn record_unrun(&self, route: &Route, code: &str) {
        match self.surface {
            Surface::Rest(_) => self.record(Operation::Fixed(&route.label()), code),
            Surface::Websocket => self.record(Operation::Fixed("(connect)"), code),
            Surface::Graphql | Surface::Admin => self.record(Operation::Fixed("(not run)"), code),
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

/// The method and route template a request was routed by: kept as they are, and written
/// out only for a request that is counted by its route.
struct Route {
    method: &'static str,
    path: Option<MatchedPath>,
}

impl Route {
    fn of(request: &Request) -> Self {
        Self {
            method: known_method(request.method()),
            path: request.extensions().get::<MatchedPath>().cloned(),
        }
    }

    /// `POST /graphql`, `GET /compat/ruuvi/sessions/{id}`: templates, not paths, and only
    /// the methods HTTP defines, so a client cannot mint series.
    fn label(&self) -> String {
        match &self.path {
            Some(path) => format!("{} {}", self.method, path.as_str()),
            None => format!("{} (unrouted)", self.method),
        }
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

/// What a request's operation is called by: its query text, in whose parsed document the
/// name is looked up once it has run, and the name the client asked to run. Kept from
/// before it runs, since running consumes the request.
struct Named {
    query: String,
    operation_name: Option<String>,
}

impl Named {
    fn of(request: &async_graphql::Request) -> Self {
        Self {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
        }
    }

    /// The operation's name as its parsed document has it (see `DocumentCache`).
    fn name(&self, state: &AppState) -> Option<String> {
        state
            .documents
            .operation_name(&self.query, self.operation_name.as_deref())
    }
}

/// The operations of a batch, as named once it has run. `None` while nobody observes.
pub(super) struct Naming(Vec<Named>);

impl Naming {
    pub(super) fn of(batch: &BatchRequest) -> Option<Self> {
        wanted().then(|| Self(batch.iter().map(Named::of).collect()))
    }

    /// Each request of the batch with its outcome: `OK`, or the code of its first error.
    pub(super) fn answered(self, state: &AppState, response: &BatchResponse) -> Answered {
        let operations = self
            .0
            .into_iter()
            .zip(answers(response))
            .map(|(named, response)| {
                let code = response.errors.first().map_or("OK", error_code);
                (named.name(state), code.to_owned())
            })
            .collect();
        Answered::Operations(operations)
    }
}

/// An operation sent over a websocket, observed at its first answer (a refusal, its first
/// result, or its end), as the layer observes a request over HTTP.
pub(super) struct WebsocketOperation {
    started: Instant,
    named: Named,
}

impl WebsocketOperation {
    /// Starts observing an operation, unless nobody wants it.
    pub(super) fn start(request: &async_graphql::Request) -> Option<Self> {
        wanted().then(|| Self {
            started: Instant::now(),
            named: Named::of(request),
        })
    }

    /// Records its first answer, with `code`.
    pub(super) fn answered(self, state: &AppState, client: &ClientInfo, code: &str) {
        let name = self.named.name(state);
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
