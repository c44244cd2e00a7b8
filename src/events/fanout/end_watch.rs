//! A watch for the end of one session, for the connection that must close when it ends.
//! It hears of that session's `SessionEnded` event only, from the same delivery as every
//! account feed, so it can neither lag behind its account nor miss the end; and a
//! revoke-all of a thousand sessions wakes each watcher once rather than a thousand times.

use std::sync::Arc;

use tokio::sync::watch;
use uuid::Uuid;

use super::{Account, Fanout, Listen};
use crate::events::AccountEvent;

/// Who waits for the end of one of an account's sessions, by session.
pub(super) type Endings = std::collections::HashMap<Uuid, watch::Sender<Option<Arc<AccountEvent>>>>;

/// Listening for the end of the session it names: a [`SessionEndWatch`].
pub(in crate::events) struct EndOf(pub Uuid);

impl Listen for EndOf {
    type Listener = SessionEndWatch;

    fn listener(
        &self,
        fanout: &Arc<Fanout>,
        user_id: &str,
        account: &mut Account,
    ) -> SessionEndWatch {
        let EndOf(session_id) = *self;
        let receiver = account
            .endings
            .entry(session_id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        SessionEndWatch {
            receiver,
            user_id: user_id.to_owned(),
            session_id,
            fanout: fanout.clone(),
        }
    }
}

/// Tells the watchers of the session `event` ends, if it ends one.
pub(super) fn tell_end(endings: &Endings, event: &Arc<AccountEvent>) {
    if let Some(session_id) = event.record.session_id
        && event.ends_session(session_id)
        && let Some(ending) = endings.get(&session_id)
    {
        ending.send_replace(Some(event.clone()));
    }
}

/// How many end watches are open.
pub(super) fn watcher_count(endings: &Endings) -> usize {
    endings.values().map(watch::Sender::receiver_count).sum()
}

/// Held for as long as the end of session `session_id` matters to its holder.
pub struct SessionEndWatch {
    receiver: watch::Receiver<Option<Arc<AccountEvent>>>,
    user_id: String,
    session_id: Uuid,
    fanout: Arc<Fanout>,
}

impl SessionEndWatch {
    /// The event that ended the session, once it has been delivered.
    pub async fn ended(&mut self) -> Arc<AccountEvent> {
        let ended = match self.receiver.wait_for(Option::is_some).await {
            Ok(event) => event.clone(),
            Err(_) => None,
        };
        match ended {
            Some(event) => event,
            // The sender lives while this watch does; it goes only with the bus.
            None => std::future::pending().await,
        }
    }
}

impl Drop for SessionEndWatch {
    fn drop(&mut self) {
        let session_id = self.session_id;
        self.fanout.leave(&self.user_id, |account| {
            // The leaving watch's receiver is still counted.
            if account
                .endings
                .get(&session_id)
                .is_some_and(|sender| sender.receiver_count() <= 1)
            {
                account.endings.remove(&session_id);
            }
            account.is_deserted(0)
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use entity::account_event::EventKind;
    use futures_util::FutureExt;

    use super::*;
    use crate::events::fanout::{
        ACCOUNT_CAPACITY, MAX_CATCH_UP,
        feed::Feed,
        testing::{event, fanout},
    };

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
        let mut watch = fanout.open("y", 0, &EndOf(own));
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
        let first = fanout.open("x", 0, &EndOf(session));
        let second = fanout
            .join("x", &EndOf(session))
            .expect("the channel is open");
        let feed = fanout.join("x", &Feed).expect("the channel is open");
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 3));
        drop(feed);
        drop(first);
        assert_eq!((fanout.account_count(), fanout.subscriber_count()), (1, 1));
        drop(second);
        assert_eq!(fanout.account_count(), 0);
        assert!(fanout.join("x", &EndOf(session)).is_none());
    }
}
