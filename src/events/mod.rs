//! Committed account events, carried to every live subscriber of this instance, each
//! account's on a channel of its own ([`fanout`]).
//!
//! Events are rows. Each account's events are numbered 1, 2, 3, … in commit order (the
//! service layer assigns the positions in the transaction that writes them), so what an
//! instance delivers is always "everything after the last position it delivered", read
//! from the table by one task per instance ([`delivery`]). A transport only wakes that
//! task up with an [`AccountHead`]: the account and its latest position.
//! - **In process** (SQLite, one instance): the committing request wakes it after commit
//!   ([`in_process`]).
//! - **PostgreSQL** (any number of instances): each transaction also queues one
//!   `pg_notify` per account it wrote events for. PostgreSQL delivers notifications only
//!   on commit and drops them on rollback; every instance LISTENs ([`postgres`]). When
//!   the listening connection drops, every account's head is read again once it is back,
//!   and what was missed is replayed from the table.
//! - **Redis** (deployments that outgrow NOTIFY): heads are published after commit, and
//!   every instance also re-reads its accounts' heads every few seconds, since Redis
//!   pub/sub may lose a message ([`redis`]).
//!
//! Each is a [`Transport`], chosen once at start-up; its listener tells the bus what it
//! hears through a [`Relay`].

mod changes;
mod delivery;
mod fanout;
mod in_process;
mod postgres;
mod redis;
pub mod store;
mod transport;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};
use entity::{account_event, account_event::EventKind, session, session::EndReason};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use changes::ChangeStamp;
pub use fanout::{AccountFeed, MAX_CATCH_UP, SessionEndWatch, TooFarBehind};
pub use in_process::InProcess;
pub use postgres::PostgresTransport;
pub use redis::RedisTransport;
pub use transport::{Relay, Transport};

/// One committed account event as subscribers receive it: the stored row, and the session
/// it is about as read once for every subscriber of this instance.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    pub record: account_event::Model,
    /// For events about a session (started, ended), unless it has been deleted since.
    pub session: Option<session::Model>,
}

impl AccountEvent {
    /// The event's position in its account's history.
    pub fn seq(&self) -> i64 {
        self.record.seq
    }

    pub fn kind(&self) -> EventKind {
        self.record.kind
    }

    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.record.occurred_at
    }

    /// Why the session ended, for `SessionEnded`.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.record.end_reason()
    }

    /// Whether this event ends the session `session_id`.
    pub fn ends_session(&self, session_id: Uuid) -> bool {
        self.kind() == EventKind::SessionEnded && self.record.session_id == Some(session_id)
    }
}

/// An account's events have committed up to position `seq`: all a transport carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHead {
    pub user_id: String,
    pub seq: i64,
}

/// Fan-out of committed account events to this instance's live subscribers.
#[derive(Clone)]
pub struct EventBus {
    fanout: Arc<fanout::Fanout>,
    wakeups: Arc<delivery::Wakeups>,
    changes: Arc<changes::Changes>,
    db: DatabaseConnection,
    transport: Arc<dyn Transport>,
    /// Whether events from other instances can arrive right now (always, in process).
    connected: Arc<AtomicBool>,
}

impl EventBus {
    /// A bus whose events travel by `transport` (see [`transport`]).
    pub fn new(db: DatabaseConnection, transport: Arc<dyn Transport>) -> Self {
        Self {
            fanout: Arc::new(fanout::Fanout::new(db.clone())),
            wakeups: Arc::default(),
            changes: Arc::new(changes::Changes::new(transport.resync_every())),
            db,
            connected: Arc::new(AtomicBool::new(transport.connected_at_start())),
            transport,
        }
    }

    /// Starts delivering committed events to this instance's subscribers, and listening
    /// for those committed by other instances, until `shutdown`. Returns once listening.
    pub async fn start(&self, shutdown: CancellationToken) {
        tokio::spawn(self.clone().deliver(shutdown.clone()));
        let relay = transport::Relay::new(self.clone());
        self.transport.clone().listen(relay, shutdown).await;
    }

    /// Whether the transport is connected, so events committed anywhere reach this
    /// instance's subscribers.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::SeqCst);
    }

    /// `user_id`'s change counters now, to tell later whether the account may have changed
    /// ([`EventBus::unchanged_since`]); `None` while the transport is down, when nothing
    /// committed elsewhere can be heard of.
    pub fn change_stamp(&self, user_id: &str) -> Option<ChangeStamp> {
        self.is_connected().then(|| self.changes.stamp(user_id))
    }

    /// Whether this instance has heard of no event of `stamp`'s account since the stamp
    /// was taken, and could have: the transport is connected and has not dropped since.
    pub fn unchanged_since(&self, stamp: &ChangeStamp) -> bool {
        self.is_connected() && self.changes.unchanged_since(stamp)
    }

    /// An account committed events up to `head`: what this instance knew of it is out of
    /// date, and its subscribers here get the events.
    fn heard(&self, head: &AccountHead) {
        self.changes.changed(&head.user_id);
        self.wakeups.wake(&head.user_id, head.seq);
    }

    /// The transport dropped: events of any account may have been missed. What this
    /// instance knew of accounts is out of date, and every subscriber's account is
    /// replayed.
    fn lost_track(&self) {
        self.changes.lost_track();
        self.resync();
    }

    /// Every subscriber's account is read again, in case a wake-up was lost.
    fn resync(&self) {
        self.wakeups.resync();
    }

    /// `user_id`'s events committed from now on.
    pub async fn subscribe(&self, user_id: &str) -> Result<AccountFeed, DbErr> {
        self.listen(user_id, &fanout::Feed).await
    }

    /// A watch for the end of `user_id`'s session `session_id`, committed from now on.
    pub async fn watch_session_end(
        &self,
        user_id: &str,
        session_id: Uuid,
    ) -> Result<SessionEndWatch, DbErr> {
        self.listen(user_id, &fanout::EndOf(session_id)).await
    }

    /// `what` listens to `user_id`'s events committed from now on. Reads the account's
    /// position when nothing listens to it on this instance yet.
    async fn listen<L: fanout::Listen>(
        &self,
        user_id: &str,
        what: &L,
    ) -> Result<L::Listener, DbErr> {
        if let Some(listener) = self.fanout.join(user_id, what) {
            return Ok(listener);
        }
        let head = store::head(&self.db, user_id).await?;
        Ok(self.fanout.open(user_id, head, what))
    }

    /// How many live subscriptions and connections are listening right now.
    pub fn subscriber_count(&self) -> usize {
        self.fanout.subscriber_count()
    }

    /// Hands the heads of a transaction's events to the transport inside that
    /// transaction, so a transport that publishes through the database publishes exactly
    /// what commits.
    pub async fn stage(
        &self,
        txn: &DatabaseTransaction,
        heads: &[AccountHead],
    ) -> Result<(), DbErr> {
        self.transport.stage(txn, heads).await
    }

    /// Delivers a transaction's events here once it has committed; other instances hear
    /// of them from the transport.
    pub fn committed(&self, heads: &[AccountHead]) {
        for head in heads {
            self.heard(head);
        }
        self.transport.committed(heads);
    }
}
