//! The PostgreSQL transport: one `pg_notify` per account inside the publishing
//! transaction, and one LISTEN connection per instance that wakes its delivery up.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement,
    sqlx::postgres::PgListener,
};
use tokio_util::sync::CancellationToken;

use super::{
    AccountHead,
    transport::{Relay, Transport},
};

/// The PostgreSQL notification channel all instances share.
const CHANNEL: &str = "sessionhub_account_events";
/// Pause before reconnecting a listener whose connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// PostgreSQL's NOTIFY, listened to on a connection of its own to `database_url`.
pub struct PostgresTransport {
    database_url: String,
}

impl PostgresTransport {
    pub fn new(database_url: String) -> Self {
        Self { database_url }
    }
}

impl Transport for PostgresTransport {
    fn stage<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        heads: &'a [AccountHead],
    ) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(notify(txn, heads))
    }

    fn listen(
        self: Arc<Self>,
        relay: Relay,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(listener) = connect_listener(&self.database_url, &shutdown).await else {
                return;
            };
            relay.set_connected(true);
            tokio::spawn(self.relay(relay, listener, shutdown));
        })
    }
}

/// Queues one notification per account; PostgreSQL sends them when `txn` commits. The
/// payload is an account and a position, far below PostgreSQL's 8000-byte cap.
async fn notify(txn: &DatabaseTransaction, heads: &[AccountHead]) -> Result<(), DbErr> {
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

impl PostgresTransport {
    /// Tells `relay` of each head heard, and reconnects when the connection drops.
    async fn relay(
        self: Arc<Self>,
        relay: Relay,
        mut listener: PgListener,
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
                        Ok(head) => relay.heard(&head),
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
                    relay.set_connected(false);
                    let Some(reconnected) = connect_listener(&self.database_url, &shutdown).await
                    else {
                        return;
                    };
                    listener = reconnected;
                    relay.lost_track();
                    relay.set_connected(true);
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
