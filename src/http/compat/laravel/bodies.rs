//! laravel-devices' bodies: its field names, the user agent as nested objects, and its
//! statuses, from Sessionhub's rows.

use chrono::{DateTime, Utc};
use entity::{
    device::{self, DeviceStatus, DeviceType},
    session::{self, EndReason},
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::{Actor, SessionState, device_trust, session_state};

/// A refusal: Laravel's `message`, Sessionhub's code, and for 429 the seconds to wait.
#[derive(Serialize, ToSchema)]
pub(in crate::http::compat) struct LaravelError {
    pub(super) message: String,
    /// Sessionhub's machine-readable error code, e.g. `NOT_FOUND`, `SESSION_ENDED`.
    pub(super) code: &'static str,
    /// Seconds to wait before retrying (429 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) retry_after: Option<u64>,
}

/// A change's outcome, for people.
#[derive(Serialize, ToSchema)]
pub(super) struct Message {
    pub(super) message: &'static str,
}

/// A version split as laravel-devices splits it.
#[derive(Serialize, ToSchema)]
pub(super) struct Version {
    pub(super) major: String,
    pub(super) minor: String,
    pub(super) patch: String,
    /// `major.minor.patch`.
    pub(super) label: String,
}

impl Version {
    pub(super) fn parse(version: Option<&str>) -> Option<Self> {
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
pub(super) struct Browser {
    pub(super) name: Option<String>,
    pub(super) version: Option<Version>,
    pub(super) family: Option<String>,
    /// The rendering engine the browser is known to use: Blink, Gecko, WebKit or Trident.
    pub(super) engine: Option<&'static str>,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Platform {
    pub(super) name: Option<String>,
    pub(super) version: Option<Version>,
    pub(super) family: Option<String>,
    pub(super) label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DeviceKind {
    /// Desktop, Mobile, Tablet or Unknown.
    pub(super) family: &'static str,
    /// Not known from a user agent alone; always null.
    pub(super) model: Option<String>,
    /// desktop, mobile, tablet or unknown.
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}

/// A device of the user.
#[derive(Serialize, ToSchema)]
pub(super) struct LaravelDevice {
    pub(super) uuid: Uuid,
    /// verified, unverified or hijacked.
    pub(super) status: &'static str,
    /// When the device was verified; null unless verified now.
    pub(super) verified_at: Option<DateTime<Utc>>,
    pub(super) browser: Browser,
    pub(super) platform: Platform,
    pub(super) device: DeviceKind,
    /// Whether the request was made from this device.
    pub(super) is_current: bool,
    /// The user agent the device was seen with.
    pub(super) source: Option<String>,
    pub(super) ip_address: Option<String>,
    pub(super) metadata: Value,
}

impl LaravelDevice {
    pub(super) fn new(device: device::Model, viewer: &Actor, now: DateTime<Utc>) -> Self {
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
                engine: device
                    .browser_name
                    .as_deref()
                    .and_then(|browser| engine(browser, device.os_name.as_deref())),
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

/// The engine of a browser as the user-agent parser names it (`service::user_agent`), on
/// system `os`. Every browser on iOS and iPadOS is WebKit (Apple's rule for its store); an
/// app's web view is Blink on Android and WebKit elsewhere.
pub(super) fn engine(browser: &str, os: Option<&str>) -> Option<&'static str> {
    if matches!(os, Some("iOS" | "iPadOS")) {
        return Some("WebKit");
    }
    match browser {
        // "SamsungBrowser" as devices first seen before the parser's name was translated
        // are stored.
        "Chrome" | "Edge" | "Opera" | "Vivaldi" | "Yandex Browser" | "Samsung Internet"
        | "SamsungBrowser" => Some("Blink"),
        "Webview" if os == Some("Android") => Some("Blink"),
        "Firefox" => Some("Gecko"),
        "Safari" | "Webview" => Some("WebKit"),
        "Internet Explorer" => Some("Trident"),
        _ => None,
    }
}

/// A session of a device.
#[derive(Serialize, ToSchema)]
pub(super) struct LaravelSession {
    pub(super) uuid: Uuid,
    /// active; locked while it waits for its new device to be confirmed; blocked when its
    /// device was flagged as hijacked; finished otherwise.
    pub(super) status: &'static str,
    pub(super) started_at: DateTime<Utc>,
    pub(super) last_activity_at: DateTime<Utc>,
}

impl LaravelSession {
    pub(super) fn new(session: session::Model, now: DateTime<Utc>) -> Self {
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
pub(super) struct LaravelDeviceWithSessions {
    #[serde(flatten)]
    pub(super) device: LaravelDevice,
    /// The device's sessions, most recent activity first: every active one and the most
    /// recently active ended ones.
    pub(super) sessions: Vec<LaravelSession>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Devices {
    pub(super) data: Vec<LaravelDevice>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DeviceDetail {
    pub(super) data: LaravelDeviceWithSessions,
}
