//! Reading account events: the user's security log, newest first, a page at a time.

use entity::account_event;

pub use crate::events::store::LogPosition;

use super::{Account, ServiceResult, Services};
use crate::events::store;

impl Services {
    /// Up to `limit` of the account's events after `after`, newest first. Ties in time are
    /// broken by id, so pages never skip or repeat an event.
    pub async fn account_events(
        &self,
        account: Account<'_>,
        limit: u64,
        after: Option<LogPosition>,
    ) -> ServiceResult<Vec<account_event::Model>> {
        Ok(store::page(&self.db, account.user_id(), limit, after).await?)
    }
}
