//! Reading account events: the user's security log, newest first, a page at a time.

use chrono::{DateTime, Utc};
use entity::account_event;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Account, ServiceResult, Services};

/// Where a page starts: just after this event in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    pub occurred_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Services {
    /// Up to `limit` of the account's events after `after`, newest first. Ties in time are
    /// broken by id, so pages never skip or repeat an event.
    pub async fn account_events(
        &self,
        account: Account<'_>,
        limit: u64,
        after: Option<LogPosition>,
    ) -> ServiceResult<Vec<account_event::Model>> {
        let mut query = account_event::Entity::find()
            .filter(account_event::Column::UserId.eq(account.user_id()));
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(account_event::Column::OccurredAt.lt(after.occurred_at))
                    .add(
                        Condition::all()
                            .add(account_event::Column::OccurredAt.eq(after.occurred_at))
                            .add(account_event::Column::Id.lt(after.id)),
                    ),
            );
        }
        Ok(query
            .order_by_desc(account_event::Column::OccurredAt)
            .order_by_desc(account_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
