//! How account heads travel between instances: one [`Transport`] per backend, each in a
//! file of its own (`in_process.rs`, `postgres.rs`, `redis.rs`), chosen once at start-up
//! (`app::event_transport`). A transport's listener tells the bus what it heard through a
//! [`Relay`], never through the bus's own state.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseTransaction, DbErr};
use tokio_util::sync::CancellationToken;

use super::{AccountHead, EventBus};

/// One way for instances to hear of each other's commits. Each step has a default that
/// does nothing, so a backend states only what it does.
pub trait Transport: Send + Sync + 'static {
    /// Inside the publishing transaction: a transport that publishes through the database
    /// publishes exactly what commits (PostgreSQL's NOTIFY).
    fn stage<'a>(
        &'a self,
        _txn: &'a DatabaseTransaction,
        _heads: &'a [AccountHead],
    ) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(async { Ok(()) })
    }

    /// After commit, for a transport outside the transaction (Redis' PUBLISH).
    fn committed(&self, _heads: &[AccountHead]) {}

    /// How often every subscribed account's head is read again, for a transport that may
    /// lose a wake-up; `None` for one that never does.
    fn resync_every(&self) -> Option<Duration> {
        None
    }

    /// Whether events committed anywhere reach this instance before [`Transport::listen`]
    /// (in process: there is nowhere else).
    fn connected_at_start(&self) -> bool {
        false
    }

    /// Starts relaying what other instances commit, until `shutdown`; returns once
    /// listening, so nothing committed afterwards is missed.
    fn listen(self: Arc<Self>, relay: Relay, shutdown: CancellationToken)
    -> BoxFuture<'static, ()>;
}

/// What a transport's listener may tell the bus.
#[derive(Clone)]
pub struct Relay(EventBus);

impl Relay {
    pub(super) fn new(bus: EventBus) -> Self {
        Self(bus)
    }

    /// An account committed events up to `head`.
    pub fn heard(&self, head: &AccountHead) {
        self.0.heard(head);
    }

    /// The transport may have missed events of any account: every subscriber's account is
    /// read again.
    pub fn lost_track(&self) {
        self.0.lost_track();
    }

    /// Every subscriber's account is read again, in case a wake-up was lost.
    pub fn resync(&self) {
        self.0.resync();
    }

    /// Whether events committed anywhere reach this instance right now.
    pub fn set_connected(&self, connected: bool) {
        self.0.set_connected(connected);
    }
}
