//! `POST /admin/graphql`: the admin API, served only when operator keys are configured.
//! Its requests arrive as the user API's do (body limits, media types), and are admitted
//! at the same edge: the client address's rate, then an operator key (never a user's
//! token) under that key's own rate.

use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::{
    AppState,
    batch::{labelled, negotiate, read_batch, run},
    edge::{Client, Edge},
    errors::service_error_response,
    media::ResponseMedia,
    observe::OperatorKey,
};
use crate::{
    graphql::{AdminSchema, Loaders},
    service::{ClientInfo, ServiceError},
};

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
    let Some(schema) = &state.admin_schema else {
        // Routed only when configured; a state without it refuses rather than serves.
        return service_error_response(&ServiceError::Unauthenticated(
            "the admin API is not configured".into(),
        ));
    };
    let answer = match read_batch(&state, &headers, body) {
        Ok(batch) => execute(schema, &state, media, &client, &headers, batch).await,
        Err(refused) => refused.into_response(),
    };
    labelled(media, answer)
}

async fn execute(
    schema: &AdminSchema,
    state: &AppState,
    media: ResponseMedia,
    client: &ClientInfo,
    headers: &HeaderMap,
    mut batch: async_graphql::BatchRequest,
) -> Response {
    let admin = match Edge::new(state, client).admit_operator(headers).await {
        Ok(admin) => admin,
        Err(error) => return service_error_response(&error),
    };
    for request in batch.iter_mut() {
        request.data.insert(admin.clone());
        request
            .data
            .insert(Loaders::for_administrator(&state.services));
    }
    let key = OperatorKey(admin.key_id.clone());
    let mut answer = run(state, schema, batch, media).await;
    // Which key did it is the operator's own record, in the request's log line.
    answer.extensions_mut().insert(key);
    answer
}
