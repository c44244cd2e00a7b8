//! An account's device and active-session lists kept in memory, so the account page
//! reads nothing from the database while nothing has changed.
//!
//! Like the session cache, a list is stamped with its account's [`ChangeStamp`] before it
//! is read and used only while no event of the account was heard since: every sign-in,
//! end, trust, rename, hijack and forget commits one. Heartbeats change rows without an
//! event: this instance forgets the account's lists when it writes one, and a list is
//! never used once older than the heartbeat write window, so another instance's written
//! heartbeat shows up at most one window late, as with heartbeats kept in memory.
//! Expiry is applied when a list is used, from the clock.

use std::{sync::Arc, time::Duration};

use moka::sync::Cache;

use crate::events::{ChangeStamp, EventBus};

/// One kind of list, by account.
pub struct AccountLists<T: Send + Sync + 'static> {
    /// `None` when off: every read goes to the database.
    lists: Option<Cache<String, Arc<Stamped<T>>>>,
}

struct Stamped<T> {
    rows: Vec<T>,
    stamp: ChangeStamp,
}

impl<T: Send + Sync + 'static> Clone for AccountLists<T> {
    fn clone(&self) -> Self {
        Self {
            lists: self.lists.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> AccountLists<T> {
    /// Lists of up to `rows` rows in all, each used for at most `max_age`; off when
    /// either is zero.
    pub fn new(rows: u64, max_age: Duration) -> Self {
        let lists = (rows > 0 && !max_age.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(rows)
                .weigher(|_: &String, list: &Arc<Stamped<T>>| {
                    u32::try_from(list.rows.len() + 1).unwrap_or(u32::MAX)
                })
                .time_to_live(max_age)
                .build()
        });
        Self { lists }
    }

    /// `user_id`'s list as kept, if nothing has changed in the account since it was read.
    pub fn current(&self, events: &EventBus, user_id: &str) -> Option<Vec<T>>
    where
        T: Clone,
    {
        self.current_where(events, user_id, |_| true)
    }

    /// The rows of `user_id`'s list as kept that `wanted` picks, if nothing has changed in
    /// the account since it was read; only those are copied.
    pub fn current_where(
        &self,
        events: &EventBus,
        user_id: &str,
        wanted: impl Fn(&T) -> bool,
    ) -> Option<Vec<T>>
    where
        T: Clone,
    {
        let lists = self.lists.as_ref()?;
        let list = lists.get(user_id)?;
        if events.unchanged_since(&list.stamp) {
            return Some(
                list.rows
                    .iter()
                    .filter(|row| wanted(row))
                    .cloned()
                    .collect(),
            );
        }
        lists.invalidate(user_id);
        None
    }

    /// Keeps `rows` as `user_id`'s list, as read when `stamp` was current.
    pub fn keep(&self, stamp: Option<ChangeStamp>, user_id: &str, rows: &[T])
    where
        T: Clone,
    {
        if let (Some(lists), Some(stamp)) = (&self.lists, stamp) {
            let list = Stamped {
                rows: rows.to_vec(),
                stamp,
            };
            lists.insert(user_id.to_owned(), Arc::new(list));
        }
    }

    /// Drops `user_id`'s list: this instance changed its rows without an event.
    pub fn forget(&self, user_id: &str) {
        if let Some(lists) = &self.lists {
            lists.invalidate(user_id);
        }
    }
}
