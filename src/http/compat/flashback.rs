//! Flashback's device and session management API (seeds 000, 001, 003): camelCase
//! fields, `{ "success": …, "devices" | "sessions" | "data" | "message" | "error" }`.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
};
use chrono::{DateTime, Utc};
use entity::{
    device::{self, DeviceType, TrustLevel},
    session,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoResponses, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Caller, Dialect, Refused, refusal::Refusal, refusal::refusals};
use crate::{
    http::AppState,
    service::{Actor, ServiceError, Services, device_trust},
};

pub(super) struct Flashback;

type Answer<T> = Result<Json<T>, Refused<Flashback>>;

impl Dialect for Flashback {
    fn body(refusal: &Refusal<'_>) -> Value {
        json!({ "success": false, "error": refusal.message, "code": refusal.code })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sessionhub: Flashback device and session management",
        description = "Flashback's device and session API, served by Sessionhub over its own accounts. Every call needs `Authorization: Bearer <session token>`; an error carries Sessionhub's machine-readable `code` beside Flashback's `error` message.",
        version = "1.0.0"
    ),
    components(schemas(FlashbackError)),
    security(("bearerAuth" = []))
)]
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

/// A refusal: `success` false, Flashback's `error` message, and Sessionhub's code.
#[derive(Serialize, ToSchema)]
struct FlashbackError {
    success: bool,
    /// What went wrong, for people.
    error: String,
    /// Sessionhub's machine-readable error code, e.g. `NOT_FOUND`, `SESSION_ENDED`.
    code: String,
}

/// The refusals any call may answer.
struct Refusals;

impl IntoResponses for Refusals {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        refusals("FlashbackError", &[])
    }
}

/// A device of the user.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FlashbackDevice {
    /// Unique device identifier.
    id: Uuid,
    /// Human-readable device name.
    device_name: String,
    /// Device type: DESKTOP, MOBILE, TABLET or UNKNOWN.
    device_type: &'static str,
    /// Operating system.
    os: Option<String>,
    /// Web browser.
    browser: Option<String>,
    /// IP address the device was last seen from.
    ip_address: Option<String>,
    /// Country, as the edge proxy reported it.
    country: Option<String>,
    /// City, as the edge proxy reported it.
    city: Option<String>,
    /// Whether the device is trusted now.
    is_trusted: bool,
    /// Trust level: HIGH, MEDIUM, LOW, or UNKNOWN when not trusted.
    trust_level: &'static str,
    /// Last time the device was active.
    last_seen: DateTime<Utc>,
    /// When the device was first registered.
    created_at: DateTime<Utc>,
    /// When the device's trust expires; null when not trusted.
    trust_expires_at: Option<DateTime<Utc>>,
}

impl FlashbackDevice {
    fn new(device: device::Model, now: DateTime<Utc>) -> Self {
        let trust = device_trust(&device, now);
        Self {
            id: device.id,
            device_name: device.name,
            device_type: device_type(device.device_type),
            os: device.os_name,
            browser: device.browser_name,
            ip_address: device.ip_address,
            country: device.country,
            city: device.city,
            is_trusted: trust.is_trusted,
            trust_level: trust_level(trust.level),
            last_seen: device.last_seen_at,
            created_at: device.created_at,
            trust_expires_at: trust.expires_at,
        }
    }
}

fn device_type(device_type: DeviceType) -> &'static str {
    match device_type {
        DeviceType::Desktop => "DESKTOP",
        DeviceType::Mobile => "MOBILE",
        DeviceType::Tablet => "TABLET",
        DeviceType::Unknown => "UNKNOWN",
    }
}

fn trust_level(level: TrustLevel) -> &'static str {
    match level {
        TrustLevel::High => "HIGH",
        TrustLevel::Medium => "MEDIUM",
        TrustLevel::Low => "LOW",
        TrustLevel::Unknown => "UNKNOWN",
    }
}

/// An active session of the user.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FlashbackSession {
    /// Session identifier.
    id: Uuid,
    /// Name of the device the session runs on.
    device_name: Option<String>,
    /// IP address the session was started from.
    ip_address: Option<String>,
    /// Where the session was started: "City, Country", either alone, or null.
    location: Option<String>,
    /// When the session started.
    started_at: DateTime<Utc>,
    /// Last activity in the session.
    last_activity: DateTime<Utc>,
    /// When the session expires unless it is active again.
    expires_at: DateTime<Utc>,
    /// How the user authenticated (the identity token's `amr`, e.g. `pwd`).
    login_method: Option<String>,
    /// Whether this session made the request.
    is_current: bool,
}

impl FlashbackSession {
    fn new(session: session::Model, device_name: Option<String>, viewer: &Actor) -> Self {
        let location = match (session.city, session.country) {
            (Some(city), Some(country)) => Some(format!("{city}, {country}")),
            (city, country) => city.or(country),
        };
        Self {
            is_current: session.id == viewer.session_id,
            id: session.id,
            device_name,
            ip_address: session.ip_address,
            location,
            started_at: session.started_at,
            last_activity: session.last_activity_at,
            expires_at: session.expires_at,
            login_method: session.login_method,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct DevicesAnswer {
    success: bool,
    /// The user's devices, most recently seen first.
    devices: Vec<FlashbackDevice>,
}

#[derive(Serialize, ToSchema)]
struct DeviceAnswer {
    success: bool,
    data: FlashbackDevice,
}

#[derive(Serialize, ToSchema)]
struct SessionsAnswer {
    success: bool,
    /// The user's active sessions, most recent activity first.
    sessions: Vec<FlashbackSession>,
}

#[derive(Serialize, ToSchema)]
struct SessionAnswer {
    success: bool,
    data: FlashbackSession,
}

/// A change that returns the device as it is now.
#[derive(Serialize, ToSchema)]
struct DeviceChanged {
    success: bool,
    message: String,
    data: FlashbackDevice,
}

/// A change with nothing more to show.
#[derive(Serialize, ToSchema)]
struct Message {
    success: bool,
    message: String,
}

/// A change with nothing more to show than how many sessions it ended.
#[derive(Serialize, ToSchema)]
struct Done {
    success: bool,
    message: String,
    data: EndedSessions,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndedSessions {
    /// Sessions the call ended.
    ended_sessions: usize,
}

impl Done {
    fn new(message: &str, ended_sessions: usize) -> Json<Self> {
        Json(Self {
            success: true,
            message: message.to_owned(),
            data: EndedSessions { ended_sessions },
        })
    }
}

/// A trust level a device can be given.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "UPPERCASE")]
enum GivenTrustLevel {
    High,
    Medium,
    Low,
}

/// Which device to trust, how much, and until when.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TrustRequest {
    /// The device's id.
    device_id: String,
    /// How much to trust it.
    trust_level: GivenTrustLevel,
    /// When the trust ends, in the future; omitted: the server's configured trust duration.
    trust_expires_at: Option<DateTime<Utc>>,
}

/// Which sessions a revoke-all ends.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
struct RevokeAllRequest {
    /// Also end the session making the request; false when omitted.
    #[serde(default)]
    include_current: bool,
}

fn device_id(id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("device"))
}

fn session_id(id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(id).map_err(|_| ServiceError::NotFound("session"))
}

/// A JSON body that does not parse is bad input, said without the parser's internals.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ServiceError> {
    body.map(|Json(body)| body).map_err(|rejection| {
        let mut reason = rejection.body_text();
        reason.truncate(300);
        ServiceError::BadUserInput(format!("the body is not valid here: {reason}"))
    })
}

/// Retrieve all devices of the user, most recently seen first.
#[utoipa::path(
    get,
    path = "/devices",
    operation_id = "getDevices",
    tag = "Devices",
    responses((status = 200, description = "The user's devices", body = DevicesAnswer), Refusals)
)]
async fn get_devices(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
) -> Answer<DevicesAnswer> {
    let devices = state.services.devices(caller.confirmed()?).await?;
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
    Path(id): Path<String>,
) -> Answer<DeviceAnswer> {
    let device = state
        .services
        .device(caller.confirmed()?, device_id(&id)?)
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
    let request = body(request)?;
    let level = match request.trust_level {
        GivenTrustLevel::High => TrustLevel::High,
        GivenTrustLevel::Medium => TrustLevel::Medium,
        GivenTrustLevel::Low => TrustLevel::Low,
    };
    let device = state
        .services
        .trust_device(
            actor,
            device_id(&request.device_id)?,
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
    Path(id): Path<String>,
) -> Answer<DeviceChanged> {
    let device = state
        .services
        .untrust_device(caller.confirmed()?, device_id(&id)?)
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
    Path(id): Path<String>,
) -> Answer<Done> {
    let forgotten = state
        .services
        .forget_device(caller.confirmed()?, device_id(&id)?)
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
    Path(id): Path<String>,
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
    responses((status = 200, description = "The user's active sessions", body = SessionsAnswer), Refusals)
)]
async fn get_sessions(
    State(state): State<AppState>,
    caller: Caller<Flashback>,
) -> Answer<SessionsAnswer> {
    let actor = caller.confirmed()?;
    let sessions = state.services.sessions(actor, false).await?;
    let names: HashMap<Uuid, String> = state
        .services
        .devices(actor)
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
    Path(id): Path<String>,
) -> Answer<Message> {
    state
        .services
        .revoke_session(caller.confirmed()?, session_id(&id)?)
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
        request => body(request)?,
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

    use super::*;

    #[test]
    fn refusals_are_flashback_envelopes_with_a_code() {
        let body = Flashback::body(&Refusal {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "Device not found",
            retry_after: None,
            missing: None,
        });
        assert_eq!(
            body,
            json!({ "success": false, "error": "Device not found", "code": "NOT_FOUND" })
        );
    }
}
