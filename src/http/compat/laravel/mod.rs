//! The laravel-devices package's device API (seed 002): snake_case fields, the user agent
//! as nested `browser` / `platform` / `device` objects, `{ "data": … }` answers and
//! `{ "message": … }` for changes and refusals.

mod bodies;

use axum::{Json, extract::State, http::StatusCode};
use entity::device::TrustLevel;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use bodies::{
    DeviceDetail, Devices, LaravelDevice, LaravelDeviceWithSessions, LaravelError, LaravelSession,
    Message,
};

use super::{
    Caller, Dialect, Refused,
    refusal::{self, PathId, Refusal, uuid_of},
};
use crate::{http::AppState, service::ServiceError};

pub(super) struct Laravel;

type Answer<T> = Result<Json<T>, Refused<Laravel>>;

impl Dialect for Laravel {
    type Error = LaravelError;

    /// Laravel's own messages for the statuses its clients know, with Sessionhub's code.
    fn body(refusal: &Refusal) -> LaravelError {
        let message = match refusal.status {
            StatusCode::UNAUTHORIZED => "Unauthenticated.",
            StatusCode::FORBIDDEN => "This action is unauthorized.",
            StatusCode::TOO_MANY_REQUESTS => "Too Many Attempts.",
            _ => refusal.message.as_str(),
        };
        LaravelError {
            message: message.to_owned(),
            code: refusal.code,
            retry_after: refusal.retry_after,
        }
    }

    /// Laravel answers input that fails validation with 422.
    fn status(error: &ServiceError) -> StatusCode {
        match error {
            ServiceError::BadUserInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            error => crate::http::errors::status_of(error),
        }
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Sessionhub: laravel-devices device management",
    description = "The laravel-devices package's device API, served by Sessionhub over its own accounts. Every call needs `Authorization: Bearer <session token>`; an error carries Sessionhub's machine-readable `code` beside Laravel's `message`.",
    version = "1.0.0"
))]
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

type Refusals = refusal::Refusals<Laravel>;

/// Lists all devices of the user, most recently seen first.
#[utoipa::path(
    get,
    path = "/api/devices",
    operation_id = "listDevices",
    tag = "Devices",
    responses(
        (status = 200, description = "The user's devices", body = Devices,
            links(("ShowDevice" = (operation_id = "showDevice", parameters(("uuid" = "$response.body#/data/0/uuid")), description = "The most recently seen device, with its sessions")), ("VerifyDevice" = (operation_id = "verifyDevice", parameters(("uuid" = "$response.body#/data/0/uuid")), description = "Verify the most recently seen device")))),
        Refusals
    )
)]
async fn list_devices(State(state): State<AppState>, caller: Caller<Laravel>) -> Answer<Devices> {
    let actor = caller.confirmed()?;
    let now = state.services.now();
    let devices = state.services.devices(actor.account()).await?;
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
    responses(
        (status = 200, description = "The device", body = DeviceDetail),
        (status = 404, description = "No such device of the user", body = LaravelError),
        Refusals
    )
)]
async fn show_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    PathId(uuid, _): PathId<Laravel>,
) -> Answer<DeviceDetail> {
    let actor = caller.confirmed()?;
    let device = state
        .services
        .device(actor, uuid_of(&uuid, "device")?)
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
        (status = 404, description = "No such device of the user", body = LaravelError),
        (status = 409, description = "The device was flagged as hijacked", body = LaravelError),
        Refusals
    )
)]
async fn verify_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    PathId(uuid, _): PathId<Laravel>,
) -> Answer<Message> {
    state
        .services
        .trust_device(
            caller.confirmed()?,
            uuid_of(&uuid, "device")?,
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
    responses(
        (status = 200, description = "The device is flagged", body = Message),
        (status = 404, description = "No such device of the user", body = LaravelError),
        Refusals
    )
)]
async fn hijack_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    PathId(uuid, _): PathId<Laravel>,
) -> Answer<Message> {
    state
        .services
        .mark_device_hijacked(caller.confirmed()?, uuid_of(&uuid, "device")?)
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
    responses(
        (status = 200, description = "The device is forgotten", body = Message),
        (status = 404, description = "No such device of the user", body = LaravelError),
        Refusals
    )
)]
async fn forget_device(
    State(state): State<AppState>,
    caller: Caller<Laravel>,
    PathId(uuid, _): PathId<Laravel>,
) -> Answer<Message> {
    state
        .services
        .forget_device(caller.confirmed()?, uuid_of(&uuid, "device")?)
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
    // Only the caller's own device: what a session waiting for confirmation may still do.
    state
        .services
        .sign_out_device(caller.allowing_pending(), None)
        .await?;
    Ok(Json(Message {
        message: "All active sessions for device finished successfully.",
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{bodies::Version, *};

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

    /// Each browser's engine, from what the parser really makes of its user agent.
    #[test]
    fn every_browser_the_parser_names_has_its_engine() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
                "Samsung Internet",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18",
                "Vivaldi",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 YaBrowser/24.6.0.0 Safari/537.36",
                "Yandex Browser",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/115.0.5790.166 Mobile Safari/537.36",
                "Webview",
                "Blink",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox",
                "Gecko",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                "Safari",
                "WebKit",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome",
                "WebKit",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                "Webview",
                "WebKit",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
                "Internet Explorer",
                "Trident",
            ),
        ];
        for (user_agent, browser, expected) in cases {
            let parsed = crate::service::user_agent::parse(Some(user_agent));
            assert_eq!(
                parsed.browser_name.as_deref(),
                Some(browser),
                "{user_agent}"
            );
            let found = bodies::engine(browser, parsed.os_name.as_deref());
            assert_eq!(found, Some(expected), "{user_agent}");
        }
        // Devices stored by builds that kept the parser's own name.
        assert_eq!(
            bodies::engine("SamsungBrowser", Some("Android")),
            Some("Blink")
        );
    }

    #[test]
    fn refusals_use_laravels_words_and_carry_the_code() {
        let limited = serde_json::to_value(Laravel::body(&Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "RATE_LIMITED",
            message: "too many requests; try again in 60 s".to_owned(),
            retry_after: Some(60),
            missing: None,
        }))
        .unwrap();
        assert_eq!(
            limited,
            json!({ "message": "Too Many Attempts.", "code": "RATE_LIMITED", "retry_after": 60 })
        );
        let missing = serde_json::to_value(Laravel::body(&Refusal {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "Device not found".to_owned(),
            retry_after: None,
            missing: None,
        }))
        .unwrap();
        assert_eq!(
            missing,
            json!({ "message": "Device not found", "code": "NOT_FOUND" })
        );
    }
}
