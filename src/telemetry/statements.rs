//! How many SQL statements an instance has run: what shows that a request needed none, in
//! the tests and in the metrics.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;

/// How many SQL statements an instance has run since it started (migrations aside): what
/// shows that a request needed none.
#[derive(Clone, Default)]
pub struct StatementCount(Arc<AtomicU64>);

impl StatementCount {
    /// Counts every statement `db` runs from now on, in transactions or not.
    pub fn attach(&self, db: &mut DatabaseConnection) {
        let count = self.0.clone();
        db.set_metric_callback(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
