//! Subscriptions over websockets: `graphql-transport-ws` (what the `graphql-ws` npm client,
//! Apollo and GraphiQL speak) and the legacy `graphql-ws` of subscriptions-transport-ws.
//!
//! We run the protocol ourselves rather than use async-graphql's handler because the
//! connection must do more than relay: refuse with the protocol's close codes, close itself
//! once its session ends (after its `signedOut` subscriptions had their say), drop clients
//! that fall behind, cap connections per session, and close with 1001 on shutdown.
//!
//! Files: [`protocol`] (the wire: messages, frames, close codes), [`slots`] (connections
//! per session), [`connection`] (what a connection does, from `connection_init` to close),
//! [`operation`] (one `subscribe`: its admission, results and end).

mod connection;
mod operation;
mod protocol;
mod slots;

use axum::{
    extract::{State, WebSocketUpgrade},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

pub use slots::{ConnectionSlots, SharedSlots};

use super::{
    AppState,
    edge::{Client, Edge},
    errors::service_error_response,
    refusals::EdgeRefusal,
};
use protocol::Protocol;

/// Socket read buffer, allocated with every connection. tungstenite's default is 128 KiB;
/// a client's messages (`connection_init`, `subscribe`) are a few hundred bytes, and a
/// larger one grows the buffer to its size. 1 KiB instead of 8 KiB took 7 KiB off each
/// idle subscriber (docs/performance.md).
const READ_BUFFER_BYTES: usize = 1024;
/// Most a connection buffers for a client that is not reading; past it, sending fails and
/// the client is dropped (as it is after `connection::SEND_TIMEOUT`).
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// `GET /graphql/ws`: the edge's first step (the client address's rate) here; who the
/// connection is for at `connection_init`; every step again for each operation.
pub async fn upgrade(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = Protocol::negotiate(&headers) else {
        return EdgeRefusal::NoSubprotocol.into_response();
    };
    if let Err(error) = Edge::new(&state, &client).client().await {
        return service_error_response(&error);
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
        .on_upgrade(move |socket| {
            let sockets = state.sockets.clone();
            sockets.track_future(connection::run(socket, state, protocol, client))
        })
}
