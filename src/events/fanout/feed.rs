//! A feed: one subscriber's view of an account's events, in order, none skipped and none
//! twice, with the catch-up that replays what its channel dropped.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures_util::{Stream, stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Account, Fanout, Listen};
use crate::events::{AccountEvent, store};

/// A feed further behind its account than this is told it fell behind rather than replay:
/// a client that far behind refetches faster than it would replay.
pub const MAX_CATCH_UP: i64 = 10_000;
/// Pause before a feed retries a replay the database refused.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Listening for an account's every event: an [`AccountFeed`].
pub(in crate::events) struct Feed;

impl Listen for Feed {
    type Listener = AccountFeed;

    fn listener(&self, fanout: &Arc<Fanout>, user_id: &str, account: &mut Account) -> AccountFeed {
        AccountFeed {
            receiver: account.sender.subscribe(),
            user_id: user_id.to_owned(),
            last: account.delivered,
            backlog: VecDeque::new(),
            fanout: fanout.clone(),
        }
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
        // Our own receiver is still counted.
        self.fanout
            .leave(&self.user_id, |account| account.is_deserted(1));
    }
}

#[cfg(test)]
mod tests {
    use entity::account_event;
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};

    use super::*;
    use crate::events::{
        AccountEvent,
        fanout::{
            ACCOUNT_CAPACITY,
            recent::RECENT_EVENTS,
            testing::{event, fanout},
        },
    };

    #[tokio::test]
    async fn a_burst_of_one_account_overflows_only_its_own_feeds() {
        let fanout = fanout().await;
        let mut calm = fanout.open("x", 0, &Feed);
        let mut busy = fanout.open("y", 0, &Feed);
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
        let mut feed = fanout.open("y", 0, &Feed);
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
        let mut feed = fanout.open("y", 0, &Feed);
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
        let _first = fanout.open("y", 5, &Feed);
        fanout.publish(event("y", 6).into());
        let mut late = fanout.join("y", &Feed).expect("the channel is open");
        // Already delivered, or already seen: neither reaches the late feed.
        fanout.publish(event("y", 6).into());
        fanout.publish(event("y", 5).into());
        fanout.publish(event("y", 7).into());
        assert_eq!(late.recv().await.map(|event| event.seq()), Ok(7));
    }
}
