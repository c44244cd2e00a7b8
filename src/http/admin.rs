//! `POST /admin/graphql`: the admin API, served only when operator keys are configured.
//! Admitted as the user API is (body limits, media types, the client address's rate),
//! then by an operator key, never a user's token, under that key's own rate.

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, State, rejection::BytesRejection},
    http::HeaderMap,
    response::Response,
};

use super::{
    AppState,
    admission::{bearer_token, check_client_rate},
    errors::{graphql_response, rate_limited_response, service_error_response},
    graphql::{labelled, not_acceptable, read_batch, require_query},
    media::{NotAcceptable, ResponseMedia},
};
use crate::{
    graphql::{AdminSchema, Loaders},
    service::ServiceError,
    telemetry::logging::client_address,
};

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
    let Some(schema) = &state.admin_schema else {
        // Routed only when configured; a state without it refuses rather than serves.
        return service_error_response(&not_an_admin());
    };
    labelled(
        media,
        post_as(schema, media, &state, peer, &headers, body).await,
    )
}

async fn post_as(
    schema: &AdminSchema,
    media: ResponseMedia,
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut batch = match read_batch(state, headers, body) {
        Ok(batch) => batch,
        Err(refused) => return refused.into_response(),
    };
    if let Err(refused) = require_query(&batch) {
        return refused.into_response();
    }
    let client = state.clients.client_info(peer, headers);
    if let Err(limited) = check_client_rate(state, &client).await {
        return rate_limited_response(limited);
    }
    let Some(Ok(key)) = bearer_token(headers) else {
        return service_error_response(&not_an_admin());
    };
    let admin = match state.services.authenticate_admin(key) {
        Ok(admin) => admin,
        Err(error) => return service_error_response(&error),
    };
    if let Err(limited) = state
        .services
        .rate_limits()
        .check_admin(&admin.key_id)
        .await
    {
        return rate_limited_response(limited);
    }
    tracing::info!(
        admin_key = %admin.key_id,
        client = client_address(client.ip_address.as_deref(), state.log_client_ips).as_deref(),
        "admin API request"
    );
    for request in batch.iter_mut() {
        request.data.insert(admin.clone());
        request
            .data
            .insert(Loaders::for_administrator(&state.services));
    }
    graphql_response(schema.execute_batch(batch).await, media)
}

fn not_an_admin() -> ServiceError {
    ServiceError::Unauthenticated(
        "the admin API needs `Authorization: Bearer <operator key>`".into(),
    )
}
