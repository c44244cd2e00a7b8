//! Live features as service operations: the transports (`http::websocket`, the GraphQL
//! subscription root) ask here for what a subscriber listens to, and never reach the event
//! bus themselves.

pub use crate::events::{AccountEvent, AccountFeed, MAX_CATCH_UP, SessionEndWatch};

use super::{Actor, ServiceResult, Services};

impl Services {
    /// The caller's account events committed from now on. A transport opens it the moment
    /// it accepts a subscription, so the subscription hears every event from then on,
    /// however late its resolver runs.
    pub async fn listen_to_account(&self, actor: &Actor) -> ServiceResult<AccountFeed> {
        Ok(self.events().subscribe(&actor.user_id).await?)
    }

    /// A watch for the end of the caller's own session, committed from now on. Taken
    /// before the session is last checked, an end committed at any moment is either seen
    /// by the check or heard by the watch.
    pub async fn watch_own_end(&self, actor: &Actor) -> ServiceResult<SessionEndWatch> {
        Ok(self
            .events()
            .watch_session_end(&actor.user_id, actor.session_id)
            .await?)
    }
}
