//! What each instance keeps in memory so that requests need not read the database, all of
//! it here: sessions by id ([`sessions`]) and each account's device and active-session
//! lists ([`account_lists`]). Every entry is stamped with its account's change stamp
//! (`events::ChangeStamp`) before its read and trusted only while no event of the account
//! was heard since, so a cached answer can never outlive an ended session.

mod account_lists;
mod sessions;

use entity::{device, session};

use account_lists::AccountLists;
use sessions::SessionCache;

/// What each instance keeps in memory so that requests need not read the database.
#[derive(Clone)]
pub struct Caches {
    /// Sessions by id, for token checks and heartbeats.
    pub(super) sessions: SessionCache,
    /// Each account's devices, as the devices page lists them.
    pub(super) devices: AccountLists<device::Model>,
    /// Each account's active sessions, as the sessions and devices pages list them.
    pub(super) live_sessions: AccountLists<session::Model>,
}

impl Caches {
    /// Up to `size` sessions, and lists of up to `size` rows in all; lists are trusted
    /// for at most the heartbeat `write_window` (see [`account_lists`]), and kept not at all
    /// when it is zero.
    pub fn new(
        size: u64,
        idle_timeout: std::time::Duration,
        write_window: std::time::Duration,
    ) -> Self {
        Self {
            sessions: SessionCache::new(size, idle_timeout),
            devices: AccountLists::new(size, write_window),
            live_sessions: AccountLists::new(size, write_window),
        }
    }

    /// Drops `user_id`'s lists: this instance changed their rows without an event.
    pub(super) fn forget_lists(&self, user_id: &str) {
        self.devices.forget(user_id);
        self.live_sessions.forget(user_id);
    }
}
