//! The wire protocols, apart from what a message means to a connection: negotiation, the
//! messages a client sends, how a frame decodes, and the close codes. Unit-tested without
//! a socket.

use async_graphql::Request;
use axum::{extract::ws::Message, http::HeaderMap};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::edge::bearer;

/// Close codes of the `graphql-transport-ws` protocol, and the standard ones we use.
pub(super) mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_SUBSCRIBER: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
    /// The same code for a client that keeps sending operations it is refused.
    pub const TOO_MANY_REQUESTS: u16 = 4429;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws`, the protocol of the retired subscriptions-transport-ws.
    LegacyWs,
}

impl Protocol {
    /// The client's preferred protocol we speak; `graphql-transport-ws` when it names none.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
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

    pub(super) fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyWs => "graphql-ws",
        }
    }

    pub(super) fn next_type(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::LegacyWs => "data",
        }
    }

    pub(super) fn keepalive(self) -> Value {
        match self {
            Protocol::TransportWs => json!({ "type": "ping" }),
            Protocol::LegacyWs => json!({ "type": "ka" }),
        }
    }
}

/// Messages from the client, in both protocols' words.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
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

/// What one client frame turned out to be.
pub(super) enum Incoming {
    Message(ClientMessage),
    /// Transport-level traffic (websocket pings, pongs) we need not act on.
    Nothing,
    Malformed,
    /// The client sent a Close frame: the closing handshake is ours to finish.
    Closed,
    /// The connection broke or ended without a Close frame.
    Gone,
}
/// What one received frame (or the end of the stream) means.
pub(super) fn decode(frame: Option<Result<Message, axum::Error>>) -> Incoming {
    match frame {
        Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
            Ok(message) => Incoming::Message(message),
            Err(_) => Incoming::Malformed,
        },
        Some(Ok(Message::Binary(_))) => Incoming::Malformed,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Nothing,
        Some(Ok(Message::Close(_))) => Incoming::Closed,
        Some(Err(_)) | None => Incoming::Gone,
    }
}

/// The answer to a client's `ping`, echoing its payload when it had one.
pub(super) fn pong(payload: Option<Value>) -> Value {
    match payload {
        Some(payload) => json!({ "type": "pong", "payload": payload }),
        None => json!({ "type": "pong" }),
    }
}

/// The session token of a `connection_init` payload: `{"Authorization": "Bearer …"}` or
/// `{"token": "…"}`.
pub(super) fn init_token(payload: &Value) -> Option<&str> {
    let authorization = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(Value::as_str);
    match authorization {
        Some(value) => bearer(value),
        None => payload.get("token").and_then(Value::as_str),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_first_offered_protocol_we_speak_is_chosen() {
        let mut headers = HeaderMap::new();
        assert_eq!(Protocol::negotiate(&headers), Some(Protocol::TransportWs));
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("mqtt, graphql-ws, graphql-transport-ws"),
        );
        assert_eq!(Protocol::negotiate(&headers), Some(Protocol::LegacyWs));
        headers.insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        assert_eq!(Protocol::negotiate(&headers), None);
    }

    #[test]
    fn frames_decode_in_both_protocols_words() {
        let text = |json: &str| Some(Ok(Message::Text(json.to_owned().into())));
        assert!(matches!(
            decode(text(r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#)),
            Incoming::Message(ClientMessage::Subscribe { id, .. }) if id == "1"
        ));
        assert!(matches!(
            decode(text(r#"{"type":"stop","id":"1"}"#)),
            Incoming::Message(ClientMessage::Complete { .. })
        ));
        assert!(matches!(
            decode(text(r#"{"type":"nope"}"#)),
            Incoming::Malformed
        ));
        assert!(matches!(
            decode(Some(Ok(Message::Binary(vec![1].into())))),
            Incoming::Malformed
        ));
        assert!(matches!(
            decode(Some(Ok(Message::Close(None)))),
            Incoming::Closed
        ));
        assert!(matches!(decode(None), Incoming::Gone));
    }

    #[test]
    fn init_tokens_come_from_either_key() {
        let bearer = json!({ "Authorization": "Bearer abc" });
        assert_eq!(init_token(&bearer), Some("abc"));
        assert_eq!(init_token(&json!({ "token": "xyz" })), Some("xyz"));
        assert_eq!(init_token(&json!({ "Authorization": "Basic abc" })), None);
        assert_eq!(pong(None), json!({ "type": "pong" }));
    }
}
