//! A GraphQL request as it arrives over HTTP, for the user and the admin endpoints alike:
//! the media type it is answered in, its body within the configured sizes, and a document
//! in each request. Checked before the edge: none of it reads the database.

use async_graphql::{BatchRequest, Executor};
use axum::{
    body::Bytes,
    extract::rejection::BytesRejection,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};

use super::{
    AppState,
    errors::graphql_response,
    media::{NotAcceptable, ResponseMedia},
    observe::Naming,
    refusals::EdgeRefusal,
};

/// The media type the answer is sent in, or the 406 that refuses a client accepting none.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<ResponseMedia, EdgeRefusal> {
    ResponseMedia::negotiate(headers).map_err(|NotAcceptable| EdgeRefusal::NotAcceptable)
}

/// The GraphQL request or batch a POST body holds, within the configured sizes, each
/// with a document; else the refusal.
pub(super) fn read_batch(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchRequest, EdgeRefusal> {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(EdgeRefusal::PayloadTooLarge {
                limit: Some(state.api.max_body_bytes),
            });
        }
        Err(_) => {
            return Err(EdgeRefusal::BadRequest(
                "the request body could not be read".into(),
            ));
        }
    };
    if !is_json(headers) {
        return Err(EdgeRefusal::NotJson);
    }
    let batch = serde_json::from_slice::<BatchRequest>(&body).map_err(|error| {
        EdgeRefusal::BadRequest(format!("the body is not a GraphQL request: {error}"))
    })?;
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > state.api.max_batch
    {
        return Err(EdgeRefusal::BatchTooLarge {
            limit: state.api.max_batch,
        });
    }
    require_query(&batch)?;
    Ok(batch)
}

/// Refuses a batch with a request without a document: there is nothing to parse, so it is
/// not a GraphQL request (a misspelt `query` key, say), where async-graphql would answer
/// a parse error as if it ran.
pub(super) fn require_query(batch: &BatchRequest) -> Result<(), EdgeRefusal> {
    if batch.iter().any(|request| request.query.is_empty()) {
        return Err(EdgeRefusal::NoQuery);
    }
    Ok(())
}

/// Runs an admitted batch on `schema` and answers it in `media`, leaving for the request
/// log what each of its operations was and came to.
pub(super) async fn run(
    state: &AppState,
    schema: &impl Executor,
    batch: BatchRequest,
    media: ResponseMedia,
) -> Response {
    let naming = Naming::of(&batch);
    let response = schema.execute_batch(batch).await;
    let answered = naming.map(|naming| naming.answered(state, &response));
    let mut answer = graphql_response(response, media);
    if let Some(answered) = answered {
        answer.extensions_mut().insert(answered);
    }
    answer
}

/// A refusal before execution is built as JSON; it is sent in the negotiated media type.
pub(super) fn labelled(media: ResponseMedia, mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}
