//! Account events: the user's security log, written in the same transaction as the change
//! it records, and pushed to live subscribers only once that transaction has committed.
//!
//! Two transports, one publishing path ([`EventLog::commit`]):
//! - **In process** (SQLite, one instance): events go to a local broadcast after commit.
//! - **PostgreSQL** (any number of instances): each event is a `pg_notify` inside the
//!   transaction. PostgreSQL delivers notifications only when the transaction commits, in
//!   commit order, and drops them on rollback; every instance (the publishing one too)
//!   LISTENs and feeds its local broadcast. When the listening connection drops, events
//!   may have been missed, so a [`BusMessage::Resync`] tells every live connection to
//!   re-check its session in the database.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session::EndReason};
use sea_orm::{
    ActiveEnum, ActiveValue::Set, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr,
    EntityTrait, Statement, sqlx::postgres::PgListener,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Actor, ClientInfo};

/// How many messages a slow subscriber may fall behind before it is told it lagged.
/// Events are small; 1024 absorbs a burst such as revoking a few hundred sessions.
const BUS_CAPACITY: usize = 1024;
/// The PostgreSQL notification channel all instances share.
const CHANNEL: &str = "sessionhub_account_events";
/// Pause before reconnecting a listener whose connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// One state change of an account, as recorded and as published.
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
    sender: broadcast::Sender<BusMessage>,
    transport: Transport,
}

impl EventBus {
    /// Events stay in this process: for SQLite, which one instance serves.
    pub fn in_process() -> Self {
        Self::new(Transport::InProcess)
    }

    /// Events travel through PostgreSQL to every instance; [`EventBus::listen`] must run.
    pub fn postgres() -> Self {
        Self::new(Transport::Postgres)
    }

    fn new(transport: Transport) -> Self {
        let (sender, _) = broadcast::channel(BUS_CAPACITY);
        Self { sender, transport }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.sender.subscribe()
    }

    /// How many live subscriptions and connections are listening right now.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    fn broadcast(&self, message: BusMessage) {
        // An error only means nobody is listening right now, which is fine.
        let _ = self.sender.send(message);
    }

    /// Starts relaying events from PostgreSQL to this instance's subscribers, until
    /// `shutdown`. Returns once LISTEN is in place, so nothing committed afterwards is missed.
    pub async fn start_listening(self, database_url: String, shutdown: CancellationToken) {
        let Some(listener) = self.connect_listener(&database_url, &shutdown).await else {
            return;
        };
        tokio::spawn(self.relay(listener, database_url, shutdown));
    }

    /// A listener on our channel, retrying until it connects; `None` on shutdown.
    async fn connect_listener(
        &self,
        database_url: &str,
        shutdown: &CancellationToken,
    ) -> Option<PgListener> {
        loop {
            let connected = async {
                let mut listener = PgListener::connect(database_url).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            };
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                connected = connected => match connected {
                    Ok(listener) => return Some(listener),
                    Err(error) => tracing::warn!(%error, "cannot listen for account events; retrying"),
                },
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(RECONNECT_DELAY) => {}
            }
        }
    }

    async fn relay(
        self,
        mut listener: PgListener,
        database_url: String,
        shutdown: CancellationToken,
    ) {
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    match serde_json::from_str::<AccountEvent>(notification.payload()) {
                        Ok(event) => self.broadcast(BusMessage::Event(Arc::new(event))),
                        Err(error) => tracing::warn!(%error, "ignoring a malformed account event"),
                    }
                }
                // The connection dropped and was re-established: events may be lost.
                Ok(None) => {
                    tracing::warn!("account event connection was lost and re-established");
                    self.broadcast(BusMessage::Resync);
                }
                Err(error) => {
                    tracing::warn!(%error, "account event listener failed; reconnecting");
                    let Some(reconnected) = self.connect_listener(&database_url, &shutdown).await
                    else {
                        return;
                    };
                    listener = reconnected;
                    self.broadcast(BusMessage::Resync);
                }
            }
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

    /// Writes the events into `txn`, commits it, and publishes them through `bus`.
    pub async fn commit(self, txn: DatabaseTransaction, bus: &EventBus) -> Result<(), DbErr> {
        if self.rows.is_empty() {
            return txn.commit().await;
        }
        account_event::Entity::insert_many(self.rows)
            .exec_without_returning(&txn)
            .await?;
        if bus.transport == Transport::Postgres {
            for event in &self.events {
                let payload = serde_json::to_string(event)
                    .map_err(|e| DbErr::Custom(format!("cannot encode an event: {e}")))?;
                txn.execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await?;
            }
        }
        txn.commit().await?;
        if bus.transport == Transport::InProcess {
            for event in self.events {
                bus.broadcast(BusMessage::Event(Arc::new(event)));
            }
        }
        Ok(())
    }
}
