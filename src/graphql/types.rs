//! The API's object types. Each wraps a storage row and decides what clients see of it,
//! so tables can change without breaking the contract.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject};
use entity::{device, session};

use super::{
    ApiResult, ContextExt,
    loaders::{DeviceId, DeviceSessionsKey, SessionId},
    scalars::DateTime,
};
use crate::service::{self, Actor, SessionState};

/// What kind of hardware a device is, judged from its user agent.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DeviceType {
    /// A desktop or laptop computer.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// The user agent did not say.
    Unknown,
}

impl From<device::DeviceType> for DeviceType {
    fn from(value: device::DeviceType) -> Self {
        match value {
            device::DeviceType::Desktop => Self::Desktop,
            device::DeviceType::Mobile => Self::Mobile,
            device::DeviceType::Tablet => Self::Tablet,
            device::DeviceType::Unknown => Self::Unknown,
        }
    }
}

/// Whether the user vouches for a device.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DeviceStatus {
    /// Never trusted, or its trust was removed or has expired.
    Unverified,
    /// Trusted by the user until `trustExpiresAt`.
    Verified,
    /// Flagged as compromised: it can never sign in again. Final.
    Hijacked,
}

impl From<device::DeviceStatus> for DeviceStatus {
    fn from(value: device::DeviceStatus) -> Self {
        match value {
            device::DeviceStatus::Unverified => Self::Unverified,
            device::DeviceStatus::Verified => Self::Verified,
            device::DeviceStatus::Hijacked => Self::Hijacked,
        }
    }
}

/// How much a trusted device is trusted.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TrustLevel {
    /// Fully trusted, e.g. the user's own computer.
    High,
    /// Trusted for everyday use.
    Medium,
    /// Known, but trusted only a little.
    Low,
    /// Not trusted, or the level is not known.
    Unknown,
}

impl From<device::TrustLevel> for TrustLevel {
    fn from(value: device::TrustLevel) -> Self {
        match value {
            device::TrustLevel::High => Self::High,
            device::TrustLevel::Medium => Self::Medium,
            device::TrustLevel::Low => Self::Low,
            device::TrustLevel::Unknown => Self::Unknown,
        }
    }
}

impl From<TrustLevel> for device::TrustLevel {
    fn from(value: TrustLevel) -> Self {
        match value {
            TrustLevel::High => Self::High,
            TrustLevel::Medium => Self::Medium,
            TrustLevel::Low => Self::Low,
            TrustLevel::Unknown => Self::Unknown,
        }
    }
}

/// Whether a session can still be used.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SessionStatus {
    /// In use: its token is accepted until `expiresAt`.
    Active,
    /// Ended by a person or a rule: signed out, revoked, its device signed out, hijacked or
    /// forgotten, or pushed out by the cap on active sessions.
    Revoked,
    /// Ended by time: idle for too long, or past its absolute lifetime.
    Expired,
}

impl From<SessionState> for SessionStatus {
    fn from(value: SessionState) -> Self {
        match value {
            SessionState::Active => Self::Active,
            SessionState::Revoked => Self::Revoked,
            SessionState::Expired => Self::Expired,
        }
    }
}

/// Why a session ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SessionEndReason {
    /// The session signed itself out.
    SignedOut,
    /// Another session of the same user revoked it.
    Revoked,
    /// Its device was signed out (`signOutDevice`).
    DeviceSignedOut,
    /// Its device was flagged as hijacked.
    DeviceHijacked,
    /// Its device was forgotten.
    DeviceForgotten,
    /// No activity within the idle timeout.
    IdleTimeout,
    /// Its absolute lifetime was reached.
    LifetimeExceeded,
    /// The user signed in once more than the active sessions allowed per user; the least
    /// recently active session made room.
    TooManySessions,
}

impl From<session::EndReason> for SessionEndReason {
    fn from(value: session::EndReason) -> Self {
        match value {
            session::EndReason::SignedOut => Self::SignedOut,
            session::EndReason::Revoked => Self::Revoked,
            session::EndReason::DeviceSignedOut => Self::DeviceSignedOut,
            session::EndReason::DeviceHijacked => Self::DeviceHijacked,
            session::EndReason::DeviceForgotten => Self::DeviceForgotten,
            session::EndReason::IdleTimeout => Self::IdleTimeout,
            session::EndReason::LifetimeExceeded => Self::LifetimeExceeded,
            session::EndReason::TooManySessions => Self::TooManySessions,
        }
    }
}

/// A browser or operating system, parsed from the user agent.
#[derive(SimpleObject, Clone, Debug)]
pub struct Software {
    /// Its name, e.g. "Chrome" or "macOS".
    pub name: String,
    /// Its version as the user agent gave it, e.g. "131.0.0.0".
    pub version: Option<String>,
}

impl Software {
    fn from_parts(name: &Option<String>, version: &Option<String>) -> Option<Self> {
        name.as_ref().map(|name| Software {
            name: name.clone(),
            version: version.clone(),
        })
    }
}

/// Where a client was, as told by a trusted proxy.
#[derive(SimpleObject, Clone, Debug)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// City name.
    pub city: Option<String>,
}

impl Location {
    pub(super) fn from_parts(country: &Option<String>, city: &Option<String>) -> Option<Self> {
        (country.is_some() || city.is_some()).then(|| Location {
            country: country.clone(),
            city: city.clone(),
        })
    }
}

/// A browser or app installation the user signs in from, as seen by `viewer`: the session
/// whose request (or subscription) it is, which decides `isCurrent` and what it may load.
pub struct Device {
    row: device::Model,
    viewer: Arc<Actor>,
}

impl Device {
    pub fn new(row: device::Model, viewer: &Arc<Actor>) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    fn trust(&self, ctx: &Context<'_>) -> service::DeviceTrust {
        service::device_trust(&self.row, ctx.services().now())
    }
}

#[Object]
impl Device {
    /// Unique identifier (UUID).
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// A name the user recognises: given by the user, or derived from the user agent
    /// ("Chrome on macOS").
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Desktop, mobile or tablet, from the user agent.
    #[graphql(name = "type")]
    async fn device_type(&self) -> DeviceType {
        self.row.device_type.into()
    }

    /// The browser, from the user agent.
    async fn browser(&self) -> Option<Software> {
        Software::from_parts(&self.row.browser_name, &self.row.browser_version)
    }

    /// The operating system, from the user agent.
    async fn os(&self) -> Option<Software> {
        Software::from_parts(&self.row.os_name, &self.row.os_version)
    }

    /// The raw user agent the device last presented.
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }

    /// The address the device was last seen from.
    async fn ip_address(&self) -> Option<&str> {
        self.row.ip_address.as_deref()
    }

    /// Where the device was last seen, when a trusted proxy said.
    async fn location(&self) -> Option<Location> {
        Location::from_parts(&self.row.country, &self.row.city)
    }

    /// Trust status as it stands now: expired trust reads as UNVERIFIED.
    async fn status(&self, ctx: &Context<'_>) -> DeviceStatus {
        self.trust(ctx).status.into()
    }

    /// True while the device is trusted and its trust has not expired.
    async fn is_trusted(&self, ctx: &Context<'_>) -> bool {
        self.trust(ctx).is_trusted
    }

    /// How much the device is trusted; UNKNOWN when it is not trusted.
    async fn trust_level(&self, ctx: &Context<'_>) -> TrustLevel {
        self.trust(ctx).level.into()
    }

    /// When the device was trusted; null when it is not trusted.
    async fn trusted_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        self.trust(ctx).trusted_at.map(DateTime)
    }

    /// When the trust ends; null when the device is not trusted.
    async fn trust_expires_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        self.trust(ctx).expires_at.map(DateTime)
    }

    /// True for the device of the session making the request.
    async fn is_current(&self) -> bool {
        self.viewer.device_id == self.row.id
    }

    /// When the device first signed in.
    async fn created_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }

    /// When the device last signed in or sent a heartbeat.
    async fn last_seen_at(&self) -> DateTime {
        DateTime(self.row.last_seen_at)
    }

    /// Free-form JSON object the client attached at sign-in.
    async fn metadata(&self) -> Option<Json<serde_json::Value>> {
        self.row.metadata.clone().map(Json)
    }

    /// The device's sessions, most recent activity first. Ended sessions only when
    /// includeEnded is true, and then only its 50 most recently active ended ones.
    #[graphql(complexity = "super::cost::sessions(include_ended, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also list sessions that have ended."
        )]
        include_ended: Option<bool>,
    ) -> Result<Vec<Session>> {
        let include_ended = include_ended.unwrap_or(false);
        let key = DeviceSessionsKey {
            device_id: self.row.id,
            include_ended,
        };
        let sessions = match ctx.loaders() {
            Some(loaders) => loaders.load(key).await?,
            None => Some(
                ctx.services()
                    .sessions_of_devices(&self.viewer, &[self.row.id], include_ended)
                    .await
                    .api()?,
            ),
        };
        Ok(Session::list(sessions.unwrap_or_default(), &self.viewer))
    }
}

/// One sign-in on one device, as seen by `viewer` (see [`Device`]).
pub struct Session {
    row: session::Model,
    viewer: Arc<Actor>,
}

impl Session {
    pub fn new(row: session::Model, viewer: &Arc<Actor>) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
        }
    }

    pub fn list(rows: Vec<session::Model>, viewer: &Arc<Actor>) -> Vec<Self> {
        rows.into_iter().map(|row| Self::new(row, viewer)).collect()
    }
}

#[Object]
impl Session {
    /// Unique identifier (UUID).
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The device the session runs on.
    async fn device(&self, ctx: &Context<'_>) -> Result<Device> {
        load_device(ctx, &self.viewer, self.row.device_id)
            .await?
            .ok_or_else(|| super::internal_error("a session's device is missing"))
    }

    /// ACTIVE, or how it ended: REVOKED by a person, EXPIRED by time.
    async fn status(&self, ctx: &Context<'_>) -> SessionStatus {
        service::session_state(&self.row, ctx.services().now()).into()
    }

    /// True for the session making the request.
    async fn is_current(&self) -> bool {
        self.viewer.session_id == self.row.id
    }

    /// How the user authenticated, from the identity token's amr claim, joined with "+"
    /// (e.g. "pwd", "pwd+otp", "passkey").
    async fn login_method(&self) -> Option<&str> {
        self.row.login_method.as_deref()
    }

    /// The address of the session's latest sign-in or heartbeat.
    async fn ip_address(&self) -> Option<&str> {
        self.row.ip_address.as_deref()
    }

    /// Where the session's latest request came from, when a trusted proxy said.
    async fn location(&self) -> Option<Location> {
        Location::from_parts(&self.row.country, &self.row.city)
    }

    /// When the session started.
    async fn started_at(&self) -> DateTime {
        DateTime(self.row.started_at)
    }

    /// When the session last sent a heartbeat (or started).
    async fn last_activity_at(&self) -> DateTime {
        DateTime(self.row.last_activity_at)
    }

    /// When the session ends unless a heartbeat extends it; never later than the absolute
    /// lifetime.
    async fn expires_at(&self) -> DateTime {
        DateTime(self.row.expires_at)
    }

    /// When the session ended; null while it has not been recorded as ended.
    async fn ended_at(&self) -> Option<DateTime> {
        self.row.ended_at.map(DateTime)
    }

    /// Why the session ended; null while it has not been recorded as ended.
    async fn end_reason(&self) -> Option<SessionEndReason> {
        self.row.end_reason.map(Into::into)
    }
}

/// One of `viewer`'s devices by id, forgotten ones included, batched when the request has
/// loaders (a websocket payload or `startSession` answer may not).
pub(super) async fn load_device(
    ctx: &Context<'_>,
    viewer: &Arc<Actor>,
    id: uuid::Uuid,
) -> Result<Option<Device>> {
    let row = match ctx.loaders() {
        Some(loaders) => loaders.load(DeviceId(id)).await?,
        None => ctx
            .services()
            .devices_by_id(viewer, &[id])
            .await
            .api()?
            .pop(),
    };
    Ok(row.map(|row| Device::new(row, viewer)))
}

/// One of `viewer`'s sessions by id, ended or not; batched like [`load_device`].
pub(super) async fn load_session(
    ctx: &Context<'_>,
    viewer: &Arc<Actor>,
    id: uuid::Uuid,
) -> Result<Option<Session>> {
    let row = match ctx.loaders() {
        Some(loaders) => loaders.load(SessionId(id)).await?,
        None => ctx.services().session(viewer, id).await.api()?,
    };
    Ok(row.map(|row| Session::new(row, viewer)))
}

/// The result of signing in.
#[derive(SimpleObject)]
pub struct StartSessionPayload {
    /// Bearer token for every later request of this session.
    pub token: String,
    /// Secret that identifies this device on its next sign-in; store it on the device.
    pub device_token: String,
    /// The new session.
    pub session: Session,
    /// The device it runs on.
    pub device: Device,
}

/// Sessions a mutation ended.
#[derive(SimpleObject)]
pub struct RevokeSessionsPayload {
    /// How many sessions ended.
    pub revoked_count: i32,
    /// The sessions that ended, as they are now.
    pub sessions: Vec<Session>,
}

impl RevokeSessionsPayload {
    pub fn new(sessions: Vec<session::Model>, viewer: &Arc<Actor>) -> Self {
        Self {
            revoked_count: i32::try_from(sessions.len()).unwrap_or(i32::MAX),
            sessions: Session::list(sessions, viewer),
        }
    }
}

/// The result of forgetting a device.
#[derive(SimpleObject)]
pub struct ForgetDevicePayload {
    /// The forgotten device.
    pub device_id: ID,
    /// How many of its sessions ended.
    pub ended_sessions: i32,
}

/// A session of the subscriber's account ended.
#[derive(SimpleObject)]
pub struct SessionRevokedEvent {
    /// The session that ended, as it is now.
    pub session: Session,
    /// Why it ended.
    pub reason: SessionEndReason,
    /// When it ended.
    pub at: DateTime,
}

/// The subscribing session itself ended; the server closes the connection next.
#[derive(SimpleObject)]
pub struct SignedOutEvent {
    /// The session that ended: the subscriber's own.
    pub session_id: ID,
    /// Why it ended.
    pub reason: SessionEndReason,
    /// When it ended.
    pub at: DateTime,
}
