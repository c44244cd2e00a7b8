//! Events that stay in this process: for SQLite, which one instance serves. The committing
//! request wakes the delivery itself, so there is nothing to carry and nothing to hear.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::transport::{Relay, Transport};

/// The transport of a single instance.
pub struct InProcess;

impl Transport for InProcess {
    fn connected_at_start(&self) -> bool {
        true
    }

    fn listen(
        self: Arc<Self>,
        _relay: Relay,
        _shutdown: CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
