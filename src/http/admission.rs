//! Admitting a request, over HTTP or websocket alike: the client address's rate, and who
//! the bearer token says is calling.

use async_graphql::Data;
use axum::http::{HeaderMap, header};

use super::AppState;
use crate::{
    graphql::Loaders,
    service::{ClientInfo, Requester, ServiceError, rate_limit::RateLimited},
    telemetry::logging::client_address,
};

/// The token of an `Authorization` value `Bearer <token>` (scheme in any case); `None`
/// for another scheme or an empty token.
pub(super) fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(super) fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(value.to_str().ok().and_then(bearer).ok_or(()))
}

pub(super) async fn resolve_requester(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientInfo,
) -> Result<Requester, ServiceError> {
    match bearer_token(headers) {
        None => Ok(Requester::Anonymous),
        Some(Err(())) => Err(ServiceError::Unauthenticated(
            "the Authorization header must be `Bearer <token>`".into(),
        )),
        Some(Ok(token)) => state.services.authenticate(token, client).await,
    }
}

/// Puts what a request (or a websocket connection) needs into its data: who is asking,
/// and fresh loaders for them.
pub(super) fn attach_requester(data: &mut Data, state: &AppState, requester: Requester) {
    if let Some(loaders) = Loaders::for_requester(&state.services, &requester) {
        data.insert(loaders);
    }
    data.insert(requester);
}

/// Counts a request (or websocket attempt) against its client address's rate.
/// An address is not an account, so its lockouts go to the operator's log, not a user's.
pub(super) async fn check_client_rate(
    state: &AppState,
    client: &ClientInfo,
) -> Result<(), RateLimited> {
    let address = client.ip_address.as_deref().unwrap_or_default();
    let checked = state.services.rate_limits().check_client(address).await;
    if let Err(limited) = &checked
        && limited.starts_lockout
    {
        tracing::warn!(
            address = client_address(Some(address), state.log_client_ips),
            "client address over its request rate; refusing for now"
        );
    }
    checked
}
