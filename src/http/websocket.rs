//! Subscriptions over websockets: `graphql-transport-ws` (what the `graphql-ws` npm client,
//! Apollo and GraphiQL speak) and the legacy `graphql-ws` of subscriptions-transport-ws.
//!
//! We run the protocol ourselves rather than use async-graphql's handler because the
//! connection must do more than relay: refuse with the protocol's close codes, close itself
//! once its session ends (after its `signedOut` subscriptions had their say), drop clients
//! that fall behind, cap connections per session, and close with 1001 on shutdown.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::{Data, Request, Response, parser::types::Selection};
use axum::{
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::HeaderMap,
    response::Response as HttpResponse,
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{self, BoxStream, SplitSink, SplitStream},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{
    sync::{Notify, broadcast::error::RecvError, watch},
    time::{Instant, timeout, timeout_at},
};
use tokio_stream::StreamMap;
use uuid::Uuid;

use super::{
    AppState,
    admission::{attach_requester, bearer, check_client_rate},
    errors::{coded_errors, error_response, rate_limited_response},
};
use crate::{
    events::BusMessage,
    graphql::{FellBehind, SignOutNotice, selected_operations},
    service::{Actor, ClientInfo, Requester, SessionEnd},
};

/// Close codes of the `graphql-transport-ws` protocol, and the standard ones we use.
mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_SUBSCRIBER: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// A client that has not read what we sent for this long is gone, whatever TCP says.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read buffer. tungstenite preallocates 128 KiB each way per connection; our
/// messages are tiny, and 8 KiB keeps an idle subscriber's footprint small.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Most a connection buffers for a client that is not reading; past it, sending fails and
/// the client is dropped (as it is after [`SEND_TIMEOUT`]).
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// How long `signedOut` subscriptions get to deliver before the connection closes.
const SIGN_OUT_DRAIN: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws`, the protocol of the retired subscriptions-transport-ws.
    LegacyWs,
}

impl Protocol {
    /// The client's preferred protocol we speak; `graphql-transport-ws` when it names none.
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let offered: Vec<&str> = headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        if offered.is_empty() {
            return Some(Protocol::TransportWs);
        }
        offered.into_iter().find_map(|name| match name {
            "graphql-transport-ws" => Some(Protocol::TransportWs),
            "graphql-ws" => Some(Protocol::LegacyWs),
            _ => None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyWs => "graphql-ws",
        }
    }

    fn next_type(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::LegacyWs => "data",
        }
    }

    fn keepalive(self) -> Value {
        match self {
            Protocol::TransportWs => json!({ "type": "ping" }),
            Protocol::LegacyWs => json!({ "type": "ka" }),
        }
    }
}

/// Messages from the client, in both protocols' words.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    #[serde(alias = "start")]
    Subscribe {
        id: String,
        payload: Box<Request>,
    },
    #[serde(alias = "stop")]
    Complete {
        id: String,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    ConnectionTerminate,
}

/// How many connections each session has open, to cap them.
pub struct ConnectionSlots {
    open: Mutex<HashMap<Uuid, usize>>,
    per_session: usize,
}

/// One claimed connection; gives its place back when dropped.
struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    session_id: Uuid,
}

impl ConnectionSlots {
    pub fn new(per_session: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            per_session,
        }
    }

    fn claim(self: &Arc<Self>, session_id: Uuid) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().expect("connection slots poisoned");
        let count = open.entry(session_id).or_insert(0);
        if *count >= self.per_session {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            session_id,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("connection slots poisoned");
        if let Some(count) = open.get_mut(&self.session_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.session_id);
            }
        }
    }
}

/// `GET /graphql/ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let Some(protocol) = Protocol::negotiate(&headers) else {
        return error_response(
            axum::http::StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "speak graphql-transport-ws or graphql-ws",
        );
    };
    let client = state.clients.client_info(peer, &headers);
    if let Err(limited) = check_client_rate(&state, &client) {
        return rate_limited_response(limited);
    }
    let limits = state.websocket;
    upgrade
        .protocols([protocol.name()])
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .read_buffer_size(READ_BUFFER_BYTES)
        // Every message is written at once: they are few and small.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            let mut connection = Connection {
                state,
                protocol,
                client,
                sink,
                stream,
            };
            if let Ended::Close(code, reason) = connection.serve().await {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = timeout(
                    SEND_TIMEOUT,
                    connection.sink.send(Message::Close(Some(frame))),
                )
                .await;
            }
        })
}

/// How a connection ended: closed by us with a code, or gone (the client left or stopped
/// reading), where there is nobody to tell.
enum Ended {
    Close(u16, &'static str),
    Gone,
}

impl Ended {
    /// Events were dropped before this connection could deliver them: the client must
    /// reconnect and refetch rather than trust its subscriptions.
    fn fell_behind() -> Self {
        Self::Close(close::TRY_AGAIN_LATER, "fell behind; reconnect and refetch")
    }
}

/// What one client frame turned out to be.
enum Incoming {
    Message(ClientMessage),
    /// Transport-level traffic (websocket pings, pongs) we need not act on.
    Nothing,
    Malformed,
    Gone,
}

struct Connection {
    state: AppState,
    protocol: Protocol,
    client: ClientInfo,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
}

/// The live subscriptions of a connection; a `None` item marks a finished stream.
type Subscriptions = StreamMap<String, BoxStream<'static, Option<Response>>>;

/// A connection past `connection_init`: whose it is, and its subscriptions.
struct Live {
    actor: Arc<Actor>,
    /// What every subscription of the connection shares: requester, loaders, sign-out notice.
    data: Arc<Data>,
    subscriptions: Subscriptions,
    /// Ids of the subscriptions to `signedOut`, the only ones that outlive the session.
    signed_out_ids: HashSet<String>,
    notify_sign_out: watch::Sender<Option<SessionEnd>>,
}

/// What happens after one event of a connection: it goes on, or it ends.
type Step = Result<(), Ended>;

impl Connection {
    async fn serve(&mut self) -> Ended {
        // Listen before authenticating, so an end that comes after the check is still heard.
        let mut bus = self.state.services.events().subscribe();
        let (actor, _slot) = match self.initialise().await {
            Ok(initialised) => initialised,
            Err(ended) => return ended,
        };
        let (notify_sign_out, sign_out_notice) = watch::channel(None);
        let mut data = Data::default();
        attach_requester(&mut data, &self.state, Requester::Session(actor.clone()));
        data.insert(SignOutNotice(sign_out_notice));
        let fell_behind = Arc::new(Notify::new());
        data.insert(FellBehind(fell_behind.clone()));
        let mut live = Live {
            actor,
            data: Arc::new(data),
            subscriptions: Subscriptions::new(),
            signed_out_ids: HashSet::new(),
            notify_sign_out,
        };
        let mut keepalive = tokio::time::interval(self.state.websocket.keepalive);
        keepalive.reset();
        let shutdown = self.state.shutdown.clone();
        loop {
            let step = tokio::select! {
                _ = shutdown.cancelled() => Err(Ended::Close(close::GOING_AWAY, "server shutting down")),
                _ = keepalive.tick() => self.send(self.protocol.keepalive()).await,
                incoming = self.receive() => match incoming {
                    Incoming::Message(message) => self.on_client_message(&mut live, message).await,
                    Incoming::Nothing => Ok(()),
                    Incoming::Malformed => Err(Ended::Close(close::BAD_REQUEST, "malformed message")),
                    Incoming::Gone => Err(Ended::Gone),
                },
                Some((id, response)) = live.subscriptions.next(), if !live.subscriptions.is_empty() => {
                    self.forward(&id, response, &mut live.subscriptions).await
                }
                message = bus.recv() => self.on_bus_message(&mut live, message).await,
                _ = fell_behind.notified() => Err(Ended::fell_behind()),
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    async fn on_client_message(&mut self, live: &mut Live, message: ClientMessage) -> Step {
        match message {
            ClientMessage::Subscribe { id, payload } => {
                if live.subscriptions.contains_key(&id) {
                    return Err(Ended::Close(
                        close::DUPLICATE_SUBSCRIBER,
                        "subscriber for this id already exists",
                    ));
                }
                let mut request = *payload;
                if selects_signed_out(&mut request) {
                    live.signed_out_ids.insert(id.clone());
                }
                let responses = self
                    .state
                    .schema
                    .execute_stream_with_session_data(request, live.data.clone())
                    .map(Some)
                    .chain(stream::once(async { None }))
                    .boxed();
                live.subscriptions.insert(id, responses);
                Ok(())
            }
            ClientMessage::Complete { id } => {
                live.signed_out_ids.remove(&id);
                let stopped = live.subscriptions.remove(&id).is_some();
                // Legacy clients expect the server to confirm a `stop`.
                if stopped && self.protocol == Protocol::LegacyWs {
                    self.send(json!({ "id": id, "type": "complete" })).await?;
                }
                Ok(())
            }
            ClientMessage::Ping { payload } => self.send(pong(payload)).await,
            ClientMessage::Pong {} => Ok(()),
            ClientMessage::ConnectionInit { .. } => Err(Ended::Close(
                close::TOO_MANY_INITS,
                "too many initialisation requests",
            )),
            ClientMessage::ConnectionTerminate => Err(Ended::Gone),
        }
    }

    /// Watches for the end of the connection's own session, re-checking the database
    /// whenever events may have been missed.
    async fn on_bus_message(
        &mut self,
        live: &mut Live,
        message: Result<BusMessage, RecvError>,
    ) -> Step {
        let lagged = matches!(message, Err(RecvError::Lagged(_)));
        let end = match message {
            Ok(BusMessage::Event(event)) if event.ends_session(live.actor.session_id) => {
                event.end_reason.map(|reason| SessionEnd {
                    reason,
                    at: event.occurred_at,
                })
            }
            Ok(BusMessage::Event(_)) => return Ok(()),
            Ok(BusMessage::Resync) | Err(RecvError::Lagged(_)) => {
                match self.state.services.current_session_end(&live.actor).await {
                    Ok(end) => end,
                    Err(error) => {
                        tracing::warn!(%error, "cannot re-check a subscriber's session");
                        return Err(Ended::Close(
                            close::TRY_AGAIN_LATER,
                            "cannot check the session; reconnect",
                        ));
                    }
                }
            }
            Err(RecvError::Closed) => {
                return Err(Ended::Close(close::GOING_AWAY, "server shutting down"));
            }
        };
        if let Some(end) = end {
            return Err(self.close_signed_out(end, live).await);
        }
        if lagged {
            // Its subscriptions lagged too and may have missed events.
            return Err(Ended::fell_behind());
        }
        Ok(())
    }

    /// Waits for `connection_init` and authenticates its token, within the init timeout.
    async fn initialise(&mut self) -> Result<(Arc<Actor>, ConnectionSlot), Ended> {
        let deadline = Instant::now() + self.state.websocket.init_timeout;
        let shutdown = self.state.shutdown.clone();
        loop {
            let incoming = tokio::select! {
                _ = shutdown.cancelled() => return Err(Ended::Close(close::GOING_AWAY, "server shutting down")),
                incoming = timeout_at(deadline, self.receive()) => incoming,
            };
            let message = match incoming {
                Err(_) => {
                    return Err(Ended::Close(
                        close::INIT_TIMEOUT,
                        "connection initialisation timeout",
                    ));
                }
                Ok(Incoming::Message(message)) => message,
                Ok(Incoming::Nothing) => continue,
                Ok(Incoming::Malformed) => {
                    return Err(Ended::Close(close::BAD_REQUEST, "malformed message"));
                }
                Ok(Incoming::Gone) => return Err(Ended::Gone),
            };
            match message {
                ClientMessage::ConnectionInit { payload } => {
                    let actor = match self.authenticate(payload.unwrap_or_default()).await {
                        Some(actor) => actor,
                        None => {
                            if self.protocol == Protocol::LegacyWs {
                                let refusal = json!({ "type": "connection_error", "payload": { "message": "forbidden" } });
                                let _ = self.send(refusal).await;
                            }
                            return Err(Ended::Close(close::FORBIDDEN, "forbidden"));
                        }
                    };
                    let Some(slot) = self.state.connections.claim(actor.session_id) else {
                        return Err(Ended::Close(
                            close::POLICY_VIOLATION,
                            "too many connections for this session",
                        ));
                    };
                    self.send(json!({ "type": "connection_ack" })).await?;
                    return Ok((actor, slot));
                }
                ClientMessage::Subscribe { .. } => {
                    return Err(Ended::Close(close::UNAUTHORIZED, "unauthorized"));
                }
                ClientMessage::Ping { payload } => self.send(pong(payload)).await?,
                ClientMessage::ConnectionTerminate => return Err(Ended::Gone),
                ClientMessage::Complete { .. } | ClientMessage::Pong {} => {}
            }
        }
    }

    /// The session token of `connection_init`, as `{"Authorization": "Bearer …"}` or
    /// `{"token": "…"}`; only an active session's token is accepted.
    async fn authenticate(&self, payload: Value) -> Option<Arc<Actor>> {
        let token = init_token(&payload)?;
        match self
            .state
            .services
            .authenticate(token, self.client.clone())
            .await
        {
            Ok(Requester::Session(actor)) => Some(actor),
            Ok(_) => None,
            Err(error) => {
                tracing::debug!(%error, "websocket connection refused");
                None
            }
        }
    }

    async fn receive(&mut self) -> Incoming {
        match self.stream.next().await {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                Ok(message) => Incoming::Message(message),
                Err(_) => Incoming::Malformed,
            },
            Some(Ok(Message::Binary(_))) => Incoming::Malformed,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Nothing,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Incoming::Gone,
        }
    }

    /// Sends one message; a client that does not take it within [`SEND_TIMEOUT`] is gone.
    async fn send(&mut self, message: Value) -> Step {
        let frame = Message::Text(message.to_string().into());
        match timeout(SEND_TIMEOUT, self.sink.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Ended::Gone),
        }
    }

    /// Sends one subscription's next result, or its end.
    async fn forward(
        &mut self,
        id: &str,
        response: Option<Response>,
        subscriptions: &mut Subscriptions,
    ) -> Step {
        match response {
            None => self.send(json!({ "id": id, "type": "complete" })).await,
            // A request that never started (it did not parse or validate) is an `error`.
            Some(response) if response.data == async_graphql::Value::Null && response.is_err() => {
                subscriptions.remove(id);
                let errors = coded_errors(response.errors);
                self.send(json!({ "id": id, "type": "error", "payload": errors }))
                    .await
            }
            Some(mut response) => {
                response.errors = coded_errors(response.errors);
                self.send(
                    json!({ "id": id, "type": self.protocol.next_type(), "payload": response }),
                )
                .await
            }
        }
    }

    /// The connection's session ended: only `signedOut` subscriptions hear of it, each once,
    /// then the connection closes. Nothing else reaches a session that has ended.
    async fn close_signed_out(&mut self, end: SessionEnd, live: &mut Live) -> Ended {
        let others: Vec<String> = live
            .subscriptions
            .keys()
            .filter(|id| !live.signed_out_ids.contains(*id))
            .cloned()
            .collect();
        for id in others {
            live.subscriptions.remove(&id);
        }
        live.notify_sign_out.send_replace(Some(end));
        let deadline = Instant::now() + SIGN_OUT_DRAIN;
        while !live.subscriptions.is_empty() {
            let Ok(Some((id, response))) = timeout_at(deadline, live.subscriptions.next()).await
            else {
                break;
            };
            if let Err(ended) = self.forward(&id, response, &mut live.subscriptions).await {
                return ended;
            }
        }
        Ended::Close(close::FORBIDDEN, "signed out")
    }
}

/// Whether the subscription's root field is `signedOut` (a subscription has exactly one).
fn selects_signed_out(request: &mut Request) -> bool {
    selected_operations(request).is_some_and(|operations| {
        operations
            .flat_map(|operation| operation.selection_set.node.items.iter())
            .any(|selection| {
                matches!(&selection.node, Selection::Field(field) if field.node.name.node == "signedOut")
            })
    })
}

/// The answer to a client's `ping`, echoing its payload when it had one.
fn pong(payload: Option<Value>) -> Value {
    match payload {
        Some(payload) => json!({ "type": "pong", "payload": payload }),
        None => json!({ "type": "pong" }),
    }
}

fn init_token(payload: &Value) -> Option<&str> {
    let authorization = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(Value::as_str);
    match authorization {
        Some(value) => bearer(value),
        None => payload.get("token").and_then(Value::as_str),
    }
}
