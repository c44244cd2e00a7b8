//! What mutations answer and subscriptions push, beyond the objects themselves.

use async_graphql::{ID, SimpleObject};
use entity::session;

use super::{Device, Session, SessionEndReason};
use crate::{
    graphql::scalars::DateTime,
    service::{ExpiryWarning, Viewer},
};

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
    pub fn new(sessions: Vec<session::Model>, viewer: impl Into<Viewer>) -> Self {
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

/// The subscribing session ends soon by time unless something is done.
#[derive(SimpleObject)]
pub struct SessionExpiringEvent {
    /// The session that expires: the subscriber's own.
    pub session_id: ID,
    /// When it expires.
    pub expires_at: DateTime,
    /// Why it would end: IDLE_TIMEOUT, LIFETIME_EXCEEDED or NOT_CONFIRMED.
    pub reason: SessionEndReason,
    /// True when a heartbeat puts the expiry off ("stay signed in"); false at the absolute
    /// lifetime or a confirmation deadline, which only signing in again (or a
    /// confirmation from another session) helps.
    pub can_extend: bool,
}

impl From<ExpiryWarning> for SessionExpiringEvent {
    fn from(warning: ExpiryWarning) -> Self {
        Self {
            session_id: ID(warning.session_id.to_string()),
            expires_at: DateTime(warning.expires_at),
            reason: warning.reason.into(),
            can_extend: warning.reason == session::EndReason::IdleTimeout,
        }
    }
}
