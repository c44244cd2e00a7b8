//! The GraphQL endpoint. The caller is admitted at the edge (`edge`) once per request,
//! before any resolver runs; every error leaves with an `extensions.code`.

use async_graphql::{BatchRequest, Request, parser::types::OperationType};
use axum::{
    body::Bytes,
    extract::{RawQuery, State, rejection::BytesRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::{
    AppState,
    batch::{labelled, negotiate, read_batch, require_query, run},
    edge::{Client, Edge, attach_requester},
    errors::service_error_response,
    media::ResponseMedia,
    refusals::EdgeRefusal,
};
use crate::{graphql::selected_operations, service::ClientInfo};

/// `POST /graphql`: a JSON GraphQL request or batch.
pub async fn post(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(refused) => return refused.into_response(),
    };
    let answer = match read_batch(&state, &headers, body) {
        Ok(batch) => execute(&state, media, &client, &headers, batch).await,
        Err(refused) => refused.into_response(),
    };
    labelled(media, answer)
}

/// `GET /graphql?query=…`: queries only, so a link or an image tag can never change state.
pub async fn get(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(refused) => return refused.into_response(),
    };
    let answer = match read_query_string(query) {
        Ok(request) => execute(&state, media, &client, &headers, request).await,
        Err(refused) => refused.into_response(),
    };
    labelled(media, answer)
}

/// The one query a GET request's query string holds; else the refusal.
fn read_query_string(query: Option<String>) -> Result<BatchRequest, EdgeRefusal> {
    let mut request =
        async_graphql::http::parse_query_string(&query.unwrap_or_default()).map_err(|error| {
            EdgeRefusal::BadRequest(format!(
                "the query string is not a GraphQL request: {error}"
            ))
        })?;
    if !is_query_operation(&mut request) {
        return Err(EdgeRefusal::ReadOnlyOverGet);
    }
    let batch = BatchRequest::Single(request);
    require_query(&batch)?;
    Ok(batch)
}

/// True unless the request selects a mutation or subscription. A query that does not
/// parse is let through: executing it answers with the parse error.
fn is_query_operation(request: &mut Request) -> bool {
    selected_operations(request).is_none_or(|mut operations| {
        operations.all(|operation| operation.ty == OperationType::Query)
    })
}

/// Admits the caller at the edge, then runs the batch as who it is.
async fn execute(
    state: &AppState,
    media: ResponseMedia,
    client: &ClientInfo,
    headers: &HeaderMap,
    mut batch: BatchRequest,
) -> Response {
    let requester = match Edge::new(state, client).admit(headers).await {
        Ok(requester) => requester,
        Err(error) => return service_error_response(&error),
    };
    for request in batch.iter_mut() {
        // Loaders are per request, so each request of a batch gets fresh ones.
        attach_requester(&mut request.data, state, requester.clone());
    }
    run(state, &state.schema, batch, media).await
}
