//! One broadcast channel per account with live subscribers, made with its first subscriber
//! and dropped with its last, so a burst of one account's events can only overflow that
//! account's subscribers, never another's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures_util::{Stream, stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{AccountEvent, BusMessage};

/// How many messages one account's slow subscriber may fall behind before it is told it
/// lagged. One change records at most a few dozen events at the default session cap (a
/// revoke-all ends at most 20 sessions); the slots are allocated with the channel, so a
/// smaller buffer keeps an idle account's cost low.
const ACCOUNT_CAPACITY: usize = 128;

#[derive(Default)]
pub(super) struct Fanout {
    accounts: Mutex<HashMap<String, broadcast::Sender<BusMessage>>>,
}

impl Fanout {
    pub(super) fn subscribe(self: &Arc<Self>, user_id: &str) -> AccountFeed {
        let mut accounts = self.accounts.lock().expect("fan-out poisoned");
        let sender = accounts
            .entry(user_id.to_owned())
            .or_insert_with(|| broadcast::channel(ACCOUNT_CAPACITY).0);
        AccountFeed {
            receiver: sender.subscribe(),
            user_id: user_id.to_owned(),
            fanout: self.clone(),
        }
    }

    /// Sends `event` to its account's subscribers, if it has any.
    pub(super) fn publish(&self, event: Arc<AccountEvent>) {
        let accounts = self.accounts.lock().expect("fan-out poisoned");
        if let Some(sender) = accounts.get(&event.user_id) {
            // An error only means the last subscriber left meanwhile.
            let _ = sender.send(BusMessage::Event(event));
        }
    }

    /// Tells every subscriber that events may have been missed.
    pub(super) fn resync_all(&self) {
        let accounts = self.accounts.lock().expect("fan-out poisoned");
        for sender in accounts.values() {
            let _ = sender.send(BusMessage::Resync);
        }
    }

    pub(super) fn subscriber_count(&self) -> usize {
        let accounts = self.accounts.lock().expect("fan-out poisoned");
        accounts
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }

    /// How many accounts have a channel right now.
    #[cfg(test)]
    fn account_count(&self) -> usize {
        self.accounts.lock().expect("fan-out poisoned").len()
    }
}

/// One account's live events, for as long as it is held.
pub struct AccountFeed {
    receiver: broadcast::Receiver<BusMessage>,
    user_id: String,
    fanout: Arc<Fanout>,
}

/// A feed fell behind its account's events by this many messages, which it will never see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl AccountFeed {
    /// The next message; `Lagged` when some were dropped before this feed read them.
    pub async fn recv(&mut self) -> Result<BusMessage, Lagged> {
        loop {
            match self.receiver.recv().await {
                Ok(message) => return Ok(message),
                Err(RecvError::Lagged(skipped)) => return Err(Lagged(skipped)),
                // The feed holds its account's channel open; it closes only with the bus.
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// The feed as a stream of what [`AccountFeed::recv`] returns.
    pub fn into_stream(self) -> impl Stream<Item = Result<BusMessage, Lagged>> + Send + use<> {
        stream::unfold(self, |mut feed| async move {
            let next = feed.recv().await;
            Some((next, feed))
        })
    }
}

impl Drop for AccountFeed {
    fn drop(&mut self) {
        let mut accounts = self.fanout.accounts.lock().expect("fan-out poisoned");
        // Our own receiver is still counted: at one, this is the account's last feed. New
        // feeds subscribe under the same lock, so none can slip in between.
        if accounts
            .get(&self.user_id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            accounts.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use entity::account_event::EventKind;
    use uuid::Uuid;

    use super::*;

    fn event(user_id: &str) -> Arc<AccountEvent> {
        Arc::new(AccountEvent {
            id: Uuid::now_v7(),
            user_id: user_id.into(),
            kind: EventKind::SessionStarted,
            actor_session_id: None,
            device_id: None,
            session_id: None,
            end_reason: None,
            occurred_at: Utc::now(),
        })
    }

    #[tokio::test]
    async fn a_burst_of_one_account_overflows_only_its_own_feeds() {
        let fanout = Arc::new(Fanout::default());
        let mut calm = fanout.subscribe("x");
        let mut busy = fanout.subscribe("y");
        for _ in 0..ACCOUNT_CAPACITY * 4 {
            fanout.publish(event("y"));
        }
        fanout.publish(event("x"));
        assert!(matches!(busy.recv().await, Err(Lagged(_))));
        match calm.recv().await {
            Ok(BusMessage::Event(event)) => assert_eq!(event.user_id, "x"),
            other => panic!("x should get its own event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_accounts_channel_lives_as_long_as_its_feeds() {
        let fanout = Arc::new(Fanout::default());
        let first = fanout.subscribe("x");
        let second = fanout.subscribe("x");
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 2));
        drop(first);
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 1));
        drop(second);
        assert_eq!(fanout.account_count(), 0);
        // Nobody listens: publishing is a no-op, not an error or a new channel.
        fanout.publish(event("x"));
        assert_eq!(fanout.account_count(), 0);
    }
}
