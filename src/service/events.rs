//! Account events: the user's security log, written in the same transaction as the change
//! it records and published to live subscribers only after that transaction commits.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session::EndReason};
use sea_orm::{ActiveEnum, ActiveValue::Set, DatabaseTransaction, DbErr, EntityTrait};
use serde_json::json;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Actor, ClientInfo};

/// How many events a slow subscriber may fall behind before it is told it lagged.
/// Events are small; 1024 absorbs a burst such as revoking a few hundred sessions.
const BUS_CAPACITY: usize = 1024;

/// One state change of an account, as recorded and as published.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    pub id: Uuid,
    pub user_id: String,
    pub kind: EventKind,
    pub actor_session_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// Set for `SessionEnded`.
    pub end_reason: Option<EndReason>,
    pub occurred_at: DateTime<Utc>,
}

/// In-process fan-out of committed account events to live subscribers.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<AccountEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BUS_CAPACITY);
        Self { sender }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AccountEvent>> {
        self.sender.subscribe()
    }

    /// How many live subscriptions are listening right now.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    fn publish(&self, events: Vec<AccountEvent>) {
        for event in events {
            // An error only means nobody is subscribed right now, which is fine.
            let _ = self.sender.send(Arc::new(event));
        }
    }
}

/// Collects the events of one transaction; [`EventLog::commit`] writes them, commits and
/// publishes, so nothing is published for a change that rolled back.
pub(super) struct EventLog {
    actor_session_id: Option<Uuid>,
    client: ClientInfo,
    now: DateTime<Utc>,
    rows: Vec<account_event::ActiveModel>,
    events: Vec<AccountEvent>,
}

/// What an event is about, besides its kind.
#[derive(Default)]
pub(super) struct Subject {
    pub device_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub end_reason: Option<EndReason>,
    pub detail: Option<serde_json::Value>,
}

impl EventLog {
    /// Events caused by a request of `actor`'s session.
    pub fn by_actor(actor: &Actor, now: DateTime<Utc>) -> Self {
        Self::new(Some(actor.session_id), actor.client.clone(), now)
    }

    pub fn new(actor_session_id: Option<Uuid>, client: ClientInfo, now: DateTime<Utc>) -> Self {
        Self {
            actor_session_id,
            client,
            now,
            rows: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn record(&mut self, user_id: &str, kind: EventKind, subject: Subject) {
        self.record_at(user_id, kind, subject, self.now);
    }

    /// Records an event that happened at `at`, e.g. an expiry found later by the sweep.
    pub fn record_at(
        &mut self,
        user_id: &str,
        kind: EventKind,
        subject: Subject,
        at: DateTime<Utc>,
    ) {
        let id = Uuid::now_v7();
        let detail = match (subject.end_reason, subject.detail) {
            (Some(reason), None) => Some(json!({ "reason": reason.to_value() })),
            (_, detail) => detail,
        };
        self.rows.push(account_event::ActiveModel {
            id: Set(id),
            user_id: Set(user_id.to_owned()),
            kind: Set(kind),
            actor_session_id: Set(self.actor_session_id),
            device_id: Set(subject.device_id),
            session_id: Set(subject.session_id),
            ip_address: Set(self.client.ip_address.clone()),
            country: Set(self.client.country.clone()),
            city: Set(self.client.city.clone()),
            detail: Set(detail),
            occurred_at: Set(at),
        });
        self.events.push(AccountEvent {
            id,
            user_id: user_id.to_owned(),
            kind,
            actor_session_id: self.actor_session_id,
            device_id: subject.device_id,
            session_id: subject.session_id,
            end_reason: subject.end_reason,
            occurred_at: at,
        });
    }

    /// Writes the events into `txn`, commits it, then publishes them.
    pub async fn commit(self, txn: DatabaseTransaction, bus: &EventBus) -> Result<(), DbErr> {
        if !self.rows.is_empty() {
            account_event::Entity::insert_many(self.rows)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        bus.publish(self.events);
        Ok(())
    }
}
