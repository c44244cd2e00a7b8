//! `connection_init`: the handshake that admits a connection, within the init timeout,
//! for an active session's token only (the edge's second step).

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::{Instant, timeout_at};

use super::{Connection, Ended};
use crate::{
    http::{
        edge::{Credential, Edge},
        websocket::{
            protocol::{ClientMessage, Incoming, Protocol, close, init_token, pong},
            slots::ConnectionSlot,
        },
    },
    service::{Actor, Requester, SessionEndWatch},
};

impl Connection {
    /// Waits for `connection_init` and authenticates its token, within the init timeout.
    pub(super) async fn initialise(
        &mut self,
    ) -> Result<(Arc<Actor>, ConnectionSlot, SessionEndWatch), Ended> {
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
                Ok(Incoming::Closed) => return Err(Ended::ClosedByClient),
                Ok(Incoming::Gone) => return Err(Ended::Gone),
            };
            match message {
                ClientMessage::ConnectionInit { payload } => {
                    let (actor, own_end) = match self.identify(payload.unwrap_or_default()).await {
                        Some(authenticated) => authenticated,
                        None => {
                            if self.protocol == Protocol::LegacyWs {
                                let refusal = json!({ "type": "connection_error", "payload": { "message": "forbidden" } });
                                let _ = self.send(refusal).await;
                            }
                            return Err(Ended::Close(close::FORBIDDEN, "forbidden"));
                        }
                    };
                    let Some(slot) = self.state.connections.claim(actor.session_id).await else {
                        return Err(Ended::Close(
                            close::POLICY_VIOLATION,
                            "too many connections for this session",
                        ));
                    };
                    self.send(json!({ "type": "connection_ack" })).await?;
                    return Ok((actor, slot, own_end));
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
    /// `{"token": "…"}`; only an active session's token is accepted. Returns the session
    /// with a watch for its end, started before the session is last checked, so an end
    /// committed at any moment is either seen by the check or heard by the watch.
    async fn identify(&self, payload: Value) -> Option<(Arc<Actor>, SessionEndWatch)> {
        let token = init_token(&payload)?;
        let edge = Edge::new(&self.state, &self.client);
        let actor = match edge.requester(Credential::Token(token)).await {
            Ok(Requester::Session(actor)) => actor,
            Ok(_) => return None,
            Err(error) => {
                tracing::debug!(%error, "websocket connection refused");
                return None;
            }
        };
        let services = &self.state.services;
        let own_end = match services.watch_own_end(&actor).await {
            Ok(own_end) => own_end,
            Err(error) => {
                error.log();
                return None;
            }
        };
        match services.current_session_end(&actor).await {
            Ok(None) => Some((actor, own_end)),
            Ok(Some(_)) => None,
            Err(error) => {
                error.log();
                None
            }
        }
    }
}
