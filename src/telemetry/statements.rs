//! How many SQL statements an instance has run: what shows that a request needed none, in
//! the tests and in the metrics. On request it also keeps the statements themselves, so a
//! test can ask the database how it plans each one.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sea_orm::{DatabaseConnection, Statement};

/// How many SQL statements an instance has run since it started (migrations aside): what
/// shows that a request needed none.
#[derive(Clone, Default)]
pub struct StatementCount(Arc<Counted>);

#[derive(Default)]
struct Counted {
    count: AtomicU64,
    /// Whether to keep each statement run; off but for tests, which turn it on.
    capturing: AtomicBool,
    captured: Mutex<Vec<Statement>>,
}

impl StatementCount {
    /// Counts every statement `db` runs from now on, in transactions or not.
    pub fn attach(&self, db: &mut DatabaseConnection) {
        let counted = self.0.clone();
        db.set_metric_callback(move |info| {
            counted.count.fetch_add(1, Ordering::Relaxed);
            if counted.capturing.load(Ordering::Relaxed)
                && let Ok(mut captured) = counted.captured.lock()
            {
                captured.push(info.statement.clone());
            }
        });
    }

    pub fn get(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// Keeps every statement run from now on, until [`Self::captured`] takes them.
    pub fn capture(&self) {
        self.0.capturing.store(true, Ordering::Relaxed);
    }

    /// The statements kept since [`Self::capture`], which stops keeping them.
    pub fn captured(&self) -> Vec<Statement> {
        self.0.capturing.store(false, Ordering::Relaxed);
        self.0
            .captured
            .lock()
            .map(|mut captured| std::mem::take(&mut *captured))
            .unwrap_or_default()
    }
}
