//! The transactional outbox: the account events of one change are collected while it is
//! made, written in its transaction, and published only once that transaction commits,
//! so nothing is pushed for a change that rolled back.

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session::EndReason};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, ClientInfo};
use crate::events::{AccountEvent, EventBus};

/// Collects the events of one transaction; [`EventLog::commit`] writes them, commits and
/// publishes.
pub(super) struct EventLog {
    actor_session_id: Option<Uuid>,
    client: ClientInfo,
    now: DateTime<Utc>,
    rows: Vec<account_event::Model>,
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
        let detail = match (subject.end_reason, subject.detail) {
            (Some(reason), None) => Some(json!({ "reason": reason.to_value() })),
            (_, detail) => detail,
        };
        self.rows.push(account_event::Model {
            id: Uuid::now_v7(),
            user_id: user_id.to_owned(),
            kind,
            actor_session_id: self.actor_session_id,
            device_id: subject.device_id,
            session_id: subject.session_id,
            ip_address: self.client.ip_address.clone(),
            country: self.client.country.clone(),
            city: self.client.city.clone(),
            detail,
            occurred_at: at,
        });
    }

    /// Writes the events into `txn`, commits it, and publishes them through `bus`.
    pub async fn commit(self, txn: DatabaseTransaction, bus: &EventBus) -> Result<(), DbErr> {
        if self.rows.is_empty() {
            return txn.commit().await;
        }
        let events: Vec<AccountEvent> = self.rows.iter().map(AccountEvent::of).collect();
        account_event::Entity::insert_many(
            self.rows
                .into_iter()
                .map(|row| row.into_active_model().reset_all()),
        )
        .exec_without_returning(&txn)
        .await?;
        bus.stage(&txn, &events).await?;
        txn.commit().await?;
        bus.committed(events);
        Ok(())
    }
}
