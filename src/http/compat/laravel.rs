//! The laravel-devices package's device API (seed 002): snake_case fields, the user agent
//! as nested `browser` / `platform` / `device` objects, `{ "data": … }` answers and
//! `{ "message": … }` for changes and refusals.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use entity::{
    device::{self, DeviceStatus, DeviceType, TrustLevel},
    session::{self, EndReason},
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{IntoResponses, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Caller, Dialect, Refused, refusal::Refusal, refusal::refusals};
use crate::{
    http::AppState,
    service::{Actor, ServiceError, SessionState, device_trust, session_state},
};

pub(super) struct Laravel;

type Answer<T> = Result<Json<T>, Refused<Laravel>>;

impl Dialect for Laravel {
    /// Laravel's own messages for the statuses its clients know, with Sessionhub's code.
    fn body(refusal: &Refusal<'_>) -> Value {
        let message = match refusal.status {
            StatusCode::UNAUTHORIZED => "Unauthenticated.",
            StatusCode::FORBIDDEN => "This action is unauthorized.",
            StatusCode::TOO_MANY_REQUESTS => "Too Many Attempts.",
            _ => refusal.message,
        };
        let mut body = json!({ "message": message, "code": refusal.code });
        if let Some(seconds) = refusal.retry_after {
            body["retry_after"] = seconds.into();
        }
        body
    }

    /// Laravel answers input that fails validation with 422.
    fn status(error: &ServiceError) -> StatusCode {
        match error {
            ServiceError::BadUserInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            error => super::refusal::default_status(error),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sessionhub: laravel-devices device management",
        description = "The laravel-devices package's device API, served by Sessionhub over its own accounts. Every call needs `Authorization: Bearer <session token>`; an error carries Sessionhub's machine-readable `code` beside Laravel's `message`.",
        version = "1.0.0"
    ),
    components(schemas(LaravelError)),
    security(("bearerAuth" = []))
)]
struct Document;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(list_devices))
        .routes(routes!(show_device))
        .routes(routes!(verify_device))
        .routes(routes!(hijack_device))
        .routes(routes!(forget_device))
        .routes(routes!(sign_out))
}

/// A refusal: Laravel's `message`, Sessionhub's code, and for 429 the seconds to wait.
#[derive(Serialize, ToSchema)]
struct LaravelError {
    message: String,
    /// Sessionhub's machine-readable error code, e.g. `NOT_FOUND`, `SESSION_ENDED`.
    code: String,
    /// Seconds to wait before retrying (429 only).
    retry_after: Option<u64>,
}

struct Refusals;

impl IntoResponses for Refusals {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        refusals(
            "LaravelError",
            &[(StatusCode::NOT_FOUND, "No such device of the user")],
        )
    }
}

/// A change's outcome, for people.
#[derive(Serialize, ToSchema)]
struct Message {
    message: &'static str,
}

/// A version split as laravel-devices splits it.
#[derive(Serialize, ToSchema)]
struct Version {
    major: String,
    minor: String,
    patch: String,
    /// `major.minor.patch`.
    label: String,
}

impl Version {
    fn parse(version: Option<&str>) -> Option<Self> {
        let mut parts = version?.split(['.', '_']).map(str::to_owned);
        let major = parts.next().filter(|major| !major.is_empty())?;
        let minor = parts.next().unwrap_or_else(|| "0".to_owned());
        let patch = parts.next().unwrap_or_else(|| "0".to_owned());
        Some(Self {
            label: format!("{major}.{minor}.{patch}"),
            major,
            minor,
            patch,
        })
    }
}

#[derive(Serialize, ToSchema)]
struct Browser {
    name: Option<String>,
    version: Option<Version>,
    family: Option<String>,
    /// The rendering engine the browser is known to use: Blink, Gecko, WebKit or Trident.
    engine: Option<&'static str>,
    #[serde(rename = "type")]
    kind: &'static str,
    label: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Platform {
    name: Option<String>,
    version: Option<Version>,
    family: Option<String>,
    label: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DeviceKind {
    /// Desktop, Mobile, Tablet or Unknown.
    family: &'static str,
    /// Not known from a user agent alone; always null.
    model: Option<String>,
    /// desktop, mobile, tablet or unknown.
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A device of the user.
#[derive(Serialize, ToSchema)]
struct LaravelDevice {
    uuid: Uuid,
    /// verified, unverified or hijacked.
    status: &'static str,
    /// When the device was verified; null unless verified now.
    verified_at: Option<DateTime<Utc>>,
    browser: Browser,
    platform: Platform,
    device: DeviceKind,
    /// Whether the request was made from this device.
    is_current: bool,
    /// The user agent the device was seen with.
    source: Option<String>,
    ip_address: Option<String>,
    metadata: Value,
}

impl LaravelDevice {
    fn new(device: device::Model, viewer: &Actor, now: DateTime<Utc>) -> Self {
        let trust = device_trust(&device, now);
        let (family, kind) = match device.device_type {
            DeviceType::Desktop => ("Desktop", "desktop"),
            DeviceType::Mobile => ("Mobile", "mobile"),
            DeviceType::Tablet => ("Tablet", "tablet"),
            DeviceType::Unknown => ("Unknown", "unknown"),
        };
        Self {
            uuid: device.id,
            status: match trust.status {
                DeviceStatus::Verified => "verified",
                DeviceStatus::Unverified => "unverified",
                DeviceStatus::Hijacked => "hijacked",
            },
            verified_at: trust.trusted_at,
            browser: Browser {
                version: Version::parse(device.browser_version.as_deref()),
                family: device.browser_name.clone(),
                engine: device.browser_name.as_deref().and_then(engine),
                kind: "browser",
                label: device.browser_name.clone(),
                name: device.browser_name,
            },
            platform: Platform {
                version: Version::parse(device.os_version.as_deref()),
                family: device.os_name.clone(),
                label: device.os_name.clone(),
                name: device.os_name,
            },
            device: DeviceKind {
                family,
                model: None,
                kind,
            },
            is_current: device.id == viewer.device_id,
            source: device.user_agent,
            ip_address: device.ip_address,
            metadata: device.metadata.unwrap_or_else(|| json!({})),
        }
    }
}

/// The engines of the browsers the user-agent parser names.
fn engine(browser: &str) -> Option<&'static str> {
    match browser {
        "Chrome" | "Edge" | "Opera" | "Vivaldi" | "Chromium" | "Samsung Internet" => Some("Blink"),
        "Firefox" => Some("Gecko"),
        "Safari" | "Webview" => Some("WebKit"),
        "Internet Explorer" => Some("Trident"),
        _ => None,
    }
}

/// A session of a device.
#[derive(Serialize, ToSchema)]
struct LaravelSession {
    uuid: Uuid,
    /// active; locked while it waits for its new device to be confirmed; blocked when its
    /// device was flagged as hijacked; finished otherwise.
    status: &'static str,
    started_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
}

impl LaravelSession {
    fn new(session: session::Model, now: DateTime<Utc>) -> Self {
        let status = match session_state(&session, now) {
            SessionState::Active if session.pending_until.is_some() => "locked",
            SessionState::Active => "active",
            _ if session.end_reason == Some(EndReason::DeviceHijacked) => "blocked",
            _ => "finished",
        };
        Self {
            uuid: session.id,
            status,
            started_at: session.started_at,
            last_activity_at: session.last_activity_at,
        }
    }
}

/// A device with its sessions.
#[derive(Serialize, ToSchema)]
struct LaravelDeviceWithSessions {
    #[serde(flatten)]
    device: LaravelDevice,
    /// The device's sessions, most recent activity first: every active one and the most
    /// recently active ended ones.
    sessions: Vec<LaravelSession>,
}

#[derive(Serialize, ToSchema)]
struct Devices {
    data: Vec<LaravelDevice>,
}

#[derive(Serialize, ToSchema)]
struct DeviceDetail {
    data: LaravelDeviceWithSessions,
}

fn device_id(uuid: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(uuid).map_err(|_| ServiceError::NotFound("device"))
}

/// Lists all devices of the user, most recently seen first.
#[utoipa::path(
    get,
    path = "/api/devices",
    operation_id = "listDevices",
    tag = "Devices",
    responses((status = 200, description = "The user's devices", body = Devices), Refusals)
)]
async fn list_devices(State(state): State<AppState>, caller: Caller<Laravel>) -> Answer<Devices> {
    let actor = caller.confirmed()?;
    let now = state.services.now();
    let devices = state.services.devices(actor).await?;
    Ok(Json(Devices {
        data: devices
            .into_iter()
            .map(|device| LaravelDevice::new(device, actor, now))
            .collect(),
    }))
}

/// One device of the user, with its sessions.
#[utoipa::path(
    get,
    path = "/api/devices/{uuid}",
    operation_id = "showDevice",
    tag = "Devices",
    params(("uuid" = String, Path, description = "The device's uuid")),
    responses((status = 200, description = "The device", body = DeviceDetail), Refusals)
)]
async fn show_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    Path(uuid): Path<String>,
) -> Answer<DeviceDetail> {
    let actor = caller.confirmed()?;
    let device = state
        .services
        .device(actor, device_id(&uuid)?)
        .await?
        .ok_or(ServiceError::NotFound("device"))?;
    let sessions = state
        .services
        .sessions_of_devices(&actor.user_id, &[device.id], true)
        .await?;
    let now = state.services.now();
    Ok(Json(DeviceDetail {
        data: LaravelDeviceWithSessions {
            device: LaravelDevice::new(device, actor, now),
            sessions: sessions
                .into_iter()
                .map(|session| LaravelSession::new(session, now))
                .collect(),
        },
    }))
}

/// Marks a device as verified (trusted, at level HIGH, for the server's configured trust
/// duration). Needs a recent sign-in or a session on a trusted device; a device flagged
/// as hijacked cannot be verified (409).
#[utoipa::path(
    patch,
    path = "/api/devices/{uuid}/verify",
    operation_id = "verifyDevice",
    tag = "Devices",
    params(("uuid" = String, Path, description = "The device's uuid")),
    responses(
        (status = 200, description = "The device is verified", body = Message),
        (status = 409, description = "The device was flagged as hijacked", body = LaravelError),
        Refusals
    )
)]
async fn verify_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    Path(uuid): Path<String>,
) -> Answer<Message> {
    state
        .services
        .trust_device(
            caller.confirmed()?,
            device_id(&uuid)?,
            TrustLevel::High,
            None,
        )
        .await?;
    Ok(Json(Message {
        message: "Device verified successfully",
    }))
}

/// Flags a device as potentially compromised: its sessions end and it can never start
/// one again.
#[utoipa::path(
    patch,
    path = "/api/devices/{uuid}/hijack",
    operation_id = "hijackDevice",
    tag = "Devices",
    params(("uuid" = String, Path, description = "The device's uuid")),
    responses((status = 200, description = "The device is flagged", body = Message), Refusals)
)]
async fn hijack_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    Path(uuid): Path<String>,
) -> Answer<Message> {
    state
        .services
        .mark_device_hijacked(caller.confirmed()?, device_id(&uuid)?)
        .await?;
    Ok(Json(Message {
        message: "Device flagged as hijacked",
    }))
}

/// Removes a device and ends its sessions.
#[utoipa::path(
    patch,
    path = "/api/devices/{uuid}/forget",
    operation_id = "forgetDevice",
    tag = "Devices",
    params(("uuid" = String, Path, description = "The device's uuid")),
    responses((status = 200, description = "The device is forgotten", body = Message), Refusals)
)]
async fn forget_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    Path(uuid): Path<String>,
) -> Answer<Message> {
    state
        .services
        .forget_device(caller.confirmed()?, device_id(&uuid)?)
        .await?;
    Ok(Json(Message {
        message: "Device forgotten successfully. All active sessions were ended.",
    }))
}

/// Ends every active session of the calling device, the calling session included.
#[utoipa::path(
    post,
    path = "/api/devices/signout",
    operation_id = "signOutDevice",
    tag = "Devices",
    responses((status = 200, description = "The device's sessions are finished", body = Message), Refusals)
)]
async fn sign_out(State(state): State<AppState>, caller: Caller<Laravel>) -> Answer<Message> {
    state
        .services
        .sign_out_device(caller.confirmed()?, None)
        .await?;
    Ok(Json(Message {
        message: "All active sessions for device finished successfully.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_as_laravel_devices_splits_them() {
        let version = Version::parse(Some("118.0.5993.88")).unwrap();
        assert_eq!(
            (
                version.major.as_str(),
                version.minor.as_str(),
                version.patch.as_str()
            ),
            ("118", "0", "5993")
        );
        assert_eq!(version.label, "118.0.5993");
        assert_eq!(Version::parse(Some("10_15")).unwrap().label, "10.15.0");
        assert_eq!(Version::parse(Some("17")).unwrap().label, "17.0.0");
        assert!(Version::parse(Some("")).is_none());
        assert!(Version::parse(None).is_none());
    }

    #[test]
    fn refusals_use_laravels_words_and_carry_the_code() {
        let limited = Laravel::body(&Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "RATE_LIMITED",
            message: "too many requests; try again in 60 s",
            retry_after: Some(60),
            missing: None,
        });
        assert_eq!(
            limited,
            json!({ "message": "Too Many Attempts.", "code": "RATE_LIMITED", "retry_after": 60 })
        );
        let missing = Laravel::body(&Refusal {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "Device not found",
            retry_after: None,
            missing: None,
        });
        assert_eq!(
            missing,
            json!({ "message": "Device not found", "code": "NOT_FOUND" })
        );
    }
}
