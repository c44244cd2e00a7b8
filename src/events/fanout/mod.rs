//! One broadcast channel per account with live listeners here, made with its first
//! listener and dropped with its last, so a burst of one account's events can only
//! overflow that account's subscribers, never another's.
//!
//! This file is the registry: the accounts, how a listener joins one, and what delivery
//! publishes. What listens is a feed of every event, with its catch-up ([`feed`]), or a
//! watch for one session's end ([`end_watch`]); a feed that falls behind replays from the
//! account's recent events ([`recent`]) or from the table.

mod end_watch;
mod feed;
mod recent;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

pub(super) use end_watch::EndOf;
pub use end_watch::SessionEndWatch;
pub(super) use feed::Feed;
pub use feed::{AccountFeed, MAX_CATCH_UP, TooFarBehind};

use super::AccountEvent;
use end_watch::Endings;
use recent::Recent;

/// How many events one account's slow subscriber may fall behind before it replays the
/// rest. The slots are allocated with the channel, so a small buffer keeps an
/// idle account cheap; a burst costs the feeds that lag a replay, not their events.
const ACCOUNT_CAPACITY: usize = 64;

/// An account's live channel and how far this instance has got with its events.
pub(super) struct Account {
    sender: broadcast::Sender<Arc<AccountEvent>>,
    /// The position of the last event sent on the channel.
    delivered: i64,
    /// The latest position known to have committed; ahead of `delivered` while events are
    /// on their way.
    head: i64,
    recent: Recent,
    endings: Endings,
}

impl Account {
    fn new(head: i64) -> Self {
        Self {
            sender: broadcast::channel(ACCOUNT_CAPACITY).0,
            delivered: head,
            head,
            recent: Recent::default(),
            endings: Endings::new(),
        }
    }

    /// Whether nobody here listens to the account any more: neither a feed, beyond
    /// `leaving` of them on their way out, nor a session's end watch.
    fn is_deserted(&self, leaving: usize) -> bool {
        self.sender.receiver_count() <= leaving && self.endings.is_empty()
    }
}

/// What listens to an account's events, and how it starts listening.
pub(in crate::events) trait Listen {
    type Listener;

    /// A listener to `account`'s events after those it has delivered.
    fn listener(
        &self,
        fanout: &Arc<Fanout>,
        user_id: &str,
        account: &mut Account,
    ) -> Self::Listener;
}

pub(super) struct Fanout {
    accounts: Mutex<HashMap<String, Account>>,
    db: DatabaseConnection,
}

impl Fanout {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            accounts: Mutex::default(),
            db,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().expect("fan-out poisoned")
    }

    /// `what` listens to `user_id`'s events after those already delivered here, if the
    /// account has a channel.
    pub(super) fn join<L: Listen>(
        self: &Arc<Self>,
        user_id: &str,
        what: &L,
    ) -> Option<L::Listener> {
        let mut accounts = self.lock();
        let account = accounts.get_mut(user_id)?;
        Some(what.listener(self, user_id, account))
    }

    /// `what` listens to `user_id`'s events after position `head`, read before this call,
    /// making the account's channel if it has none.
    pub(super) fn open<L: Listen>(
        self: &Arc<Self>,
        user_id: &str,
        head: i64,
        what: &L,
    ) -> L::Listener {
        let mut accounts = self.lock();
        let account = accounts
            .entry(user_id.to_owned())
            .or_insert_with(|| Account::new(head));
        what.listener(self, user_id, account)
    }

    /// A listener of `user_id`'s is leaving: `deserted` tidies the account up after it and
    /// says whether anyone is left, else the account's channel goes. New listeners join
    /// under the same lock, so none can slip in between.
    fn leave(&self, user_id: &str, deserted: impl FnOnce(&mut Account) -> bool) {
        let mut accounts = self.lock();
        if accounts.get_mut(user_id).is_some_and(deserted) {
            accounts.remove(user_id);
        }
    }

    /// Sends `event` to its account's subscribers, if it has any and it is news to them.
    pub(super) fn publish(&self, event: Arc<AccountEvent>) {
        let mut accounts = self.lock();
        if let Some(account) = accounts.get_mut(&event.record.user_id)
            && event.seq() > account.delivered
        {
            account.delivered = event.seq();
            account.head = account.head.max(event.seq());
            account.recent.remember(event.clone());
            end_watch::tell_end(&account.endings, &event);
            // An error only means no feed listens right now.
            let _ = account.sender.send(event);
        }
    }

    /// Records that `user_id`'s events up to `head` have committed. Returns how far the
    /// channel has delivered, or `None` when nobody here listens to the account.
    pub(super) fn note_head(&self, user_id: &str, head: i64) -> Option<i64> {
        let mut accounts = self.lock();
        let account = accounts.get_mut(user_id)?;
        account.head = account.head.max(head);
        Some(account.delivered)
    }

    /// How far `user_id`'s channel has delivered, if it has one.
    pub(super) fn delivered(&self, user_id: &str) -> Option<i64> {
        self.lock().get(user_id).map(|account| account.delivered)
    }

    /// Every account with a channel.
    pub(super) fn accounts(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn head(&self, user_id: &str) -> Option<i64> {
        self.lock().get(user_id).map(|account| account.head)
    }

    fn recent_after(&self, user_id: &str, last: i64) -> Option<Vec<Arc<AccountEvent>>> {
        self.lock().get(user_id)?.recent.after(last)
    }

    /// How many feeds and session end watches are open.
    pub(super) fn subscriber_count(&self) -> usize {
        self.lock()
            .values()
            .map(|account| {
                account.sender.receiver_count() + end_watch::watcher_count(&account.endings)
            })
            .sum()
    }

    /// How many accounts have a channel right now.
    #[cfg(test)]
    fn account_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
pub(super) mod testing {
    use chrono::Utc;
    use entity::{account_event, account_event::EventKind};
    use migration::MigratorTrait;
    use sea_orm::Database;
    use uuid::Uuid;

    use super::*;

    /// A fan-out over a fresh in-memory database.
    pub async fn fanout() -> Arc<Fanout> {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        migration::Migrator::up(&db, None).await.unwrap();
        Arc::new(Fanout::new(db))
    }

    /// An event of `user_id`'s at position `seq`.
    pub fn event(user_id: &str, seq: i64) -> AccountEvent {
        AccountEvent {
            record: account_event::Model {
                admin_key: None,
                id: Uuid::now_v7(),
                user_id: user_id.into(),
                seq,
                kind: EventKind::DeviceRenamed,
                actor_session_id: None,
                device_id: None,
                session_id: None,
                ip_address: None,
                country: None,
                city: None,
                detail: None,
                occurred_at: Utc::now(),
            },
            session: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Feed,
        testing::{event, fanout},
    };

    #[tokio::test]
    async fn an_accounts_channel_lives_as_long_as_its_feeds() {
        let fanout = fanout().await;
        let first = fanout.open("x", 0, &Feed);
        let second = fanout.join("x", &Feed).expect("the channel is open");
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 2));
        drop(first);
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 1));
        drop(second);
        assert_eq!(fanout.account_count(), 0);
        // Nobody listens: publishing is a no-op, not an error or a new channel.
        fanout.publish(event("x", 1).into());
        assert_eq!(fanout.account_count(), 0);
        assert!(fanout.join("x", &Feed).is_none());
    }
}
