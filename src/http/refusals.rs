//! What the edge refuses on its own, before any service rule runs: one enum, each case
//! with its code, its HTTP status and its message, so that no code is a string written
//! where it is sent. A `ServiceError` carries its own code (`service::error`) and takes its
//! status from `errors::status_of`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use serde_json::json;

use super::observe::Answered;

/// A request the edge refuses, whatever the transport.
#[derive(Debug)]
pub enum EdgeRefusal {
    /// The body could not be read, or is not a GraphQL request (`why` says how).
    BadRequest(String),
    /// The POST body is not declared as JSON.
    NotJson,
    /// A GraphQL request without a document (a misspelt `query` key, say).
    NoQuery,
    /// A mutation or subscription sent with GET, which may only read.
    ReadOnlyOverGet,
    /// The body is larger than the server takes (`limit` bytes, when known).
    PayloadTooLarge { limit: Option<usize> },
    /// A batch holds more requests than the server takes.
    BatchTooLarge { limit: usize },
    /// The client accepts no media type a GraphQL answer can be sent as.
    NotAcceptable,
    /// A REST path that does not take the request's method.
    MethodNotAllowed,
    /// A websocket handshake that names no subprotocol spoken here.
    NoSubprotocol,
    /// A websocket connection that holds as many subscriptions as it may.
    TooManySubscriptions { limit: usize },
    /// Something failed inside (details only in the log).
    Internal,
}

impl EdgeRefusal {
    /// The machine-readable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_)
            | Self::NotJson
            | Self::NoQuery
            | Self::ReadOnlyOverGet
            | Self::NoSubprotocol => "BAD_REQUEST",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::BatchTooLarge { .. } => "BATCH_TOO_LARGE",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::TooManySubscriptions { .. } => "TOO_MANY_SUBSCRIPTIONS",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status it is sent with (a websocket sends it in a message instead).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_)
            | Self::NoQuery
            | Self::NoSubprotocol
            | Self::BatchTooLarge { .. }
            | Self::TooManySubscriptions { .. } => StatusCode::BAD_REQUEST,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ReadOnlyOverGet | Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What it tells a person.
    pub fn message(&self) -> String {
        match self {
            Self::BadRequest(why) => why.clone(),
            Self::NotJson => {
                "send the GraphQL request as JSON with Content-Type: application/json".into()
            }
            Self::NoQuery => "the request has no `query`".into(),
            Self::ReadOnlyOverGet => "mutations and subscriptions must be sent with POST".into(),
            Self::PayloadTooLarge { limit: Some(limit) } => {
                format!("the request body is over {limit} bytes")
            }
            Self::PayloadTooLarge { limit: None } => {
                "the body is larger than this server takes".into()
            }
            Self::BatchTooLarge { limit } => format!("a batch may hold at most {limit} requests"),
            Self::NotAcceptable => {
                "accept application/graphql-response+json or application/json".into()
            }
            Self::MethodNotAllowed => "this path does not take that method".into(),
            Self::NoSubprotocol => "speak graphql-transport-ws or graphql-ws".into(),
            Self::TooManySubscriptions { limit } => {
                format!("a connection may hold at most {limit} subscriptions")
            }
            Self::Internal => "internal error".into(),
        }
    }
}

impl EdgeRefusal {
    /// The refusal as a GraphQL answer's `errors`, over HTTP or in a websocket message.
    pub fn errors(&self) -> serde_json::Value {
        json!([{ "message": self.message(), "extensions": { "code": self.code() } }])
    }
}

impl IntoResponse for EdgeRefusal {
    /// The refusal as a GraphQL-shaped HTTP answer, with the headers its case calls for.
    fn into_response(self) -> Response {
        let body = json!({ "errors": self.errors() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(Answered::Refused(self.code()));
        if let Self::ReadOnlyOverGet = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}
