//! Where "now" comes from. Services read time only through [`Clock`], so tests can move
//! time forward to check idle timeouts, lifetimes and trust expiry without sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once this clock reads `at` or later.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// Truncates to whole microseconds, the precision PostgreSQL stores, so a timestamp
/// reads back exactly as it was written on both databases.
fn to_storage_precision(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .duration_trunc(Duration::microseconds(1))
        .unwrap_or(instant)
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_storage_precision(Utc::now())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until told to move; for tests. Sleepers wake when it is
/// moved past their moment.
#[derive(Debug)]
pub struct MockClock {
    now: Mutex<DateTime<Utc>>,
    moved: watch::Sender<DateTime<Utc>>,
}

impl MockClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        let start = to_storage_precision(start);
        Self {
            now: Mutex::new(start),
            moved: watch::Sender::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("mock clock poisoned");
        *now = to_storage_precision(*now + by);
        self.moved.send_replace(*now);
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("mock clock poisoned")
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; a dropped clock never reaches `at`.
            if moved.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
