//! Sessions: what state one is in, reading them, keeping them alive and ending them.
//!
//! [`ends::end_sessions`] is the only code that ends a session, whatever the reason, so
//! every end is conditional on the session still being open, is recorded exactly once,
//! and writes its account event in the same transaction.

mod cache;
mod ends;
mod heartbeat;
mod reads;

use chrono::{DateTime, Utc};
use entity::session::{self, EndReason};
use sea_orm::{ColumnTrait, Condition};

pub(super) use cache::SessionCache;
pub(super) use ends::end_sessions;
pub use reads::MAX_LISTED_ENDED_SESSIONS;
pub(crate) use reads::max_listed_ended_sessions;

/// A session's state as the API reports it: derived from the row and the clock, so a
/// session past its expiry reads as expired before any sweep has recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    Revoked,
    Expired,
}

pub fn session_state(session: &session::Model, now: DateTime<Utc>) -> SessionState {
    match session.end_reason {
        None if session.expires_at > now => SessionState::Active,
        None | Some(EndReason::IdleTimeout | EndReason::LifetimeExceeded) => SessionState::Expired,
        Some(_) => SessionState::Revoked,
    }
}

/// How and when a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    pub reason: EndReason,
    pub at: DateTime<Utc>,
}

impl SessionEnd {
    /// The end of a session, from its row: recorded, or past its expiry but not yet swept.
    pub fn of(session: &session::Model, now: DateTime<Utc>) -> Option<Self> {
        if let (Some(reason), Some(at)) = (session.end_reason, session.ended_at) {
            return Some(Self { reason, at });
        }
        (session.expires_at <= now).then(|| Self {
            reason: if session.expires_at >= session.absolute_expires_at {
                EndReason::LifetimeExceeded
            } else {
                EndReason::IdleTimeout
            },
            at: session.expires_at,
        })
    }
}

/// Condition matching sessions that are still active at `now`: the same rule as
/// [`session_state`], for queries.
pub(super) fn is_live(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::EndedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}
