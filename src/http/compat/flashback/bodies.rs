//! Flashback's bodies: its field names, envelopes and requests, from Sessionhub's rows.

use axum::Json;
use chrono::{DateTime, Utc};
use entity::{
    device::{self, DeviceType, TrustLevel},
    session,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::{Actor, device_trust};

/// A refusal: `success` false, Flashback's `error` message, and Sessionhub's code.
#[derive(Serialize, ToSchema)]
pub(in crate::http::compat) struct FlashbackError {
    pub(super) success: bool,
    /// What went wrong, for people.
    pub(super) error: String,
    /// Sessionhub's machine-readable error code, e.g. `NOT_FOUND`, `SESSION_ENDED`.
    pub(super) code: &'static str,
}

/// A device of the user.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FlashbackDevice {
    /// Unique device identifier.
    pub(super) id: Uuid,
    /// Human-readable device name.
    pub(super) device_name: String,
    /// Device type: DESKTOP, MOBILE, TABLET or UNKNOWN.
    pub(super) device_type: &'static str,
    /// Operating system.
    pub(super) os: Option<String>,
    /// Web browser.
    pub(super) browser: Option<String>,
    /// IP address the device was last seen from.
    pub(super) ip_address: Option<String>,
    /// Country, as the edge proxy reported it.
    pub(super) country: Option<String>,
    /// City, as the edge proxy reported it.
    pub(super) city: Option<String>,
    /// Whether the device is trusted now.
    pub(super) is_trusted: bool,
    /// Trust level: HIGH, MEDIUM, LOW, or UNKNOWN when not trusted.
    pub(super) trust_level: &'static str,
    /// Last time the device was active.
    pub(super) last_seen: DateTime<Utc>,
    /// When the device was first registered.
    pub(super) created_at: DateTime<Utc>,
    /// When the device's trust expires; null when not trusted.
    pub(super) trust_expires_at: Option<DateTime<Utc>>,
}

impl FlashbackDevice {
    pub(super) fn new(device: device::Model, now: DateTime<Utc>) -> Self {
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

pub(super) fn device_type(device_type: DeviceType) -> &'static str {
    match device_type {
        DeviceType::Desktop => "DESKTOP",
        DeviceType::Mobile => "MOBILE",
        DeviceType::Tablet => "TABLET",
        DeviceType::Unknown => "UNKNOWN",
    }
}

pub(super) fn trust_level(level: TrustLevel) -> &'static str {
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
pub(super) struct FlashbackSession {
    /// Session identifier.
    pub(super) id: Uuid,
    /// Name of the device the session runs on.
    pub(super) device_name: Option<String>,
    /// IP address the session was started from.
    pub(super) ip_address: Option<String>,
    /// Where the session was started: "City, Country", either alone, or null.
    pub(super) location: Option<String>,
    /// When the session started.
    pub(super) started_at: DateTime<Utc>,
    /// Last activity in the session.
    pub(super) last_activity: DateTime<Utc>,
    /// When the session expires unless it is active again.
    pub(super) expires_at: DateTime<Utc>,
    /// How the user authenticated (the identity token's `amr`, e.g. `pwd`).
    pub(super) login_method: Option<String>,
    /// Whether this session made the request.
    pub(super) is_current: bool,
}

impl FlashbackSession {
    pub(super) fn new(
        session: session::Model,
        device_name: Option<String>,
        viewer: &Actor,
    ) -> Self {
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
pub(super) struct DevicesAnswer {
    pub(super) success: bool,
    /// The user's devices, most recently seen first.
    pub(super) devices: Vec<FlashbackDevice>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DeviceAnswer {
    pub(super) success: bool,
    pub(super) data: FlashbackDevice,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SessionsAnswer {
    pub(super) success: bool,
    /// The user's active sessions, most recent activity first.
    pub(super) sessions: Vec<FlashbackSession>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SessionAnswer {
    pub(super) success: bool,
    pub(super) data: FlashbackSession,
}

/// A change that returns the device as it is now.
#[derive(Serialize, ToSchema)]
pub(super) struct DeviceChanged {
    pub(super) success: bool,
    pub(super) message: String,
    pub(super) data: FlashbackDevice,
}

/// A change with nothing more to show.
#[derive(Serialize, ToSchema)]
pub(super) struct Message {
    pub(super) success: bool,
    pub(super) message: String,
}

/// A change with nothing more to show than how many sessions it ended.
#[derive(Serialize, ToSchema)]
pub(super) struct Done {
    pub(super) success: bool,
    pub(super) message: String,
    pub(super) data: EndedSessions,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct EndedSessions {
    /// Sessions the call ended.
    pub(super) ended_sessions: usize,
}

impl Done {
    pub(super) fn new(message: &str, ended_sessions: usize) -> Json<Self> {
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
pub(super) enum GivenTrustLevel {
    High,
    Medium,
    Low,
}

/// Which device to trust, how much, and until when.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrustRequest {
    /// The device's id.
    pub(super) device_id: String,
    /// How much to trust it.
    pub(super) trust_level: GivenTrustLevel,
    /// When the trust ends, in the future; omitted: the server's configured trust duration.
    pub(super) trust_expires_at: Option<DateTime<Utc>>,
}

/// Which sessions a revoke-all ends.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct RevokeAllRequest {
    /// Also end the session making the request; false when omitted.
    #[serde(default)]
    pub(super) include_current: bool,
}
