//! Sessions: what state one is in, reading them, keeping them alive and ending them.
//!
//! [`ends::end_sessions`] is the only code that ends a session, whatever the reason, so
//! every end is conditional on the session still being open, is recorded exactly once,
//! and writes its account event in the same transaction.

mod ends;
mod expiry_warnings;
mod heartbeat;
mod reads;

use chrono::{DateTime, Utc};
use entity::session::{self, EndReason};
use sea_orm::{ColumnTrait, Condition};

pub(super) use ends::end_sessions;
pub use expiry_warnings::ExpiryWarning;
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
        None
        | Some(EndReason::IdleTimeout | EndReason::LifetimeExceeded | EndReason::NotConfirmed) => {
            SessionState::Expired
        }
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
            reason: expiry_reason(session),
            at: session.expires_at,
        })
    }
}

/// Which limit a session's `expires_at` stands at: its lifetime, the confirmation
/// deadline of a pending session, or else the idle timeout.
fn expiry_reason(session: &session::Model) -> EndReason {
    if session.expires_at >= session.absolute_expires_at {
        EndReason::LifetimeExceeded
    } else if session
        .pending_until
        .is_some_and(|deadline| session.expires_at >= deadline)
    {
        EndReason::NotConfirmed
    } else {
        EndReason::IdleTimeout
    }
}

/// The latest a session's idle expiry may move to: its confirmation deadline while it is
/// pending, its absolute lifetime otherwise.
pub(super) fn expiry_cap(session: &session::Model) -> DateTime<Utc> {
    session
        .pending_until
        .map_or(session.absolute_expires_at, |deadline| {
            deadline.min(session.absolute_expires_at)
        })
}

/// Condition matching sessions that are still active at `now`: the same rule as
/// [`session_state`], for queries.
pub(super) fn is_live(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::EndedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}
