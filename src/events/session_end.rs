//! A watch for the end of one session, for the connection that must close when it ends.
//! It hears of that session's `SessionEnded` event only, from the same delivery as every
//! account feed, so it can neither lag behind its account nor miss the end.

use std::sync::Arc;

use tokio::sync::watch;
use uuid::Uuid;

use super::{AccountEvent, fanout::Fanout};

/// Held for as long as the end of session `session_id` matters to its holder.
pub struct SessionEndWatch {
    receiver: watch::Receiver<Option<Arc<AccountEvent>>>,
    user_id: String,
    session_id: Uuid,
    fanout: Arc<Fanout>,
}

impl SessionEndWatch {
    pub(super) fn new(
        receiver: watch::Receiver<Option<Arc<AccountEvent>>>,
        user_id: &str,
        session_id: Uuid,
        fanout: Arc<Fanout>,
    ) -> Self {
        Self {
            receiver,
            user_id: user_id.to_owned(),
            session_id,
            fanout,
        }
    }

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
        self.fanout
            .unwatch_session_end(&self.user_id, self.session_id);
    }
}
