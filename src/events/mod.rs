//! Committed account events, carried to every live subscriber of this instance, each
//! account's on a channel of its own ([`fanout`]).
//!
//! The service layer records events in the transaction that makes the change (its
//! outbox) and hands them to the [`EventBus`] twice: [`EventBus::stage`] inside that
//! transaction, [`EventBus::committed`] after it. Each transport uses the moment it needs:
//! - **In process** (SQLite, one instance): events go to a local broadcast after commit.
//! - **PostgreSQL** (any number of instances): each event is a `pg_notify` inside the
//!   transaction. PostgreSQL delivers notifications only when the transaction commits, in
//!   commit order, and drops them on rollback; every instance (the publishing one too)
//!   LISTENs and feeds its local broadcast ([`postgres`]). When the listening connection
//!   drops, events may have been missed, so a [`BusMessage::Resync`] tells every live
//!   connection to re-check its session in the database.

mod fanout;
mod postgres;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session::EndReason};
use sea_orm::{DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use fanout::{AccountFeed, Lagged};

/// One state change of an account, as published: the stored row's identity and what
/// subscribers filter on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl AccountEvent {
    /// The published form of a stored account event.
    pub fn of(row: &account_event::Model) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id.clone(),
            kind: row.kind,
            actor_session_id: row.actor_session_id,
            device_id: row.device_id,
            session_id: row.session_id,
            end_reason: row.end_reason(),
            occurred_at: row.occurred_at,
        }
    }

    /// Whether this event ends the session `session_id`.
    pub fn ends_session(&self, session_id: Uuid) -> bool {
        self.kind == EventKind::SessionEnded && self.session_id == Some(session_id)
    }
}

/// What live subscribers receive.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// A committed account event.
    Event(Arc<AccountEvent>),
    /// Events may have been lost (the PostgreSQL listener reconnected): re-check state.
    Resync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    InProcess,
    Postgres,
}

/// Fan-out of committed account events to this instance's live subscribers.
#[derive(Clone)]
pub struct EventBus {
    fanout: Arc<fanout::Fanout>,
    transport: Transport,
    /// Whether events from other instances can arrive right now (always, in process).
    connected: Arc<AtomicBool>,
}

impl EventBus {
    /// Events stay in this process: for SQLite, which one instance serves.
    pub fn in_process() -> Self {
        Self::new(Transport::InProcess)
    }

    /// Events travel through PostgreSQL to every instance; [`EventBus::start_listening`]
    /// must run.
    pub fn postgres() -> Self {
        Self::new(Transport::Postgres)
    }

    fn new(transport: Transport) -> Self {
        Self {
            fanout: Arc::default(),
            connected: Arc::new(AtomicBool::new(transport == Transport::InProcess)),
            transport,
        }
    }

    /// Whether the transport is connected, so events committed anywhere reach this
    /// instance's subscribers.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// The committed events of `user_id`'s account from now on, and resyncs.
    pub fn subscribe(&self, user_id: &str) -> AccountFeed {
        self.fanout.subscribe(user_id)
    }

    /// How many live subscriptions and connections are listening right now.
    pub fn subscriber_count(&self) -> usize {
        self.fanout.subscriber_count()
    }

    fn broadcast(&self, message: BusMessage) {
        match message {
            BusMessage::Event(event) => self.fanout.publish(event),
            BusMessage::Resync => self.fanout.resync_all(),
        }
    }

    /// Hands `events` to the transport inside the transaction that records them, so a
    /// transport that publishes through the database publishes exactly what commits.
    pub async fn stage(
        &self,
        txn: &DatabaseTransaction,
        events: &[AccountEvent],
    ) -> Result<(), DbErr> {
        match self.transport {
            Transport::InProcess => Ok(()),
            Transport::Postgres => postgres::notify(txn, events).await,
        }
    }

    /// Publishes `events` once their transaction has committed.
    pub fn committed(&self, events: Vec<AccountEvent>) {
        if self.transport == Transport::InProcess {
            for event in events {
                self.broadcast(BusMessage::Event(Arc::new(event)));
            }
        }
    }
}
