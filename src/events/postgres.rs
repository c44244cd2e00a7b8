//! The PostgreSQL transport: one `pg_notify` per account inside the publishing
//! transaction, and one LISTEN connection per instance that wakes its delivery up.

use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement,
    sqlx::postgres::PgListener,
};
use tokio_util::sync::CancellationToken;

use super::{AccountHead, EventBus};

/// The PostgreSQL notification channel all instances share.
const CHANNEL: &str = "sessionhub_account_events";
/// Pause before reconnecting a listener whose connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Queues one notification per account; PostgreSQL sends them when `txn` commits. The
/// payload is an account and a position, far below PostgreSQL's 8000-byte cap.
pub(super) async fn notify(txn: &DatabaseTransaction, heads: &[AccountHead]) -> Result<(), DbErr> {
    for head in heads {
        let payload = serde_json::to_string(head)
            .map_err(|e| DbErr::Custom(format!("cannot encode an account head: {e}")))?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

impl EventBus {
    /// Starts waking this instance's delivery for events committed anywhere, until
    /// `shutdown`. Returns once LISTEN is in place, so nothing committed afterwards is missed.
    pub async fn start_listening(self, database_url: String, shutdown: CancellationToken) {
        let Some(listener) = connect_listener(&database_url, &shutdown).await else {
            return;
        };
        self.set_connected(true);
        tokio::spawn(self.relay(listener, database_url, shutdown));
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
                    match serde_json::from_str::<AccountHead>(notification.payload()) {
                        Ok(head) => self.heard(&head),
                        Err(error) => tracing::warn!(%error, "ignoring a malformed account head"),
                    }
                }
                // The connection dropped (`None`) or failed. Listen again on a fresh one,
                // and only then read every account's head: what committed meanwhile was
                // missed, and a read before LISTEN is back could miss more.
                lost => {
                    match lost {
                        Ok(_) => tracing::warn!("account event connection was lost; reconnecting"),
                        Err(error) => {
                            tracing::warn!(%error, "account event listener failed; reconnecting")
                        }
                    }
                    self.set_connected(false);
                    let Some(reconnected) = connect_listener(&database_url, &shutdown).await else {
                        return;
                    };
                    listener = reconnected;
                    self.lost_track();
                    self.set_connected(true);
                }
            }
        }
    }
}

/// A listener on our channel, retrying until it connects; `None` on shutdown.
async fn connect_listener(database_url: &str, shutdown: &CancellationToken) -> Option<PgListener> {
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
