//! The transactional outbox: the account events of one change are collected while it is
//! made, written in its transaction, and published only once that transaction commits,
//! so nothing is pushed for a change that rolled back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{account_cursor, account_event, account_event::EventKind, session::EndReason};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Actor, ClientInfo,
    webhooks::{self, WebhookPolicy},
};
use crate::{
    events::{AccountHead, EventBus},
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

    /// Numbers the events, writes them and their webhook deliveries into `txn`, commits
    /// it, and wakes up their delivery through `bus`.
    pub async fn commit(
        mut self,
        txn: DatabaseTransaction,
        bus: &EventBus,
        webhooks: &WebhookPolicy,
    ) -> Result<(), DbErr> {
        if self.rows.is_empty() {
            return txn.commit().await;
        }
        let heads = assign_positions(&txn, &mut self.rows).await?;
        webhooks::enqueue(&txn, &self.rows, webhooks).await?;
        let kinds: Vec<EventKind> = self.rows.iter().map(|row| row.kind).collect();
        account_event::Entity::insert_many(
            self.rows
                .into_iter()
                .map(|row| row.into_active_model().reset_all()),
        )
        .exec_without_returning(&txn)
        .await?;
        bus.stage(&txn, &heads).await?;
        txn.commit().await?;
        bus.committed(&heads);
        for kind in kinds {
            metrics::event_published(kind.to_value());
        }
        Ok(())
    }
}

/// Takes `user_id`'s cursor row lock now rather than at commit, so that a change which
/// decides on what the account has (the session cap, "was this you?") runs alone among
/// the account's writers. On SQLite every writer is alone already (`BEGIN IMMEDIATE`).
pub(super) async fn lock_account(txn: &DatabaseTransaction, user_id: &str) -> Result<(), DbErr> {
    account_cursor::Entity::insert(account_cursor::ActiveModel {
        user_id: Set(user_id.to_owned()),
        last_seq: Set(0),
    })
    .on_conflict(
        OnConflict::column(account_cursor::Column::UserId)
            .value(
                account_cursor::Column::LastSeq,
                Expr::col((account_cursor::Entity, account_cursor::Column::LastSeq)),
            )
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Gives each account's events in `rows` the next positions of that account, in the order
/// they were recorded, and returns each account's new head. The cursor row stays locked
/// until `txn` ends, so another transaction writing the same account's events waits here
/// and commits after this one: positions follow commit order. Accounts are taken in one
/// order, so two transactions can never each hold the cursor the other waits for.
async fn assign_positions(
    txn: &DatabaseTransaction,
    rows: &mut [account_event::Model],
) -> Result<Vec<AccountHead>, DbErr> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows.iter() {
        *counts.entry(row.user_id.clone()).or_default() += 1;
    }
    let mut heads = Vec::with_capacity(counts.len());
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for (user_id, count) in counts {
        let cursor = account_cursor::Entity::insert(account_cursor::ActiveModel {
            user_id: Set(user_id.clone()),
            last_seq: Set(count),
        })
        .on_conflict(
            OnConflict::column(account_cursor::Column::UserId)
                .value(
                    account_cursor::Column::LastSeq,
                    Expr::col((account_cursor::Entity, account_cursor::Column::LastSeq)).add(count),
                )
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?;
        next.insert(user_id.clone(), cursor.last_seq - count + 1);
        heads.push(AccountHead {
            user_id,
            seq: cursor.last_seq,
        });
    }
    for row in rows {
        let seq = next
            .get_mut(&row.user_id)
            .expect("every account was counted");
        row.seq = *seq;
        *seq += 1;
    }
    Ok(heads)
}
