use async_graphql::{Context, ID, Object, Result};
use entity::session;
use uuid::Uuid;

use super::{Device, Location, SessionEndReason, SessionStatus};
use crate::{
    graphql::{ContextExt, internal_error, loaders::SessionId, scalars::DateTime},
    service::{self, Viewer},
};

/// One sign-in on one device, as seen by `viewer` (see [`Device`]).
pub struct Session {
    row: session::Model,
    viewer: Viewer,
}

impl Session {
    pub fn new(row: session::Model, viewer: impl Into<Viewer>) -> Self {
        Self {
            row,
            viewer: viewer.into(),
        }
    }

    pub fn list(rows: Vec<session::Model>, viewer: impl Into<Viewer>) -> Vec<Self> {
        let viewer = viewer.into();
        rows.into_iter()
            .map(|row| Self::new(row, &viewer))
            .collect()
    }

    /// One of `viewer`'s sessions by id, ended or not, batched with the other sessions the
    /// request asks for.
    pub async fn load(ctx: &Context<'_>, viewer: &Viewer, id: Uuid) -> Result<Option<Self>> {
        let row = ctx
            .loaders(viewer.account().user_id())?
            .load(SessionId(id))
            .await?;
        Ok(row.map(|row| Self::new(row, viewer)))
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
        Device::load(ctx, &self.viewer, self.row.device_id)
            .await?
            .ok_or_else(|| internal_error("a session's device is missing"))
    }

    /// ACTIVE, or how it ended: REVOKED by a person, EXPIRED by time.
    async fn status(&self, ctx: &Context<'_>) -> SessionStatus {
        service::session_state(&self.row, ctx.services().now()).into()
    }

    /// True for the session making the request.
    async fn is_current(&self) -> bool {
        self.viewer.is_current_session(self.row.id)
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

    /// While the session's new device waits for another session to confirm it (the
    /// confirmation policy): the moment it ends unless confirmed. Until then it may only
    /// read itself, send heartbeats and sign out. Null otherwise.
    async fn pending_until(&self) -> Option<DateTime> {
        self.row.pending_until.map(DateTime)
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
