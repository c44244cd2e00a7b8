//! One subscription connection, from `connection_init` to its close: authenticating,
//! running subscriptions, watching for its own session's end, and closing with a code.

use std::time::Duration;

use async_graphql::Response;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout, timeout_at};

mod init;
mod live;

use live::{Live, Subscriptions};

use super::{
    operation::{Operation, Outcome},
    protocol::{ClientMessage, Incoming, Protocol, close, decode, pong},
    slots::RENEW_EVERY,
};
use crate::{
    graphql::{ListeningSince, error_code, outlives_session},
    http::{
        AppState,
        errors::{coded_errors, refusal},
        observe::WebsocketOperation,
        refusals::EdgeRefusal,
    },
    service::{ClientInfo, ServiceError, SessionEnd},
    telemetry::metrics,
};

/// A client that has not read what we sent for this long is gone, whatever TCP says.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client gets to answer our Close before the connection is dropped anyway.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);
/// How long `signedOut` subscriptions get to deliver before the connection closes.
const SIGN_OUT_DRAIN: Duration = Duration::from_secs(2);
/// Refused operations in a row after which a connection is closed (4429): a client told to
/// wait that keeps sending is not going to wait.
const MAX_REFUSALS_IN_A_ROW: u32 = 10;

/// Serves an upgraded socket until the connection ends, then sends its close frame.
pub(super) async fn run(
    socket: WebSocket,
    state: AppState,
    protocol: Protocol,
    client: ClientInfo,
) {
    let _open = metrics::websocket_connection();
    let (sink, stream) = socket.split();
    let mut connection = Connection {
        state,
        protocol,
        client,
        sink,
        stream,
    };
    match connection.serve().await {
        Ended::Close(code, reason) => {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let sent = timeout(
                SEND_TIMEOUT,
                connection.sink.send(Message::Close(Some(frame))),
            )
            .await;
            if matches!(sent, Ok(Ok(()))) {
                connection.await_close_reply().await;
            }
        }
        // The websocket library queued the reply to the client's Close when it read it;
        // closing our side sends it.
        Ended::ClosedByClient => {
            let _ = timeout(SEND_TIMEOUT, connection.sink.close()).await;
        }
        Ended::Gone => {}
    }
}

/// How a connection ended: closed by us with a code, or gone (the client left or stopped
/// reading), where there is nobody to tell.
enum Ended {
    Close(u16, &'static str),
    /// The client closed first; it is owed a Close frame back (RFC 6455 §5.5.1).
    ClosedByClient,
    Gone,
}

impl Ended {
    /// Events were dropped before this connection could deliver them: the client must
    /// reconnect and refetch rather than trust its subscriptions.
    fn fell_behind() -> Self {
        Self::Close(close::TRY_AGAIN_LATER, "fell behind; reconnect and refetch")
    }
}

struct Connection {
    state: AppState,
    protocol: Protocol,
    client: ClientInfo,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
}

/// What happens after one event of a connection: it goes on, or it ends.
type Step = Result<(), Ended>;

impl Connection {
    /// An idle connection is this future, parked, so what it does on a wake-up (the
    /// initialisation, a message in or out, the sign-out) is boxed while it runs: its state
    /// would otherwise be part of every idle connection's memory (docs/performance.md).
    async fn serve(&mut self) -> Ended {
        let (actor, slot, mut own_end) = match Box::pin(self.initialise()).await {
            Ok(initialised) => initialised,
            Err(ended) => return ended,
        };
        let (mut live, fell_behind) = Live::new(&self.state, actor);
        let mut keepalive = tokio::time::interval(self.state.websocket.keepalive);
        keepalive.reset();
        let mut renewal = tokio::time::interval(RENEW_EVERY);
        renewal.reset();
        let shutdown = self.state.shutdown.clone();
        loop {
            let step = tokio::select! {
                _ = shutdown.cancelled() => Err(Ended::Close(close::GOING_AWAY, "server shutting down")),
                _ = keepalive.tick() => Box::pin(self.send(self.protocol.keepalive())).await,
                _ = renewal.tick() => {
                    Box::pin(slot.renew()).await;
                    Ok(())
                }
                incoming = self.receive() => match incoming {
                    Incoming::Message(message) => Box::pin(self.on_client_message(&mut live, message)).await,
                    Incoming::Nothing => Ok(()),
                    Incoming::Malformed => Err(Ended::Close(close::BAD_REQUEST, "malformed message")),
                    Incoming::Closed => Err(Ended::ClosedByClient),
                    Incoming::Gone => Err(Ended::Gone),
                },
                Some((id, outcome)) = live.subscriptions.next(), if !live.subscriptions.is_empty() => {
                    Box::pin(self.on_outcome(&mut live, &id, outcome)).await
                }
                ending = own_end.ended() => {
                    let end = ending.end_reason().map(|reason| SessionEnd { reason, at: ending.occurred_at() });
                    match end {
                        Some(end) => Err(Box::pin(self.close_signed_out(end, &mut live)).await),
                        // An end without a reason cannot be told; the watch would answer
                        // at once again, so close and let the client find out anew.
                        None => Err(Ended::fell_behind()),
                    }
                }
                _ = fell_behind.notified() => Err(Ended::fell_behind()),
            };
            if let Err(ended) = step {
                live.end(&self.state, &self.client);
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
                if let Some(observed) = WebsocketOperation::start(&payload) {
                    live.unanswered.insert(id.clone(), observed);
                }
                let most = self.state.websocket.max_subscriptions;
                if live.subscriptions.len() >= most {
                    let refused = EdgeRefusal::TooManySubscriptions { limit: most };
                    live.answered(&self.state, &self.client, &id, refused.code());
                    return self
                        .send(json!({ "id": id, "type": "error", "payload": refused.errors() }))
                        .await;
                }
                let mut request = *payload;
                let outlives = outlives_session(&mut request);
                if outlives {
                    // `signedOut` hears of the end from the connection, not from a feed.
                    live.signed_out_ids.insert(id.clone());
                } else {
                    // Listening starts now, as the message is read, not when the resolver
                    // first runs: an event committed from here on reaches the subscription.
                    // The connection's session watch keeps the account's channel open, so
                    // this reads nothing.
                    match self.state.services.listen_to_account(&live.actor).await {
                        Ok(feed) => request = request.data(ListeningSince::new(feed)),
                        Err(error) => {
                            live.answered(&self.state, &self.client, &id, error.code());
                            return self
                                .send(json!({ "id": id, "type": "error", "payload": refusal(&error) }))
                                .await;
                        }
                    }
                }
                let operation = Operation {
                    state: self.state.clone(),
                    client: self.client.clone(),
                    actor: live.actor.clone(),
                    outlives,
                };
                let outcomes = operation.run(request, live.data.clone());
                live.subscriptions.insert(id, outcomes);
                Ok(())
            }
            ClientMessage::Complete { id } => {
                live.answered(&self.state, &self.client, &id, "OK");
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

    /// Acts on what one operation came to.
    async fn on_outcome(&mut self, live: &mut Live, id: &str, outcome: Outcome) -> Step {
        let code = match &outcome {
            Outcome::Admitted => None,
            Outcome::Refused(error) => Some(error.code()),
            Outcome::SessionEnded(_) => Some(ServiceError::SessionEnded.code()),
            Outcome::Next(response) => Some(response.errors.first().map_or("OK", error_code)),
            Outcome::Finished => Some("OK"),
        };
        if let Some(code) = code {
            live.answered(&self.state, &self.client, id, code);
        }
        match outcome {
            Outcome::Admitted => {
                live.refused_in_a_row = 0;
                Ok(())
            }
            // A refused operation gets an `error` with the refusal's code; a client that
            // keeps sending operations it is refused is closed (4429).
            Outcome::Refused(error) => {
                live.refused_in_a_row += 1;
                if live.refused_in_a_row > MAX_REFUSALS_IN_A_ROW {
                    return Err(Ended::Close(close::TOO_MANY_REQUESTS, "too many requests"));
                }
                self.send(json!({ "id": id, "type": "error", "payload": refusal(&error) }))
                    .await
            }
            Outcome::SessionEnded(end) => Err(self.close_signed_out(end, live).await),
            Outcome::Next(response) => self.forward(id, response, &mut live.subscriptions).await,
            Outcome::Finished => self.send(json!({ "id": id, "type": "complete" })).await,
        }
    }

    /// Finishes a closing handshake we started (RFC 6455 §7.1.1): the TCP connection is
    /// dropped once the client's Close arrives, not before, or the client's own reply
    /// would reach a closed socket and reset the connection, losing our Close unread.
    async fn await_close_reply(&mut self) {
        let reply = async {
            while let Some(Ok(message)) = self.stream.next().await {
                if matches!(message, Message::Close(_)) {
                    return;
                }
            }
        };
        let _ = timeout(CLOSE_REPLY_WAIT, reply).await;
    }

    async fn receive(&mut self) -> Incoming {
        decode(self.stream.next().await)
    }

    /// Sends one message; a client that does not take it within [`SEND_TIMEOUT`] is gone.
    async fn send(&mut self, message: Value) -> Step {
        let frame = Message::Text(message.to_string().into());
        match timeout(SEND_TIMEOUT, self.sink.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Ended::Gone),
        }
    }

    /// Sends one subscription's next result.
    async fn forward(
        &mut self,
        id: &str,
        response: Response,
        subscriptions: &mut Subscriptions,
    ) -> Step {
        match response {
            // A request that never started (it did not parse or validate) is an `error`.
            response if response.data == async_graphql::Value::Null && response.is_err() => {
                subscriptions.remove(id);
                let errors = coded_errors(response.errors);
                self.send(json!({ "id": id, "type": "error", "payload": errors }))
                    .await
            }
            mut response => {
                response.errors = coded_errors(response.errors);
                self.send(
                    json!({ "id": id, "type": self.protocol.next_type(), "payload": response }),
                )
                .await?;
                metrics::push_sent();
                Ok(())
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
            let Ok(Some((id, outcome))) = timeout_at(deadline, live.subscriptions.next()).await
            else {
                break;
            };
            let step = match outcome {
                Outcome::Next(response) => {
                    self.forward(&id, response, &mut live.subscriptions).await
                }
                Outcome::Finished => self.send(json!({ "id": id, "type": "complete" })).await,
                // One still being admitted finds the session ended: it has nothing to say.
                Outcome::Admitted | Outcome::Refused(_) | Outcome::SessionEnded(_) => Ok(()),
            };
            if let Err(ended) = step {
                return ended;
            }
        }
        Ended::Close(close::FORBIDDEN, "signed out")
    }
}
