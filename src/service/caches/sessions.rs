//! Session state kept in memory, so checking a session token reads nothing from the
//! database while nothing has changed.
//!
//! An entry is the session's row as read, stamped with its account's
//! [`ChangeStamp`] taken *before* the read. It is used only while the event bus vouches
//! that no event of the account was heard since (every end of a session commits one) and
//! the transport is up; a read that races an event is therefore stamped too old and never
//! trusted. Expiry needs no event: it is computed from the entry and the clock, and an
//! entry past its expiry is read again, since another instance may have extended it.
//!
//! Entries also hold the activity of heartbeats that were not written yet (see
//! `service::sessions::heartbeat`), so this instance answers with the exact `lastActivityAt`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::session;
use moka::sync::Cache;
use uuid::Uuid;

use crate::events::{ChangeStamp, EventBus};

/// Sessions of this instance's recent requests, by id.
#[derive(Clone)]
pub struct SessionCache {
    /// `None` when configured to hold nothing: every check reads the database.
    entries: Option<Cache<Uuid, Arc<Entry>>>,
}

/// One session as this instance knows it.
#[derive(Debug)]
pub(in crate::service) struct Entry {
    /// The row as read or written, with `last_activity_at` as recent as this instance
    /// has seen.
    pub session: session::Model,
    /// When the activity in the row was last written.
    pub persisted_activity_at: DateTime<Utc>,
    stamp: ChangeStamp,
}

impl SessionCache {
    /// Holds up to `capacity` sessions (none at 0); one unused for `idle` is dropped, as
    /// it has expired by then.
    pub fn new(capacity: u64, idle: std::time::Duration) -> Self {
        let entries = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build()
        });
        Self { entries }
    }

    /// `user_id`'s session `id` as kept here, if nothing has changed in the account since.
    pub(in crate::service) fn current(
        &self,
        events: &EventBus,
        user_id: &str,
        id: Uuid,
    ) -> Option<Arc<Entry>> {
        let entries = self.entries.as_ref()?;
        let entry = entries.get(&id)?;
        if entry.session.user_id == user_id && events.unchanged_since(&entry.stamp) {
            return Some(entry);
        }
        entries.invalidate(&id);
        None
    }

    /// Keeps `session`, as persisted when `stamp` was current. Activity this instance saw
    /// later and has not written yet is carried over.
    pub(in crate::service) fn keep(&self, stamp: ChangeStamp, mut session: session::Model) {
        let Some(entries) = &self.entries else {
            return;
        };
        let persisted_activity_at = session.last_activity_at;
        self.with_recent_activity(std::slice::from_mut(&mut session));
        let entry = Entry {
            session,
            persisted_activity_at,
            stamp,
        };
        entries.insert(entry.session.id, Arc::new(entry));
    }

    /// Records activity at `at` on `entry`'s session without writing it; returns the
    /// session as it now is.
    pub(in crate::service) fn record_activity(
        &self,
        entry: &Entry,
        at: DateTime<Utc>,
    ) -> session::Model {
        let mut session = entry.session.clone();
        session.last_activity_at = session.last_activity_at.max(at);
        if let Some(entries) = &self.entries {
            let updated = Entry {
                session: session.clone(),
                persisted_activity_at: entry.persisted_activity_at,
                stamp: entry.stamp,
            };
            entries.insert(session.id, Arc::new(updated));
        }
        session
    }

    /// `sessions` as read, with the activity this instance has seen and not written yet.
    pub(in crate::service) fn with_recent_activity(&self, sessions: &mut [session::Model]) {
        let Some(entries) = &self.entries else {
            return;
        };
        for session in sessions {
            if let Some(known) = entries.get(&session.id) {
                session.last_activity_at =
                    session.last_activity_at.max(known.session.last_activity_at);
            }
        }
    }
}
