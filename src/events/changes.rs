//! Whether an account may have changed since a moment, as far as this instance can tell:
//! what lets a cache of session state trust an entry without asking the database.
//!
//! Every committed change to an account produces an account event, and this instance
//! hears of every account's events: its own at commit, the others' from the transport.
//! Hearing of one bumps a counter. A [`ChangeStamp`] taken before reading an account's
//! state is still current only while that counter has not moved, the transport has not
//! dropped meanwhile (wake-ups may have been lost), and it is connected now.
//!
//! With Redis, a commit's wake-up is lost if its instance dies between commit and
//! publish; only the periodic resync finds such events, so there a stamp also grows too
//! old after [`Changes::new`]'s `max_age`.
//!
//! Counters are shared by stripes of accounts rather than kept per account, so memory
//! stays fixed however many accounts there are: an event elsewhere in the stripe only
//! costs a needless re-read. A read that races an event can only ever be stamped too old.

use std::{
    hash::{BuildHasher, RandomState},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// Stripes of accounts that share a change counter: 128 KiB of counters, so that at a
/// thousand events a second each stripe changes about once every 16 s.
const STRIPES: usize = 16_384;

/// The change counters of this instance.
pub(super) struct Changes {
    /// Bumped whenever events may have been missed: a transport that dropped.
    epoch: AtomicU64,
    stripes: Box<[AtomicU64]>,
    hasher: RandomState,
    max_age: Option<Duration>,
}

/// What an account's change counters read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeStamp {
    epoch: u64,
    stripe: usize,
    changes: u64,
    taken: Instant,
}

impl Changes {
    /// Counters whose stamps stay current for at most `max_age`, if given.
    pub(super) fn new(max_age: Option<Duration>) -> Self {
        Self {
            epoch: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
            max_age,
        }
    }

    fn stripe(&self, user_id: &str) -> usize {
        (self.hasher.hash_one(user_id) % STRIPES as u64) as usize
    }

    /// The counters of `user_id`'s account now.
    pub(super) fn stamp(&self, user_id: &str) -> ChangeStamp {
        let stripe = self.stripe(user_id);
        ChangeStamp {
            epoch: self.epoch.load(Ordering::SeqCst),
            stripe,
            changes: self.stripes[stripe].load(Ordering::SeqCst),
            taken: Instant::now(),
        }
    }

    /// `user_id` committed events.
    pub(super) fn changed(&self, user_id: &str) {
        self.stripes[self.stripe(user_id)].fetch_add(1, Ordering::SeqCst);
    }

    /// Events may have been missed: no stamp taken so far is current any more.
    pub(super) fn lost_track(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether nothing was heard of `stamp`'s account since it was taken, and it is not
    /// too old to vouch for that.
    pub(super) fn unchanged_since(&self, stamp: &ChangeStamp) -> bool {
        self.epoch.load(Ordering::SeqCst) == stamp.epoch
            && self.stripes[stamp.stripe].load(Ordering::SeqCst) == stamp.changes
            && self
                .max_age
                .is_none_or(|max_age| stamp.taken.elapsed() < max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_current_until_its_account_changes() {
        let changes = Changes::new(None);
        let stamp = changes.stamp("alice");
        assert!(changes.unchanged_since(&stamp));
        changes.changed("alice");
        assert!(!changes.unchanged_since(&stamp));
        assert!(changes.unchanged_since(&changes.stamp("alice")));
    }

    #[test]
    fn losing_track_outdates_every_stamp() {
        let changes = Changes::new(None);
        let stamps: Vec<_> = ["alice", "bob"].map(|user| changes.stamp(user)).into();
        changes.lost_track();
        assert!(stamps.iter().all(|stamp| !changes.unchanged_since(stamp)));
    }

    #[test]
    fn another_stripe_changing_leaves_a_stamp_current() {
        let changes = Changes::new(None);
        let alice = changes.stamp("alice");
        let elsewhere = (0..)
            .map(|n| format!("user-{n}"))
            .find(|user| changes.stripe(user) != alice.stripe)
            .expect("another stripe");
        changes.changed(&elsewhere);
        assert!(changes.unchanged_since(&alice));
    }

    #[test]
    fn a_stamp_past_its_maximum_age_is_not_current() {
        let changes = Changes::new(Some(Duration::from_millis(20)));
        let stamp = changes.stamp("alice");
        assert!(changes.unchanged_since(&stamp));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!changes.unchanged_since(&stamp));
    }
}
