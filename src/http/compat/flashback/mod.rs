//! Flashback's device and session management API (seeds 000, 001, 003): camelCase
//! fields, `{ "success": …, "devices" | "sessions" | "data" | "message" | "error" }`.

mod bodies;

use std::collections::HashMap;

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::StatusCode,
};
use entity::device::{self, TrustLevel};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use bodies::{
    DeviceAnswer, DeviceChanged, DevicesAnswer, Done, FlashbackDevice, FlashbackError,
    FlashbackSession, GivenTrustLevel, Message, RevokeAllRequest, SessionAnswer, SessionsAnswer,
    TrustRequest,
};

use super::{
    Caller, Dialect, Refused,
    refusal::{self, PathId, Refusal, uuid_of},
};
use crate::{
    http::{AppState, refusals::EdgeRefusal},
    service::{ServiceError, Services},
};

pub(super) struct Flashback;

type Answer<T> = Result<Json<T>, Refused<Flashback>>;

impl Dialect for Flashback {
    type Error = FlashbackError;

    fn body(refusal: &Refusal) -> FlashbackError {
        FlashbackError {
            success: false,
            error: refusal.message.clone(),
            code: refusal.code,
        }
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Sessionhub: Flashback device and session management",
    description = "Flashback's device and session API, served by Sessionhub over its own accounts. Every call needs `Authorization: Bearer <session token>`; an error carries Sessionhub's machine-readable `code` beside Flashback's `error` message.",
    version = "1.0.0"
))]
struct Document;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(get_devices))
        .routes(routes!(get_device, delete_device))
        .routes(routes!(trust_device))
        .routes(routes!(untrust_device))
        .routes(routes!(heartbeat))
        .routes(routes!(get_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_all_sessions))
}

type Refusals = refusal::Refusals<Flashback>;

/// Longest reason quoted from a body that does not parse: it may quote the client's input.
const MAX_REASON_CHARS: usize = 200;

/// A JSON body that does not parse is bad input, with the parser's reason cut short; one
/// over the size limit is too large (413).
fn parsed<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Refused<Flashback>> {
    body.map(|Json(body)| body).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Refused::Edge(EdgeRefusal::PayloadTooLarge { limit: None });
        }
        let reason: String = rejection
            .body_text()
            .chars()
            .take(MAX_REASON_CHARS)
            .collect();
        ServiceError::BadUserInput(format!("the body is not valid here: {reason}")).into()
    })
}

/// Retrieve all devices of the user, most recently seen first.
#[utoipa::path(
    get,
    path = "/devices",
    operation_id = "getDevices",
    tag = "Devices",
    responses(
        (status = 200, description = "The user's devices", body = DevicesAnswer,
            links(("GetDevice" = (operation_id = "getDevice", parameters(("id" = "$response.body#/devices/0/id")), description = "The most recently seen device")), ("UntrustDevice" = (operation_id = "untrustDevice", parameters(("id" = "$response.body#/devices/0/id")), description = "Remove the most recently seen device's trust")))),
        Refusals
    )
)]
async fn get_devices(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
) -> Answer<DevicesAnswer> {
    let devices = state
        .services
        .devices(caller.confirmed()?.account())
        .await?;
    let now = state.services.now();
    Ok(Json(DevicesAnswer {
        success: true,
        devices: devices
            .into_iter()
            .map(|device| FlashbackDevice::new(device, now))
            .collect(),
    }))
}

/// Get detailed information about one device.
#[utoipa::path(
    get,
    path = "/devices/{id}",
    operation_id = "getDevice",
    tag = "Devices",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device", body = DeviceAnswer),
        (status = 404, description = "No such device of the user", body = FlashbackError),
        Refusals
    )
)]
async fn get_device(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    PathId(id, _): PathId<Flashback>,
) -> Answer<DeviceAnswer> {
    let device = state
        .services
        .device(caller.confirmed()?, uuid_of(&id, "device")?)
        .await?
        .ok_or(ServiceError::NotFound("device"))?;
    Ok(Json(DeviceAnswer {
        success: true,
        data: FlashbackDevice::new(device, state.services.now()),
    }))
}

/// Mark a device as trusted. Trusting needs a recent sign-in, or a session on a trusted
/// device; a device flagged as hijacked cannot be trusted (409).
#[utoipa::path(
    post,
    path = "/devices/trust",
    operation_id = "trustDevice",
    tag = "Devices",
    request_body = TrustRequest,
    responses(
        (status = 200, description = "The device, now trusted", body = DeviceChanged),
        (status = 400, description = "The body is not a trust request", body = FlashbackError),
        (status = 413, description = "The body is larger than the server takes", body = FlashbackError),
        (status = 404, description = "No such device of the user", body = FlashbackError),
        (status = 409, description = "The device was flagged as hijacked", body = FlashbackError),
        Refusals
    )
)]
async fn trust_device(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    request: Result<Json<TrustRequest>, JsonRejection>,
) -> Answer<DeviceChanged> {
    let actor = caller.confirmed()?;
    let request = parsed(request)?;
    let level = match request.trust_level {
        GivenTrustLevel::High => TrustLevel::High,
        GivenTrustLevel::Medium => TrustLevel::Medium,
        GivenTrustLevel::Low => TrustLevel::Low,
    };
    let device = state
        .services
        .trust_device(
            actor,
            uuid_of(&request.device_id, "device")?,
            level,
            request.trust_expires_at,
        )
        .await?;
    changed(&state.services, "Device trusted", device)
}

/// Remove trust from a device.
#[utoipa::path(
    post,
    path = "/devices/{id}/untrust",
    operation_id = "untrustDevice",
    tag = "Devices",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device, no longer trusted", body = DeviceChanged),
        (status = 404, description = "No such device of the user", body = FlashbackError),
        (status = 409, description = "The device was flagged as hijacked", body = FlashbackError),
        Refusals
    )
)]
async fn untrust_device(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    PathId(id, _): PathId<Flashback>,
) -> Answer<DeviceChanged> {
    let device = state
        .services
        .untrust_device(caller.confirmed()?, uuid_of(&id, "device")?)
        .await?;
    changed(&state.services, "Device untrusted", device)
}

fn changed(services: &Services, message: &str, device: device::Model) -> Answer<DeviceChanged> {
    Ok(Json(DeviceChanged {
        success: true,
        message: message.to_owned(),
        data: FlashbackDevice::new(device, services.now()),
    }))
}

/// Permanently remove a device: its sessions end and it leaves the list (Sessionhub's
/// `forgetDevice`).
#[utoipa::path(
    delete,
    path = "/devices/{id}",
    operation_id = "deleteDevice",
    tag = "Devices",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device is removed", body = Done),
        (status = 404, description = "No such device of the user", body = FlashbackError),
        Refusals
    )
)]
async fn delete_device(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    PathId(id, _): PathId<Flashback>,
) -> Answer<Done> {
    let forgotten = state
        .services
        .forget_device(caller.confirmed()?, uuid_of(&id, "device")?)
        .await?;
    Ok(Done::new("Device removed", forgotten.ended_sessions))
}

/// Keep the calling session alive: its activity is now and its idle expiry moves on.
/// `id` is the calling session's device (or the session itself); a session can only keep
/// itself alive.
#[utoipa::path(
    post,
    path = "/devices/{id}/heartbeat",
    operation_id = "heartbeat",
    tag = "Sessions",
    params(("id" = String, Path, description = "The calling session's device id, or its session id")),
    responses(
        (status = 200, description = "The calling session, kept alive", body = SessionAnswer),
        (status = 404, description = "Neither the calling session's device nor the session", body = FlashbackError),
        Refusals
    )
)]
async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    PathId(id, _): PathId<Flashback>,
) -> Answer<SessionAnswer> {
    let actor = caller.allowing_pending();
    let named = Uuid::parse_str(&id).ok();
    if named != Some(actor.device_id) && named != Some(actor.session_id) {
        return Err(ServiceError::NotFound("session").into());
    }
    let session = state.services.heartbeat(actor).await?;
    let device = state.services.device(actor, actor.device_id).await?;
    Ok(Json(SessionAnswer {
        success: true,
        data: FlashbackSession::new(session, device.map(|device| device.name), actor),
    }))
}

/// Retrieve all active sessions of the user across all devices, most recent activity
/// first.
#[utoipa::path(
    get,
    path = "/sessions",
    operation_id = "getSessions",
    tag = "Sessions",
    responses(
        (status = 200, description = "The user's active sessions", body = SessionsAnswer,
            links(("RevokeSession" = (operation_id = "revokeSession", parameters(("id" = "$response.body#/sessions/0/id")), description = "Revoke the most recently active session")))),
        Refusals
    )
)]
async fn get_sessions(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
) -> Answer<SessionsAnswer> {
    let actor = caller.confirmed()?;
    let sessions = state.services.sessions(actor.account(), false).await?;
    let names: HashMap<Uuid, String> = state
        .services
        .devices(actor.account())
        .await?
        .into_iter()
        .map(|device| (device.id, device.name))
        .collect();
    Ok(Json(SessionsAnswer {
        success: true,
        sessions: sessions
            .into_iter()
            .map(|session| {
                let name = names.get(&session.device_id).cloned();
                FlashbackSession::new(session, name, actor)
            })
            .collect(),
    }))
}

/// Revoke one session; revoking the calling session signs it out. Revoking a session
/// that already ended changes nothing.
#[utoipa::path(
    post,
    path = "/sessions/{id}/revoke",
    operation_id = "revokeSession",
    tag = "Sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session is ended", body = Message),
        (status = 404, description = "No such session of the user", body = FlashbackError),
        Refusals
    )
)]
async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    PathId(id, _): PathId<Flashback>,
) -> Answer<Message> {
    let id = uuid_of(&id, "session")?;
    state
        .services
        .revoke_session(caller.ending(|own| own == id)?, id)
        .await?;
    Ok(Json(Message {
        success: true,
        message: "Session revoked".to_owned(),
    }))
}

/// Revoke the user's other sessions; with `includeCurrent`, the calling one too.
#[utoipa::path(
    post,
    path = "/sessions/revoke-all",
    operation_id = "revokeAllSessions",
    tag = "Sessions",
    request_body(content = Option<RevokeAllRequest>, description = "Optional; without it the calling session stays signed in"),
    responses(
        (status = 200, description = "The sessions are ended", body = Done),
        (status = 400, description = "The body is not a revoke-all request", body = FlashbackError),
        (status = 413, description = "The body is larger than the server takes", body = FlashbackError),
        Refusals
    )
)]
async fn revoke_all_sessions(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
    request: Result<Json<RevokeAllRequest>, JsonRejection>,
) -> Answer<Done> {
    let actor = caller.confirmed()?;
    let request = match request {
        Err(JsonRejection::MissingJsonContentType(_)) => RevokeAllRequest::default(),
        request => parsed(request)?,
    };
    let ended = state
        .services
        .revoke_all_sessions(actor, request.include_current)
        .await?;
    Ok(Done::new("Sessions revoked", ended.len()))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::*;

    #[test]
    fn refusals_are_flashback_envelopes_with_a_code() {
        let body = serde_json::to_value(Flashback::body(&Refusal {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "Device not found".to_owned(),
            retry_after: None,
            missing: None,
        }))
        .unwrap();
        assert_eq!(
            body,
            json!({ "success": false, "error": "Device not found", "code": "NOT_FOUND" })
        );
    }
}
