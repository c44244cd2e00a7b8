//! The one task per instance that moves committed events from the table to the account
//! channels. Transports only say "account A has committed up to position N"; this task
//! reads what the channel has not delivered yet, so a lost or late wake-up delays events
//! and never loses or reorders them.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use sea_orm::DbErr;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{EventBus, store};

/// Pause before retrying a read the database refused.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Accounts with committed events this instance has yet to deliver.
#[derive(Default)]
pub(super) struct Wakeups {
    pending: Mutex<Pending>,
    ready: Notify,
}

#[derive(Default)]
struct Pending {
    heads: HashMap<String, i64>,
    /// Every account's head must be read again: wake-ups may have been lost.
    resync: bool,
}

impl Wakeups {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("wake-ups poisoned")
    }

    pub(super) fn wake(&self, user_id: &str, head: i64) {
        let mut pending = self.lock();
        let known = pending.heads.entry(user_id.to_owned()).or_default();
        *known = (*known).max(head);
        drop(pending);
        // Stores a permit when the task is busy, so no wake-up falls between its checks.
        self.ready.notify_one();
    }

    pub(super) fn resync(&self) {
        self.lock().resync = true;
        self.ready.notify_one();
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *self.lock())
    }
}

impl EventBus {
    /// Delivers committed events to this instance's subscribers until `shutdown`.
    pub(super) async fn deliver(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakeups.ready.notified() => {}
            }
            let pending = self.wakeups.take();
            if let Err(error) = self.deliver_pending(pending).await {
                tracing::warn!(%error, "cannot read committed account events; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                }
            }
        }
    }

    /// Delivers what `pending` names. On a failed read, what was not delivered is put
    /// back to be retried.
    async fn deliver_pending(&self, mut pending: Pending) -> Result<(), DbErr> {
        if pending.resync {
            match store::heads(&self.db, &self.fanout.accounts()).await {
                Ok(heads) => pending.heads.extend(heads),
                Err(error) => {
                    self.wakeups.resync();
                    self.put_back(pending.heads);
                    return Err(error);
                }
            }
        }
        let mut heads = pending.heads.into_iter();
        while let Some((user_id, head)) = heads.next() {
            if let Err(error) = self.deliver_account(&user_id, head).await {
                self.wakeups.wake(&user_id, head);
                self.put_back(heads);
                return Err(error);
            }
        }
        Ok(())
    }

    fn put_back(&self, heads: impl IntoIterator<Item = (String, i64)>) {
        for (user_id, head) in heads {
            self.wakeups.wake(&user_id, head);
        }
    }

    /// Sends `user_id`'s events up to `head` on its channel, a page at a time.
    async fn deliver_account(&self, user_id: &str, head: i64) -> Result<(), DbErr> {
        let Some(mut delivered) = self.fanout.note_head(user_id, head) else {
            return Ok(()); // nobody here listens to this account
        };
        while delivered < head {
            let events = store::after(&self.db, user_id, delivered).await?;
            let Some(last) = events.last() else {
                return Ok(()); // the rows are gone; nothing to deliver
            };
            let last = last.seq();
            for event in events {
                self.fanout.publish(event.into());
            }
            // The channel may have gone with its last subscriber meanwhile.
            match self.fanout.delivered(user_id) {
                Some(now) => delivered = now.max(last),
                None => return Ok(()),
            }
        }
        Ok(())
    }
}
