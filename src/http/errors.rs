//! How errors leave over HTTP: every one with an `extensions.code`, with the HTTP status
//! and headers its code calls for (401 with `WWW-Authenticate`, 429 with `Retry-After`).

use async_graphql::{BatchResponse, ErrorExtensionValues, ServerError};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::json;

use super::{media::ResponseMedia, observe::Answered, refusals::EdgeRefusal};
use crate::{graphql::error_code, service::ServiceError};

/// An executed GraphQL answer as HTTP in the negotiated media type: its errors coded, its
/// status chosen from them, and no `data` when the request never ran.
pub(super) fn graphql_response(mut response: BatchResponse, media: ResponseMedia) -> Response {
    let outcome = finish_errors(&mut response);
    let ran = answers(&response)
        .iter()
        .any(|answer| !is_request_error(answer));
    let outcome = match media {
        ResponseMedia::Json => outcome,
        // The status says whether the request ran: an answer with `data` is a 200, even
        // one whose fields failed; one that never ran is a 4xx (or 401, 429, 503).
        ResponseMedia::GraphqlResponse if ran => Outcome {
            status: StatusCode::OK,
            retry_after: None,
        },
        ResponseMedia::GraphqlResponse if outcome.status == StatusCode::OK => Outcome {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
        },
        ResponseMedia::GraphqlResponse => outcome,
    };
    let body = match serde_json::to_vec(&Answers(&response)) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a GraphQL answer could not be serialised");
            return EdgeRefusal::Internal.into_response();
        }
    };
    let mut http = (
        outcome.status,
        [(header::CONTENT_TYPE, media.content_type())],
        body,
    )
        .into_response();
    refusal_headers(&mut http, outcome.retry_after);
    http
}

/// The headers a refusal's status calls for: `WWW-Authenticate` with a 401, and
/// `Retry-After` when the client should wait `retry_after` seconds (a rate limit, an
/// outage). Every transport that refuses over HTTP adds them here.
pub(crate) fn refusal_headers(response: &mut Response, retry_after: Option<u64>) {
    let unauthorized = response.status() == StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    if unauthorized {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, seconds.into());
    }
}

/// The answers of a batch, or the one answer of a single request.
pub(super) fn answers(response: &BatchResponse) -> &[async_graphql::Response] {
    match response {
        BatchResponse::Single(single) => std::slice::from_ref(single),
        BatchResponse::Batch(many) => many,
    }
}

/// True when the request never ran: it did not parse, validate or coerce its variables.
/// Such errors come before execution, so none has a path, and there is no data.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// A batch's answers as sent: the GraphQL specification leaves `data` out of an answer
/// whose request never ran, where async-graphql would send `"data": null`.
struct Answers<'a>(&'a BatchResponse);

impl Serialize for Answers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            BatchResponse::Single(single) => Answer(single).serialize(serializer),
            BatchResponse::Batch(many) => serializer.collect_seq(many.iter().map(Answer)),
        }
    }
}

struct Answer<'a>(&'a async_graphql::Response);

impl Serialize for Answer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !is_request_error(self.0) {
            return self.0.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("errors", &self.0.errors)?;
        if !self.0.extensions.is_empty() {
            map.serialize_entry("extensions", &self.0.extensions)?;
        }
        map.end()
    }
}

/// The `errors` of an operation refused before it ran, e.g. over a websocket; a rate
/// limit or an unreachable database says when to retry (`retryAfter`, seconds).
pub(super) fn refusal(error: &ServiceError) -> serde_json::Value {
    error.log();
    let mut extensions = json!({ "code": error.code() });
    if let Some(seconds) = error.retry_after_seconds() {
        extensions["retryAfter"] = seconds.into();
    }
    json!([{ "message": error.to_string(), "extensions": extensions }])
}

/// The HTTP status a GraphQL answer gets from its errors, and how long to wait when
/// one of them says waiting helps.
struct Outcome {
    status: StatusCode,
    retry_after: Option<u64>,
}

/// Gives every error a code (errors async-graphql raised itself, for syntax, validation or
/// argument coercion, have none yet) and picks the HTTP status. An answer that ran is a 200
/// unless one of its errors is a `ServiceError` (its source) whose status says who-are-you
/// (401), outage (503) or wait (429): the status [`status_of`] gives it, the same as when
/// the request is refused as a whole.
fn finish_errors(response: &mut BatchResponse) -> Outcome {
    let mut outcome = Outcome {
        status: StatusCode::OK,
        retry_after: None,
    };
    let answers: &mut [async_graphql::Response] = match response {
        BatchResponse::Single(single) => std::slice::from_mut(single),
        BatchResponse::Batch(many) => many,
    };
    for response in answers {
        for error in &mut response.errors {
            finish_error(error);
            let Some(service_error) = error.source::<ServiceError>() else {
                continue;
            };
            let status = status_of(service_error);
            if rank(status) == 0 {
                continue;
            }
            if rank(status) > rank(outcome.status) {
                outcome.status = status;
            }
            if status != StatusCode::UNAUTHORIZED {
                let wait = service_error.retry_after_seconds().unwrap_or(1);
                outcome.retry_after = Some(outcome.retry_after.unwrap_or(0).max(wait));
            }
        }
    }
    outcome
}

/// Which status wins when a batch's errors call for several: who-are-you first, then the
/// server's trouble, then the client's pace; 0 for a status that leaves an answer that ran
/// a 200 (a field's 404 or 403 is part of the answer).
fn rank(status: StatusCode) -> u8 {
    match status {
        StatusCode::UNAUTHORIZED => 3,
        StatusCode::SERVICE_UNAVAILABLE => 2,
        StatusCode::TOO_MANY_REQUESTS => 1,
        _ => 0,
    }
}

/// `errors`, each with a code: for results sent outside [`execute`], e.g. on a websocket.
pub(super) fn coded_errors(mut errors: Vec<ServerError>) -> Vec<ServerError> {
    for error in &mut errors {
        finish_error(error);
    }
    errors
}

/// Longest error message sent. The parser's messages quote the line they fail on, which
/// for a one-line document is the whole document: a 60 KiB query would come back as a
/// 60 KiB error.
const MAX_MESSAGE_BYTES: usize = 300;

/// Readies an error to be sent: a message of bounded size, and a code. Returns the code.
fn finish_error(error: &mut ServerError) -> String {
    if error.message.len() > MAX_MESSAGE_BYTES {
        error.message = bounded(&error.message);
    }
    ensure_code(error)
}

/// A long message without the source it quotes: the parser's `--> line:column` and its
/// `= expected …` lines, or else the message cut short.
fn bounded(message: &str) -> String {
    let kept: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("-->") || line.starts_with("= "))
        .collect();
    let mut text = if kept.is_empty() {
        message.to_owned()
    } else {
        format!("syntax error {}", kept.join("; "))
    };
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn ensure_code(error: &mut ServerError) -> String {
    let code = error_code(error).to_owned();
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code.as_str());
    code
}

/// The HTTP status an error is sent with wherever a request is refused as a whole: before
/// a GraphQL request runs, and by the REST APIs (a dialect may word bad input its own way).
/// Exhaustive, so a new error cannot ship without its status.
pub(crate) fn status_of(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::Unauthenticated(_) | ServiceError::SessionEnded => StatusCode::UNAUTHORIZED,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        ServiceError::DeviceBlocked(_) => StatusCode::CONFLICT,
        ServiceError::ReauthRequired
        | ServiceError::SignInPending
        | ServiceError::Forbidden(_)
        | ServiceError::SessionTooNew { .. } => StatusCode::FORBIDDEN,
        ServiceError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A request refused before it ran, with the status and headers its error calls for.
pub(super) fn service_error_response(error: &ServiceError) -> Response {
    let status = status_of(error);
    let body = json!({ "errors": refusal(error) });
    let mut response = (status, axum::Json(body)).into_response();
    refusal_headers(&mut response, error.retry_after_seconds());
    response
        .extensions_mut()
        .insert(Answered::Refused(error.code()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_lose_the_source_they_quote() {
        let document = "{ a ".repeat(10_000);
        let parse_error =
            format!(" --> 1:17781\n  |\n1 | {document}\n  |  ^---\n  |\n  = expected selection");
        assert_eq!(
            bounded(&parse_error),
            "syntax error --> 1:17781; = expected selection"
        );
        let other = "é".repeat(400);
        let cut = bounded(&other);
        assert!(cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8() && cut.ends_with('…'));
    }
}
