//! The GraphQL endpoints. The bearer token is resolved into a [`Requester`] once, here,
//! before any resolver runs; every error leaves with an `extensions.code`.

use std::net::SocketAddr;

use async_graphql::{
    BatchRequest, BatchResponse, Data, ErrorExtensionValues, Request, ServerError,
    http::GraphiQLSource, parser::types::OperationType,
};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::{
    graphql::{Loaders, limit_code, selected_operations},
    rate_limit::RateLimited,
    service::{ClientInfo, Requester, ServiceError},
};

/// Codes that mean "who are you?": answered with HTTP 401 so clients and proxies see it.
const AUTHENTICATION_CODES: [&str; 2] = ["UNAUTHENTICATED", "SESSION_ENDED"];

pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Sessionhub")
            .finish(),
    )
}

/// `POST /graphql`: a JSON GraphQL request or batch.
pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!(
                    "the request body is over {} bytes",
                    state.api.max_body_bytes
                ),
            );
        }
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the request body could not be read",
            );
        }
    };
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "send the GraphQL request as JSON with Content-Type: application/json",
        );
    }
    let batch = match serde_json::from_slice::<BatchRequest>(&body) {
        Ok(batch) => batch,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request: {error}"),
            );
        }
    };
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > state.api.max_batch
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BATCH_TOO_LARGE",
            &format!("a batch may hold at most {} requests", state.api.max_batch),
        );
    }
    execute(&state, peer, &headers, batch).await
}

/// `GET /graphql?query=…`: queries only, so a link or an image tag can never change state.
pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut request = match async_graphql::http::parse_query_string(&query.unwrap_or_default()) {
        Ok(request) => request,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the query string is not a GraphQL request: {error}"),
            );
        }
    };
    if !is_query_operation(&mut request) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "mutations and subscriptions must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, peer, &headers, BatchRequest::Single(request)).await
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

/// The token of an `Authorization` value `Bearer <token>` (scheme in any case); `None`
/// for another scheme or an empty token.
pub(super) fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(value.to_str().ok().and_then(bearer).ok_or(()))
}

async fn resolve_requester(
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
    if let Requester::Session(actor) = &requester {
        data.insert(Loaders::new(&state.services, actor));
    }
    data.insert(requester);
}

async fn execute(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    mut batch: BatchRequest,
) -> Response {
    let client = state.clients.client_info(peer, headers);
    if let Err(limited) = check_client_rate(state, &client) {
        return rate_limited_response(limited);
    }
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
    let mut response = state.schema.execute_batch(batch).await;
    let outcome = finish_errors(&mut response);
    let mut http = (outcome.status, axum::Json(&response)).into_response();
    if outcome.status == StatusCode::UNAUTHORIZED {
        http.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = outcome.retry_after {
        http.headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    http
}

/// Counts a request (or websocket attempt) against its client address's rate.
/// An address is not an account, so its lockouts go to the operator's log, not a user's.
pub(super) fn check_client_rate(state: &AppState, client: &ClientInfo) -> Result<(), RateLimited> {
    let address = client.ip_address.as_deref().unwrap_or_default();
    let checked = state.services.rate_limits().check_client(address);
    if let Err(limited) = &checked
        && limited.starts_lockout
    {
        tracing::warn!(
            address,
            "client address over its request rate; refusing for now"
        );
    }
    checked
}

/// HTTP 429 with `Retry-After`, and the same wait as `extensions.retryAfter`.
pub(super) fn rate_limited_response(limited: RateLimited) -> Response {
    let seconds = limited.retry_after_seconds();
    let body = json!({ "errors": [{
        "message": format!("too many requests; try again in {seconds} s"),
        "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds },
    }] });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, seconds.into());
    response
}

/// The HTTP status a GraphQL answer gets from its errors, and how long to wait when
/// one of them is a rate limit.
struct Outcome {
    status: StatusCode,
    retry_after: Option<u64>,
}

/// Gives every error a code and picks the HTTP status: errors async-graphql raised itself
/// (syntax, validation, argument coercion) have none yet.
fn finish_errors(response: &mut BatchResponse) -> Outcome {
    let responses: Vec<&mut async_graphql::Response> = match response {
        BatchResponse::Single(single) => vec![single],
        BatchResponse::Batch(many) => many.iter_mut().collect(),
    };
    let mut outcome = Outcome {
        status: StatusCode::OK,
        retry_after: None,
    };
    for response in responses {
        for error in &mut response.errors {
            let code = ensure_code(error);
            if AUTHENTICATION_CODES.contains(&code.as_str()) {
                outcome.status = StatusCode::UNAUTHORIZED;
            } else if code == "RATE_LIMITED" && outcome.status != StatusCode::UNAUTHORIZED {
                outcome.status = StatusCode::TOO_MANY_REQUESTS;
                let wait = error
                    .extensions
                    .as_ref()
                    .and_then(|extensions| match extensions.get("retryAfter") {
                        Some(async_graphql::Value::Number(n)) => n.as_u64(),
                        _ => None,
                    })
                    .unwrap_or(1);
                outcome.retry_after = Some(outcome.retry_after.unwrap_or(0).max(wait));
            }
        }
    }
    outcome
}

/// `errors`, each with a code: for results sent outside [`execute`], e.g. on a websocket.
pub(super) fn coded_errors(mut errors: Vec<ServerError>) -> Vec<ServerError> {
    for error in &mut errors {
        ensure_code(error);
    }
    errors
}

fn ensure_code(error: &mut ServerError) -> String {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if let Some(async_graphql::Value::String(code)) = extensions.get("code") {
        return code.clone();
    }
    // Without a path the error came before execution: the document itself is wrong.
    let code = if let Some(code) = limit_code(&error.message) {
        code
    } else if error.path.is_empty() {
        "GRAPHQL_VALIDATION_FAILED"
    } else {
        "BAD_USER_INPUT"
    };
    extensions.set("code", code);
    code.to_owned()
}

fn service_error_response(error: &ServiceError) -> Response {
    let status = match error {
        ServiceError::RateLimited(limited) => return rate_limited_response(*limited),
        ServiceError::Unauthenticated(_) | ServiceError::SessionEnded => StatusCode::UNAUTHORIZED,
        ServiceError::Database(error) => {
            tracing::error!(%error, "database error while admitting a request");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = error_response(status, error.code(), &error.to_string());
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

pub(super) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}
