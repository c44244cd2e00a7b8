//! The GraphQL endpoints. The bearer token is resolved into a [`Requester`] once, here,
//! before any resolver runs; every error leaves with an `extensions.code`.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, Request, parser::types::OperationType};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};

use super::{
    AppState,
    admission::{attach_requester, check_client_rate, resolve_requester},
    errors::{graphql_response, rate_limited_response, service_error_response},
    media::{NotAcceptable, ResponseMedia},
    observe::Observation,
    refusals::EdgeRefusal,
};
use crate::{graphql::selected_operations, service::Requester};

/// `POST /graphql`: a JSON GraphQL request or batch.
pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = match ResponseMedia::negotiate(&headers) {
        Ok(media) => media,
        Err(NotAcceptable) => return not_acceptable(),
    };
    labelled(media, post_as(media, &state, peer, &headers, body).await)
}

async fn post_as(
    media: ResponseMedia,
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match read_batch(state, headers, body) {
        Ok(batch) => execute(state, media, peer, headers, batch).await,
        Err(refused) => refused.into_response(),
    }
}

/// The GraphQL request or batch a POST body holds, within the configured sizes; else the
/// answer that refuses it.
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

/// `GET /graphql?query=…`: queries only, so a link or an image tag can never change state.
pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let media = match ResponseMedia::negotiate(&headers) {
        Ok(media) => media,
        Err(NotAcceptable) => return not_acceptable(),
    };
    labelled(media, get_as(media, &state, peer, &headers, query).await)
}

async fn get_as(
    media: ResponseMedia,
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: Option<String>,
) -> Response {
    let mut request = match async_graphql::http::parse_query_string(&query.unwrap_or_default()) {
        Ok(request) => request,
        Err(error) => {
            return EdgeRefusal::BadRequest(format!(
                "the query string is not a GraphQL request: {error}"
            ))
            .into_response();
        }
    };
    if !is_query_operation(&mut request) {
        return EdgeRefusal::ReadOnlyOverGet.into_response();
    }
    execute(state, media, peer, headers, BatchRequest::Single(request)).await
}

/// 406: the client accepts neither media type a GraphQL answer can be sent as.
pub(super) fn not_acceptable() -> Response {
    EdgeRefusal::NotAcceptable.into_response()
}

/// A refusal before execution is built as JSON; it is sent in the negotiated media type.
pub(super) fn labelled(media: ResponseMedia, mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// True unless the request selects a mutation or subscription. A query that does not
/// parse is let through: executing it answers with the parse error.
fn is_query_operation(request: &mut Request) -> bool {
    selected_operations(request).is_none_or(|mut operations| {
        operations.all(|operation| operation.ty == OperationType::Query)
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

async fn execute(
    state: &AppState,
    media: ResponseMedia,
    peer: SocketAddr,
    headers: &HeaderMap,
    mut batch: BatchRequest,
) -> Response {
    let client = state.clients.client_info(peer, headers);
    if let Err(limited) = check_client_rate(state, &client).await {
        return rate_limited_response(limited);
    }
    if let Err(refused) = require_query(&batch) {
        return refused.into_response();
    }
    let observation = Observation::start(&batch, &client, state.log_client_ips);
    let requester = match resolve_requester(state, headers, client).await {
        Ok(requester) => requester,
        Err(error) => return service_error_response(&error),
    };
    if let Requester::Session(actor) = &requester
        && let Err(error) = state.services.check_session_rate(actor).await
    {
        return service_error_response(&error);
    }
    for request in batch.iter_mut() {
        // Loaders are per request, so each request of a batch gets fresh ones.
        attach_requester(&mut request.data, state, requester.clone());
    }
    let response = state.schema.execute_batch(batch).await;
    if let Some(observation) = observation {
        observation.finish(&state.documents, &response);
    }
    graphql_response(response, media)
}
