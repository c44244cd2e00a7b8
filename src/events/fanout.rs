//! One broadcast channel per account with live subscribers, made with its first subscriber
//! and dropped with its last, so a burst of one account's events can only overflow that
//! account's subscribers, never another's. A feed that overflows replays what it missed
//! from the account's recent events, or from the table ([`AccountFeed::recv`]).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::{Stream, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::{
    broadcast::{self, error::RecvError},
    watch,
};
use uuid::Uuid;

use super::{AccountEvent, session_end::SessionEndWatch, store};

/// How many events one account's slow subscriber may fall behind before it replays the
/// rest. The slots are allocated with the channel, so a small buffer keeps an
/// idle account cheap; a burst costs the feeds that lag a replay, not their events.
const ACCOUNT_CAPACITY: usize = 64;
/// A feed further behind its account than this is told it fell behind rather than replay:
/// a client that far behind refetches faster than it would replay.
pub const MAX_CATCH_UP: i64 = 10_000;
/// How many of an account's latest events stay in memory for feeds that fell behind, so
/// that a burst reaching a thousand subscribers of one account does not cost a thousand
/// replays from the table. Events leave it after [`RECENT_FOR`] too, so an account's
/// history costs memory only while it is busy.
const RECENT_EVENTS: usize = 1024;
const RECENT_FOR: Duration = Duration::from_secs(30);
/// Pause before a feed retries a replay the database refused.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// An account's live channel and how far this instance has got with its events.
struct Account {
    sender: broadcast::Sender<Arc<AccountEvent>>,
    /// The position of the last event sent on the channel.
    delivered: i64,
    /// The latest position known to have committed; ahead of `delivered` while events are
    /// on their way.
    head: i64,
    /// The latest events sent, oldest first, with when they were sent.
    recent: VecDeque<(Instant, Arc<AccountEvent>)>,
    /// Who waits for the end of one of the account's sessions, by session: told of that
    /// one event and no other, so a revoke-all of a thousand sessions wakes each waiter
    /// once rather than a thousand times.
    endings: HashMap<Uuid, watch::Sender<Option<Arc<AccountEvent>>>>,
}

impl Account {
    fn new(head: i64) -> Self {
        Self {
            sender: broadcast::channel(ACCOUNT_CAPACITY).0,
            delivered: head,
            head,
            recent: VecDeque::new(),
            endings: HashMap::new(),
        }
    }

    /// Whether nobody here listens to the account any more: neither a feed, beyond
    /// `leaving` of them on their way out, nor a session's end watch.
    fn is_deserted(&self, leaving: usize) -> bool {
        self.sender.receiver_count() <= leaving && self.endings.is_empty()
    }

    /// Keeps `event` among the recent ones, dropping those too many or too old.
    fn remember(&mut self, event: Arc<AccountEvent>) {
        let now = Instant::now();
        while self.recent.len() >= RECENT_EVENTS
            || self
                .recent
                .front()
                .is_some_and(|(sent, _)| now.duration_since(*sent) > RECENT_FOR)
        {
            self.recent.pop_front();
        }
        self.recent.push_back((now, event));
    }

    /// The recent events after position `last`, if memory still holds all of them.
    fn recent_after(&self, last: i64) -> Option<Vec<Arc<AccountEvent>>> {
        let (_, oldest) = self.recent.front()?;
        if oldest.seq() > last + 1 {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|(_, event)| event.seq() > last)
                .map(|(_, event)| event.clone())
                .collect(),
        )
    }
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

    /// A feed of `user_id`'s events after those already delivered, if the account has a
    /// channel.
    pub(super) fn attach(self: &Arc<Self>, user_id: &str) -> Option<AccountFeed> {
        let accounts = self.lock();
        let account = accounts.get(user_id)?;
        Some(self.feed(user_id, account))
    }

    /// A feed of `user_id`'s events after position `head`, read before this call, making
    /// the account's channel if it has none.
    pub(super) fn open(self: &Arc<Self>, user_id: &str, head: i64) -> AccountFeed {
        let mut accounts = self.lock();
        let account = accounts
            .entry(user_id.to_owned())
            .or_insert_with(|| Account::new(head));
        self.feed(user_id, account)
    }

    /// A watch for the end of `user_id`'s session `session_id` in the events after those
    /// delivered, if the account has a channel.
    pub(super) fn attach_end_watch(
        self: &Arc<Self>,
        user_id: &str,
        session_id: Uuid,
    ) -> Option<SessionEndWatch> {
        let mut accounts = self.lock();
        let account = accounts.get_mut(user_id)?;
        Some(self.end_watch(user_id, account, session_id))
    }

    /// A watch for the end of `user_id`'s session `session_id` in the events after
    /// position `head`, read before this call, making the account's channel if it has none.
    pub(super) fn open_end_watch(
        self: &Arc<Self>,
        user_id: &str,
        session_id: Uuid,
        head: i64,
    ) -> SessionEndWatch {
        let mut accounts = self.lock();
        let account = accounts
            .entry(user_id.to_owned())
            .or_insert_with(|| Account::new(head));
        self.end_watch(user_id, account, session_id)
    }

    fn end_watch(
        self: &Arc<Self>,
        user_id: &str,
        account: &mut Account,
        session_id: Uuid,
    ) -> SessionEndWatch {
        let receiver = account
            .endings
            .entry(session_id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        SessionEndWatch::new(receiver, user_id, session_id, self.clone())
    }

    /// Forgets a watch of `session_id`'s end that is being dropped, and the account's
    /// channel with it when nobody else here listens to the account.
    pub(super) fn unwatch_session_end(&self, user_id: &str, session_id: Uuid) {
        let mut accounts = self.lock();
        let Some(account) = accounts.get_mut(user_id) else {
            return;
        };
        // The leaving watch's receiver is still counted.
        if account
            .endings
            .get(&session_id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            account.endings.remove(&session_id);
        }
        if account.is_deserted(0) {
            accounts.remove(user_id);
        }
    }

    fn feed(self: &Arc<Self>, user_id: &str, account: &Account) -> AccountFeed {
        AccountFeed {
            receiver: account.sender.subscribe(),
            user_id: user_id.to_owned(),
            last: account.delivered,
            backlog: VecDeque::new(),
            fanout: self.clone(),
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
            account.remember(event.clone());
            if let Some(session_id) = event.record.session_id
                && event.ends_session(session_id)
                && let Some(ending) = account.endings.get(&session_id)
            {
                ending.send_replace(Some(event.clone()));
            }
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
        self.lock().get(user_id)?.recent_after(last)
    }

    /// How many feeds and session end watches are open.
    pub(super) fn subscriber_count(&self) -> usize {
        self.lock()
            .values()
            .map(|account| {
                let watches: usize = account
                    .endings
                    .values()
                    .map(watch::Sender::receiver_count)
                    .sum();
                account.sender.receiver_count() + watches
            })
            .sum()
    }

    /// How many accounts have a channel right now.
    #[cfg(test)]
    fn account_count(&self) -> usize {
        self.lock().len()
    }
}

/// One account's live events, in the order of their positions, for as long as it is held.
pub struct AccountFeed {
    receiver: broadcast::Receiver<Arc<AccountEvent>>,
    user_id: String,
    /// The position of the last event this feed returned.
    last: i64,
    /// Events replayed after the channel overflowed, to return first.
    backlog: VecDeque<Arc<AccountEvent>>,
    fanout: Arc<Fanout>,
}

/// The feed is more than [`MAX_CATCH_UP`] events behind its account: it will not replay
/// them, and its subscriber must refetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFarBehind;

impl AccountFeed {
    /// The next event, none skipped, none twice: what the channel dropped before this feed
    /// read it is replayed, from memory when it can be, else from the table.
    pub async fn recv(&mut self) -> Result<Arc<AccountEvent>, TooFarBehind> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.seq() > self.last {
                    self.last = event.seq();
                    return Ok(event);
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok(event) if event.seq() <= self.last => {}
                Ok(event) if event.seq() == self.last + 1 => {
                    self.last = event.seq();
                    return Ok(event);
                }
                // Events between were sent before this feed caught up.
                Ok(event) => {
                    Box::pin(self.catch_up()).await?;
                    if self.backlog.is_empty() {
                        // The events between are gone; nothing to replay.
                        self.last = event.seq();
                        return Ok(event);
                    }
                }
                Err(RecvError::Lagged(_)) => Box::pin(self.catch_up()).await?,
                // The feed holds its account's channel open; it closes only with the bus.
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// Puts what this feed missed into the backlog: from the account's recent events when
    /// memory still holds them all, else the next page after `last` from the table,
    /// retrying while the database is unreachable (events are late then, never lost).
    /// Boxed where it is awaited: it is rare, and its state (a read) would otherwise sit
    /// in every idle subscription.
    async fn catch_up(&mut self) -> Result<(), TooFarBehind> {
        let head = self.fanout.head(&self.user_id).unwrap_or(self.last);
        if head - self.last > MAX_CATCH_UP {
            return Err(TooFarBehind);
        }
        if let Some(recent) = self.fanout.recent_after(&self.user_id, self.last) {
            self.backlog.extend(recent);
            return Ok(());
        }
        loop {
            match store::after(&self.fanout.db, &self.user_id, self.last).await {
                Ok(events) => {
                    self.backlog.extend(events.into_iter().map(Arc::new));
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot replay missed account events; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                }
            }
        }
    }

    /// The feed as a stream of what [`AccountFeed::recv`] returns.
    pub fn into_stream(
        self,
    ) -> impl Stream<Item = Result<Arc<AccountEvent>, TooFarBehind>> + Send + use<> {
        stream::unfold(self, |mut feed| async move {
            let next = feed.recv().await;
            Some((next, feed))
        })
    }
}

impl Drop for AccountFeed {
    fn drop(&mut self) {
        let mut accounts = self.fanout.lock();
        // Our own receiver is still counted. New feeds and watches start under the same
        // lock, so none can slip in between.
        if accounts
            .get(&self.user_id)
            .is_some_and(|account| account.is_deserted(1))
        {
            accounts.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use entity::{account_event, account_event::EventKind};
    use futures_util::FutureExt;
    use migration::MigratorTrait;
    use sea_orm::{ActiveModelTrait, Database, EntityTrait, IntoActiveModel};
    use uuid::Uuid;

    use super::*;

    /// A fan-out over a fresh in-memory database.
    async fn fanout() -> Arc<Fanout> {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        migration::Migrator::up(&db, None).await.unwrap();
        Arc::new(Fanout::new(db))
    }

    fn event(user_id: &str, seq: i64) -> AccountEvent {
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

    #[tokio::test]
    async fn a_burst_of_one_account_overflows_only_its_own_feeds() {
        let fanout = fanout().await;
        let mut calm = fanout.open("x", 0);
        let mut busy = fanout.open("y", 0);
        let burst = MAX_CATCH_UP + ACCOUNT_CAPACITY as i64;
        for seq in 1..=burst {
            fanout.publish(event("y", seq).into());
        }
        fanout.publish(event("x", 1).into());
        assert_eq!(busy.recv().await, Err(TooFarBehind));
        let told = calm.recv().await.expect("x's own event");
        assert_eq!((told.record.user_id.as_str(), told.seq()), ("x", 1));
    }

    #[tokio::test]
    async fn a_feed_replays_from_the_table_what_its_channel_dropped() {
        let fanout = fanout().await;
        let mut feed = fanout.open("y", 0);
        // More than memory keeps: the oldest can only come from the table.
        let count = RECENT_EVENTS as i64 + 4 * ACCOUNT_CAPACITY as i64;
        let burst: Vec<AccountEvent> = (1..=count).map(|seq| event("y", seq)).collect();
        account_event::Entity::insert_many(
            burst
                .iter()
                .map(|event| event.record.clone().into_active_model().reset_all()),
        )
        .exec_without_returning(&fanout.db)
        .await
        .unwrap();
        for event in burst {
            fanout.publish(event.into());
        }
        for seq in 1..=count {
            assert_eq!(feed.recv().await.map(|event| event.seq()), Ok(seq));
        }
    }

    #[tokio::test]
    async fn a_lagging_feed_catches_up_from_memory_without_the_table() {
        // Nothing is in this database's table: only memory can fill the gap.
        let fanout = fanout().await;
        let mut feed = fanout.open("y", 0);
        let burst = 4 * ACCOUNT_CAPACITY as i64;
        for seq in 1..=burst {
            fanout.publish(event("y", seq).into());
        }
        for seq in 1..=burst {
            assert_eq!(feed.recv().await.map(|event| event.seq()), Ok(seq));
        }
    }

    #[tokio::test]
    async fn a_late_feed_starts_after_what_was_delivered_and_nothing_repeats() {
        let fanout = fanout().await;
        let _first = fanout.open("y", 5);
        fanout.publish(event("y", 6).into());
        let mut late = fanout.attach("y").expect("the channel is open");
        // Already delivered, or already seen: neither reaches the late feed.
        fanout.publish(event("y", 6).into());
        fanout.publish(event("y", 5).into());
        fanout.publish(event("y", 7).into());
        assert_eq!(late.recv().await.map(|event| event.seq()), Ok(7));
    }

    fn session_ended(user_id: &str, seq: i64, session_id: Uuid) -> Arc<AccountEvent> {
        let mut ended = event(user_id, seq);
        ended.record.kind = EventKind::SessionEnded;
        ended.record.session_id = Some(session_id);
        ended.into()
    }

    #[tokio::test]
    async fn a_session_end_watch_hears_its_own_end_however_many_others_end_first() {
        let fanout = fanout().await;
        let own = Uuid::now_v7();
        let mut watch = fanout.open_end_watch("y", own, 0);
        // Far more than a feed could fall behind by: the watch is not a feed.
        let others = MAX_CATCH_UP + ACCOUNT_CAPACITY as i64;
        for seq in 1..=others {
            fanout.publish(session_ended("y", seq, Uuid::now_v7()));
        }
        fanout.publish(event("y", others + 1).into());
        assert!(
            watch.ended().now_or_never().is_none(),
            "told of another session's end"
        );
        fanout.publish(session_ended("y", others + 2, own));
        let told = tokio::time::timeout(Duration::from_secs(1), watch.ended())
            .await
            .expect("told of its own end");
        assert_eq!(
            (told.seq(), told.record.session_id),
            (others + 2, Some(own))
        );
    }

    #[tokio::test]
    async fn an_accounts_channel_lives_as_long_as_its_session_end_watches() {
        let fanout = fanout().await;
        let session = Uuid::now_v7();
        let first = fanout.open_end_watch("x", session, 0);
        let second = fanout
            .attach_end_watch("x", session)
            .expect("the channel is open");
        let feed = fanout.attach("x").expect("the channel is open");
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 3));
        drop(feed);
        drop(first);
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 1));
        drop(second);
        assert_eq!(fanout.account_count(), 0);
        assert!(fanout.attach_end_watch("x", session).is_none());
    }

    #[tokio::test]
    async fn an_accounts_channel_lives_as_long_as_its_feeds() {
        let fanout = fanout().await;
        let first = fanout.open("x", 0);
        let second = fanout.attach("x").expect("the channel is open");
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 2));
        drop(first);
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 1));
        drop(second);
        assert_eq!(fanout.account_count(), 0);
        // Nobody listens: publishing is a no-op, not an error or a new channel.
        fanout.publish(event("x", 1).into());
        assert_eq!(fanout.account_count(), 0);
        assert!(fanout.attach("x").is_none());
    }
}
