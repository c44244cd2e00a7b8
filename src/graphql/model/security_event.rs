use async_graphql::{Context, ID, Json, Object, Result};
use entity::account_event;

use super::{Device, Location, SecurityEventKind, Session, SessionEndReason};
use crate::{graphql::scalars::DateTime, service::Viewer};

/// One entry of the security log: what happened, to which device or session, who did it
/// (which session) and from where. The API's view of a stored account event.
pub struct SecurityEvent {
    row: account_event::Model,
    viewer: Viewer,
}

impl SecurityEvent {
    pub fn new(row: account_event::Model, viewer: impl Into<Viewer>) -> Self {
        Self {
            row,
            viewer: viewer.into(),
        }
    }
}

#[Object]
impl SecurityEvent {
    /// Unique identifier (UUID).
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// What happened.
    async fn kind(&self) -> SecurityEventKind {
        self.row.kind.into()
    }

    /// When it happened. For sessions that expired, the moment they expired.
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.row.occurred_at)
    }

    /// The session whose request did it; null when the server did it (an expiry), an
    /// administrator did, or for a sign-in, which no session made.
    async fn actor_session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        match self.row.actor_session_id {
            Some(id) => Session::load(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// True when an administrator did it (through the admin API), not one of the user's
    /// sessions or the server's own rules.
    async fn by_administrator(&self) -> bool {
        self.row.admin_key.is_some()
    }

    /// The device it concerns, when it concerns one.
    async fn device(&self, ctx: &Context<'_>) -> Result<Option<Device>> {
        match self.row.device_id {
            Some(id) => Device::load(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// The session it concerns, when it concerns one.
    async fn session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        match self.row.session_id {
            Some(id) => Session::load(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// Why the session ended, for SESSION_ENDED.
    async fn end_reason(&self) -> Option<SessionEndReason> {
        self.row.end_reason().map(Into::into)
    }

    /// The address the change came from.
    async fn ip_address(&self) -> Option<&str> {
        self.row.ip_address.as_deref()
    }

    /// Where the change came from, when known.
    async fn location(&self) -> Option<Location> {
        Location::from_parts(&self.row.country, &self.row.city)
    }

    /// Details by kind: the trust level and expiry, the new name, the end reason.
    async fn detail(&self) -> Option<Json<serde_json::Value>> {
        self.row.detail.clone().map(Json)
    }
}
