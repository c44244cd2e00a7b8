//! The user's security log: account events as a cursor-paginated list and a live feed.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, Json, Object, Result,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{TimeZone, Utc};
use entity::account_event::{self, EventKind};

use super::{
    ApiResult, ContextExt,
    scalars::DateTime,
    types::{Device, Location, Session, SessionEndReason, load_device, load_session},
};
use crate::service::{Actor, LogPosition, ServiceError};

/// Longest page of `securityEvents`.
pub const MAX_PAGE: i32 = 100;
pub const DEFAULT_PAGE: i32 = 20;

/// What happened to the account.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SecurityEventKind {
    /// A session started (someone signed in).
    SessionStarted,
    /// A session ended; `endReason` says why.
    SessionEnded,
    /// A device signed in for the first time.
    DeviceAdded,
    /// A device was trusted.
    DeviceTrusted,
    /// A device's trust was removed.
    DeviceUntrusted,
    /// A device was flagged as hijacked.
    DeviceHijacked,
    /// A device was renamed.
    DeviceRenamed,
    /// A device was forgotten.
    DeviceForgotten,
    /// Too many sign-ins in a row: further sign-ins were refused for a while. Recorded
    /// once per lockout.
    SignInRateLimited,
    /// One session made too many requests in a row: its requests were refused for a
    /// while. `session` and `device` name it. Recorded once per lockout.
    SessionRateLimited,
}

impl From<EventKind> for SecurityEventKind {
    fn from(kind: EventKind) -> Self {
        match kind {
            EventKind::SessionStarted => Self::SessionStarted,
            EventKind::SessionEnded => Self::SessionEnded,
            EventKind::DeviceAdded => Self::DeviceAdded,
            EventKind::DeviceTrusted => Self::DeviceTrusted,
            EventKind::DeviceUntrusted => Self::DeviceUntrusted,
            EventKind::DeviceHijacked => Self::DeviceHijacked,
            EventKind::DeviceRenamed => Self::DeviceRenamed,
            EventKind::DeviceForgotten => Self::DeviceForgotten,
            EventKind::SignInRateLimited => Self::SignInRateLimited,
            EventKind::SessionRateLimited => Self::SessionRateLimited,
        }
    }
}

/// One entry of the security log: what happened, to which device or session, who did it
/// (which session) and from where.
pub struct SecurityEvent {
    row: account_event::Model,
    viewer: Arc<Actor>,
}

impl SecurityEvent {
    pub fn new(row: account_event::Model, viewer: &Arc<Actor>) -> Self {
        Self {
            row,
            viewer: viewer.clone(),
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

    /// The session whose request did it; null when the server did it (an expiry) or for a
    /// sign-in, which no session made.
    async fn actor_session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        match self.row.actor_session_id {
            Some(id) => load_session(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// The device it concerns, when it concerns one.
    async fn device(&self, ctx: &Context<'_>) -> Result<Option<Device>> {
        match self.row.device_id {
            Some(id) => load_device(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// The session it concerns, when it concerns one.
    async fn session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        match self.row.session_id {
            Some(id) => load_session(ctx, &self.viewer, id).await,
            None => Ok(None),
        }
    }

    /// Why the session ended, for SESSION_ENDED.
    async fn end_reason(&self) -> Option<SessionEndReason> {
        let reason = self.row.detail.as_ref()?.get("reason")?.clone();
        serde_json::from_value::<entity::session::EndReason>(reason)
            .ok()
            .map(Into::into)
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

fn encode_cursor(row: &account_event::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", row.occurred_at.timestamp_micros(), row.id))
}

fn decode_cursor(cursor: &str) -> Option<LogPosition> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once(':')?;
    Some(LogPosition {
        occurred_at: Utc.timestamp_micros(micros.parse().ok()?).single()?,
        id: id.parse().ok()?,
    })
}

#[derive(Default)]
pub struct SecurityQuery;

#[Object]
impl SecurityQuery {
    /// The caller's security log, newest first: sign-ins, sign-outs and every change to
    /// their devices, with who did it and from where.
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events to return: 1 to 100; 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `cursor` of the last event of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, SecurityEvent>> {
        let actor = ctx.actor()?;
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(ServiceError::BadUserInput(format!(
                "first must be between 1 and {MAX_PAGE}"
            )))
            .api();
        }
        let after = match after.as_deref() {
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                ServiceError::BadUserInput("after is not a cursor from securityEvents".into())
            })?),
            None => None,
        };
        let limit = first as usize;
        let mut rows = ctx
            .services()
            .security_events(actor, limit as u64 + 1, after)
            .await
            .api()?;
        let has_next_page = rows.len() > limit;
        rows.truncate(limit);
        let mut page = Connection::new(after.is_some(), has_next_page);
        page.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(encode_cursor(&row), SecurityEvent::new(row, actor))),
        );
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let row = account_event::Model {
            id: uuid::Uuid::now_v7(),
            user_id: "u".into(),
            kind: EventKind::SessionStarted,
            actor_session_id: None,
            device_id: None,
            session_id: None,
            ip_address: None,
            country: None,
            city: None,
            detail: None,
            occurred_at: Utc.timestamp_micros(1_795_400_000_123_456).unwrap(),
        };
        let position = decode_cursor(&encode_cursor(&row)).unwrap();
        assert_eq!(
            position,
            LogPosition {
                occurred_at: row.occurred_at,
                id: row.id
            }
        );
        for garbage in ["", "bm9wZQ", "!!", &URL_SAFE_NO_PAD.encode("12:not-a-uuid")] {
            assert_eq!(decode_cursor(garbage), None, "{garbage}");
        }
    }
}
