//! Keeping storage bounded however long an account lives: devices not seen for long are
//! forgotten, as their user would; ended sessions, the rows of forgotten devices whose
//! sessions are gone, security-log entries and finished webhook deliveries are deleted
//! once past their horizon.
//!
//! Every step works in small batches, each in a short transaction of its own with a pause
//! between, so a backlog of years never holds the database (or SQLite's one writer) for
//! long and requests keep flowing in between.
//!
//! Each batch is asked for in the order of the time index it walks, as are the sweeps':
//! without an order, a planner may scan the table hoping to meet a batch of matches early,
//! and misjudges how soon when the columns correlate (most expired sessions have ended,
//! so "not ended and expired" matches few rows where it guesses many). Ordered, reading
//! the index from its start and stopping after one batch is the only cheap plan, so a pass
//! costs what it finds, not the size of the table.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entity::{account_event, device, session, webhook_delivery};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{ClientInfo, ServiceResult, Services, devices::forget, outbox::EventLog};
use crate::events::store;

/// How long the delivery log keeps a webhook delivery that was delivered or given up.
const KEEP_FINISHED_DELIVERIES: Duration = Duration::days(30);

/// Rows one retention transaction handles.
const BATCH: u64 = 500;
/// The pause between two batches, which lets waiting writers in.
const PAUSE: StdDuration = StdDuration::from_millis(20);

/// How long what ended is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A device not seen for this long is forgotten; `None`: never.
    pub forget_devices_after: Option<Duration>,
    /// Ended sessions are deleted this long after they ended, and forgotten devices this
    /// long after they were forgotten once no session names them.
    pub keep_ended_sessions: Duration,
    /// Security-log entries are deleted this long after they happened.
    pub keep_security_log: Duration,
}

/// What one retention pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    pub forgotten_devices: usize,
    pub deleted_sessions: usize,
    pub deleted_devices: usize,
    pub deleted_events: usize,
    pub deleted_deliveries: usize,
}

impl RetentionReport {
    /// Every row the pass forgot or deleted.
    pub fn rows(&self) -> usize {
        self.forgotten_devices
            + self.deleted_sessions
            + self.deleted_devices
            + self.deleted_events
            + self.deleted_deliveries
    }
}

impl Services {
    /// The oldest moment the security log still holds every entry from.
    pub fn security_log_kept_since(&self) -> DateTime<Utc> {
        self.now() - self.rules.retention.keep_security_log
    }

    /// Applies the retention horizons once, batch by batch.
    pub async fn apply_retention(&self) -> ServiceResult<RetentionReport> {
        let retention = self.rules.retention;
        let mut report = RetentionReport::default();
        if let Some(unseen) = retention.forget_devices_after {
            report.forgotten_devices = self.forget_unseen_devices(unseen).await?;
        }
        let ended = retention.keep_ended_sessions;
        report.deleted_sessions = self
            .delete_where::<session::Entity>(session::Column::Id, session::Column::EndedAt, |now| {
                Condition::all().add(session::Column::EndedAt.lt(now - ended))
            })
            .await?;
        report.deleted_devices = self
            .delete_where::<device::Entity>(
                device::Column::Id,
                device::Column::ForgottenAt,
                |now| unnamed_forgotten_devices(now - ended),
            )
            .await?;
        report.deleted_deliveries = self
            .delete_where::<webhook_delivery::Entity>(
                webhook_delivery::Column::Id,
                webhook_delivery::Column::CreatedAt,
                |now| {
                    Condition::all()
                        .add(webhook_delivery::Column::NextAttemptAt.is_null())
                        .add(webhook_delivery::Column::CreatedAt.lt(now - KEEP_FINISHED_DELIVERIES))
                },
            )
            .await?;
        let logged = retention.keep_security_log;
        report.deleted_events = self
            .delete_where::<account_event::Entity>(
                account_event::Column::Id,
                account_event::Column::OccurredAt,
                |now| store::logged_before(now - logged),
            )
            .await?;
        Ok(report)
    }

    /// Forgets every device not seen for `unseen`, as its user would have, batch by batch.
    async fn forget_unseen_devices(&self, unseen: Duration) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let now = self.now();
            let txn = self.begin_write().await?;
            let stale = device::Entity::find()
                .filter(device::Column::ForgottenAt.is_null())
                .filter(device::Column::LastSeenAt.lt(now - unseen))
                .order_by_asc(device::Column::LastSeenAt)
                .limit(BATCH)
                .lock_exclusive()
                .all(&txn)
                .await?;
            let found = stale.len();
            let mut log = EventLog::new(None, ClientInfo::default(), now);
            for device in stale {
                forget(&txn, &mut log, device, now).await?;
            }
            self.commit(log, txn).await?;
            total += found;
            if (found as u64) < BATCH {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Deletes every row of `E` (whose id column is `id`) in the `scope` the moment gives,
    /// one batch per statement in the order of the index on `walked`, pausing in between.
    async fn delete_where<E>(
        &self,
        id: E::Column,
        walked: E::Column,
        scope: impl Fn(DateTime<Utc>) -> Condition,
    ) -> ServiceResult<usize>
    where
        E: EntityTrait,
        E::Column: ColumnTrait,
    {
        let mut total = 0;
        loop {
            let ids: Vec<Uuid> = E::find()
                .select_only()
                .column(id)
                .filter(scope(self.now()))
                .order_by_asc(walked)
                .limit(BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            let found = ids.len();
            if found > 0 {
                E::delete_many()
                    .filter(id.is_in(ids))
                    .exec(&self.db)
                    .await?;
            }
            total += found;
            if (found as u64) < BATCH {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}

/// Devices forgotten before `horizon` that no session names any more: their history has
/// gone, so nothing would show them.
fn unnamed_forgotten_devices(horizon: DateTime<Utc>) -> Condition {
    let named = Query::select()
        .expr(Expr::val(1))
        .from(session::Entity)
        .and_where(
            Expr::col((session::Entity, session::Column::DeviceId))
                .equals((device::Entity, device::Column::Id)),
        )
        .to_owned();
    Condition::all()
        .add(device::Column::ForgottenAt.lt(horizon))
        .add(Expr::exists(named).not())
}
