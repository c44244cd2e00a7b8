//! The transactional outbox: the account events of one change are collected while it is
//! made, written in its transaction, and published only once that transaction commits,
//! so nothing is pushed for a change that rolled back.

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session::EndReason};
use sea_orm::{ActiveEnum, DatabaseTransaction, DbErr};
use serde_json::json;
use uuid::Uuid;

use super::{
    Actor, ClientInfo,
    webhooks::{self, WebhookPolicy},
};
use crate::{
    events::{EventBus, store},
    telemetry::metrics,
};

/// Collects the events of one transaction; [`EventLog::commit`] writes them, commits and
/// publishes.
pub(super) struct EventLog {
    actor_session_id: Option<Uuid>,
    admin_key: Option<String>,
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

    /// Events caused by a request of the administrator with operator key `admin_key`: no
    /// client address or location, since the operator's are not the user's.
    pub fn by_admin(admin_key: &str, now: DateTime<Utc>) -> Self {
        Self {
            admin_key: Some(admin_key.to_owned()),
            ..Self::new(None, ClientInfo::default(), now)
        }
    }

    pub fn new(actor_session_id: Option<Uuid>, client: ClientInfo, now: DateTime<Utc>) -> Self {
        Self {
            actor_session_id,
            admin_key: None,
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
            // Assigned at commit, under the account's cursor lock.
            seq: 0,
            kind,
            actor_session_id: self.actor_session_id,
            admin_key: self.admin_key.clone(),
            device_id: subject.device_id,
            session_id: subject.session_id,
            ip_address: self.client.ip_address.clone(),
            country: self.client.country.clone(),
            city: self.client.city.clone(),
            detail,
            occurred_at: at,
        });
    }

    /// Numbers the events, writes them (`events::store`, the tables' one owner) and their
    /// webhook deliveries into `txn`, commits it, and wakes up their delivery through `bus`.
    pub async fn commit(
        self,
        txn: DatabaseTransaction,
        bus: &EventBus,
        webhooks: &WebhookPolicy,
    ) -> Result<(), DbErr> {
        if self.rows.is_empty() {
            return txn.commit().await;
        }
        webhooks::enqueue(&txn, &self.rows, webhooks).await?;
        let kinds: Vec<EventKind> = self.rows.iter().map(|row| row.kind).collect();
        let heads = store::append(&txn, self.rows).await?;
        bus.stage(&txn, &heads).await?;
        txn.commit().await?;
        bus.committed(&heads);
        for kind in kinds {
            metrics::event_published(kind.to_value());
        }
        Ok(())
    }
}
