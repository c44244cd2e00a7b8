//! A subscription socket, as the npm `graphql-ws` client opens one: the protocol named in
//! the handshake, `connection_init` with the session token, `subscribe` messages, and the
//! server's messages and close code read back as JSON.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue, protocol::CloseFrame},
};

/// `graphql-transport-ws`, what the npm `graphql-ws` client, Apollo and GraphiQL speak.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// `graphql-ws`, the protocol of the retired subscriptions-transport-ws.
pub const LEGACY_WS: &str = "graphql-ws";

/// Why a socket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("websocket: {0}")]
    Socket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the server answered {0} where the client expected otherwise")]
    Unexpected(Value),
    #[error("the server chose the subprotocol {0:?}")]
    Subprotocol(Option<String>),
}

/// One open socket to `/graphql/ws`.
pub struct LiveSocket {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl LiveSocket {
    /// Opens a socket to `{base}/graphql/ws` (`base` as `http://host:port`) speaking
    /// `protocol`, without initialising it.
    pub async fn open(base: &str, protocol: &'static str) -> Result<Self, LiveError> {
        let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|value| value.to_str().ok());
        if chosen != Some(protocol) {
            return Err(LiveError::Subprotocol(chosen.map(str::to_owned)));
        }
        Ok(Self { socket })
    }

    /// A `graphql-transport-ws` socket of the session `token` names, acknowledged.
    pub async fn authenticated(base: &str, token: &str) -> Result<Self, LiveError> {
        let mut socket = Self::open(base, TRANSPORT_WS).await?;
        socket
            .init(json!({ "Authorization": format!("Bearer {token}") }))
            .await?;
        match socket.next().await? {
            ack if ack["type"] == "connection_ack" => Ok(socket),
            other => Err(LiveError::Unexpected(other)),
        }
    }

    /// Sends `connection_init` with `payload`.
    pub async fn init(&mut self, payload: Value) -> Result<(), LiveError> {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await
    }

    /// Sends one protocol message.
    pub async fn send(&mut self, message: Value) -> Result<(), LiveError> {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await?;
        Ok(())
    }

    /// Subscribes operation `id` to `query`.
    pub async fn subscribe(&mut self, id: &str, query: &str) -> Result<(), LiveError> {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await
    }

    /// Returns once the server has read every message sent so far: it answers a ping in
    /// order, after the operations before it were admitted or refused.
    pub async fn read_up_to_here(&mut self) -> Result<(), LiveError> {
        self.send(json!({ "type": "ping" })).await?;
        match self.next().await? {
            pong if pong["type"] == "pong" => Ok(()),
            other => Err(LiveError::Unexpected(other)),
        }
    }

    /// Starts the closing handshake, as a client leaving a page does.
    pub async fn close(&mut self, code: u16) -> Result<(), LiveError> {
        let frame = CloseFrame {
            code: code.into(),
            reason: "bye".into(),
        };
        self.socket.send(Message::Close(Some(frame))).await?;
        Ok(())
    }

    /// The next protocol message, the server's keep-alives (`ping`, legacy `ka`) skipped;
    /// a close comes back as `{"close": code}` (`null` when the socket just went).
    pub async fn next(&mut self) -> Result<Value, LiveError> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|_| json!({ "text": text.as_str() }));
                    if message["type"] != "ping" && message["type"] != "ka" {
                        return Ok(message);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(json!({ "close": frame.map(|frame| u16::from(frame.code)) }));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Ok(json!({ "close": null })),
            }
        }
    }
}
