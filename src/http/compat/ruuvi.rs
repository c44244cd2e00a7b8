//! Ruuvi Cloud's session API (seed 004): `{ "result": "success", "data": … }`, refusals
//! as `{ "result": "error", "error", "code", "sub_code" }`, times in epoch seconds.
//!
//! Ruuvi numbers its sessions with integers; ours are UUIDs. A session's Ruuvi id is the
//! low 53 bits of its UUID ([`ruuvi_id`]): stable for the session's whole life, the
//! random part of a UUIDv7 (so two sessions of one account collide with odds of about
//! 1 in 2^53), and within JavaScript's safe integers, so a browser client that parses
//! the JSON keeps it exact.

use axum::{Json, extract::State, http::StatusCode};
use entity::session;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    Caller, Dialect, Refused,
    refusal::{self, PathId, Refusal},
};
use crate::{
    http::AppState,
    service::{Actor, ServiceError},
};

pub(super) struct Ruuvi;

type Answer<T> = Result<Json<T>, Refused<Ruuvi>>;

impl Dialect for Ruuvi {
    type Error = RuuviError;

    /// Ruuvi's primary codes by status; Sessionhub's own code as the `sub_code`.
    fn body(refusal: &Refusal) -> RuuviError {
        let code = match refusal.status {
            StatusCode::UNAUTHORIZED => "ER_UNAUTHORIZED",
            StatusCode::FORBIDDEN => "ER_FORBIDDEN",
            StatusCode::NOT_FOUND if refusal.missing == Some("session") => "ER_SESSION_NOT_FOUND",
            StatusCode::NOT_FOUND => "ER_NOT_FOUND",
            StatusCode::BAD_REQUEST => "ER_INVALID_FORMAT",
            StatusCode::TOO_MANY_REQUESTS => "ER_THROTTLED",
            StatusCode::METHOD_NOT_ALLOWED => "ER_METHOD_NOT_ALLOWED",
            StatusCode::SERVICE_UNAVAILABLE => "ER_SERVICE_UNAVAILABLE",
            _ => "ER_INTERNAL",
        };
        RuuviError {
            result: ErrorResult::Error,
            error: refusal.message.clone(),
            code,
            sub_code: Some(refusal.code),
        }
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Sessionhub: Ruuvi Cloud sessions",
    description = "Ruuvi Cloud's session API, served by Sessionhub over its own accounts. Every call needs `Authorization: Bearer <session token>`. A session's `id` is the low 53 bits of its Sessionhub UUID. A refusal's `sub_code` is Sessionhub's machine-readable code.",
    version = "1.0.0"
))]
struct Document;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(get_sessions, delete_sessions))
        .routes(routes!(delete_session))
}

/// A refusal's `result`: always `error`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum ErrorResult {
    Error,
}

/// A success's `result`: always `success`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum SuccessResult {
    Success,
}

/// A refusal.
#[derive(Serialize, ToSchema)]
pub(super) struct RuuviError {
    result: ErrorResult,
    /// Human-readable explanation.
    error: String,
    /// Ruuvi's machine-readable primary code, e.g. `ER_UNAUTHORIZED`.
    code: &'static str,
    /// Sessionhub's machine-readable code, e.g. `SESSION_ENDED`.
    sub_code: Option<&'static str>,
}

type Refusals = refusal::Refusals<Ruuvi>;

/// A session's id as Ruuvi clients know it: the low 53 bits of its UUID.
fn ruuvi_id(id: Uuid) -> i64 {
    const LOW_53_BITS: u128 = (1 << 53) - 1;
    i64::try_from(id.as_u128() & LOW_53_BITS).expect("53 bits fit an i64")
}

/// The session a path's id names: an integer. Anything else, like an integer no session
/// has, names no session: 404, the one refusal Ruuvi's document gives for the id (as the
/// other APIs answer a malformed device id).
fn session_number(id: &str) -> Result<i64, ServiceError> {
    id.parse().map_err(|_| ServiceError::NotFound("session"))
}

/// An active session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RuuviSession {
    /// Identifier of the session: the low 53 bits of its Sessionhub UUID.
    id: i64,
    /// Epoch seconds when the session was created.
    created_at: i64,
    /// Epoch seconds when the session was last used.
    last_accessed: i64,
    /// Whether this session authorised the request.
    current: bool,
}

impl RuuviSession {
    fn new(session: &session::Model, viewer: &Actor) -> Self {
        Self {
            id: ruuvi_id(session.id),
            created_at: session.started_at.timestamp(),
            last_accessed: session.last_activity_at.timestamp(),
            current: session.id == viewer.session_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Sessions {
    sessions: Vec<RuuviSession>,
}

/// A success with the endpoint's payload.
#[derive(Serialize, ToSchema)]
struct Success<T> {
    result: SuccessResult,
    data: T,
}

/// No payload: `{}`.
#[derive(Serialize, ToSchema)]
struct Empty {}

fn success<T>(data: T) -> Json<Success<T>> {
    Json(Success {
        result: SuccessResult::Success,
        data,
    })
}

/// The authenticated user's active sessions, most recent access first.
#[utoipa::path(
    get,
    path = "/sessions",
    operation_id = "getSessions",
    tag = "Sessions",
    responses(
        (status = 200, description = "Active sessions retrieved successfully", body = Success<Sessions>,
            links(("DeleteSession" = (operation_id = "deleteSession", parameters(("id" = "$response.body#/data/sessions/0/id")), description = "Delete the most recently used session")))),
        Refusals
    )
)]
async fn get_sessions(
    State(state): State<AppState>,
    caller: Caller<Ruuvi>,
) -> Answer<Success<Sessions>> {
    let actor = caller.confirmed()?;
    let sessions = state.services.sessions(actor.account(), false).await?;
    Ok(success(Sessions {
        sessions: sessions
            .iter()
            .map(|session| RuuviSession::new(session, actor))
            .collect(),
    }))
}

/// Deletes all active sessions of the user, the one authorising this request included.
#[utoipa::path(
    delete,
    path = "/sessions",
    operation_id = "deleteSessions",
    tag = "Sessions",
    responses((status = 200, description = "All active sessions deleted successfully", body = Success<Empty>), Refusals)
)]
async fn delete_sessions(
    State(state): State<AppState>,
    caller: Caller<Ruuvi>,
) -> Answer<Success<Empty>> {
    state
        .services
        .revoke_all_sessions(caller.confirmed()?, true)
        .await?;
    Ok(success(Empty {}))
}

/// Deletes one active session by its id; deleting the calling session signs it out.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    operation_id = "deleteSession",
    tag = "Sessions",
    params(("id" = i64, Path, description = "ID of the session to delete")),
    responses(
        (status = 200, description = "Session deleted successfully", body = Success<Empty>),
        (status = 404, description = "No active session of the user has this id", body = RuuviError),
        Refusals
    )
)]
async fn delete_session(
    State(state): State<AppState>,
    caller: Caller<Ruuvi>,
    PathId(id, _): PathId<Ruuvi>,
) -> Answer<Success<Empty>> {
    let id = session_number(&id)?;
    let actor = caller.ending(|own| ruuvi_id(own) == id)?;
    let sessions = state.services.sessions(actor.account(), false).await?;
    let session = sessions
        .iter()
        .find(|session| ruuvi_id(session.id) == id)
        .ok_or(ServiceError::NotFound("session"))?;
    state.services.revoke_session(actor, session.id).await?;
    Ok(success(Empty {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruuvi_ids_are_the_low_53_bits_and_safe_in_javascript() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_002a);
        assert_eq!(ruuvi_id(id), 0x2a);
        let all_ones = Uuid::from_u128(u128::MAX);
        assert_eq!(ruuvi_id(all_ones), (1 << 53) - 1);
        assert!(ruuvi_id(Uuid::now_v7()) < 1 << 53);
    }

    #[test]
    fn only_an_integer_names_a_session() {
        assert_eq!(session_number("42").unwrap(), 42);
        for none in ["9223372036854775808", "", "-", "abc", "1.5", "null,null"] {
            assert!(
                matches!(session_number(none), Err(ServiceError::NotFound("session"))),
                "{none}"
            );
        }
    }

    #[test]
    fn refusals_carry_ruuvis_code_and_sessionhubs() {
        let body = serde_json::to_value(Ruuvi::body(&Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "SESSION_ENDED",
            message: "This session has ended; sign in again".to_owned(),
            retry_after: None,
            missing: None,
        }))
        .unwrap();
        assert_eq!(body["result"], "error");
        assert_eq!(body["code"], "ER_UNAUTHORIZED");
        assert_eq!(body["sub_code"], "SESSION_ENDED");
    }
}
