//! The Redis transport, for deployments that outgrow one database's NOTIFY: after commit,
//! the publishing instance PUBLISHes each account's head; every instance SUBSCRIBEs and
//! wakes its delivery.
//!
//! Redis pub/sub delivers at most once: a publish that fails, or a crash between commit and
//! publish, loses the wake-up. Rows stay the truth, so each instance also re-reads every
//! subscribed account's head every [`RESYNC_INTERVAL`] and whenever its subscription
//! reconnects: a lost wake-up delays events by at most that, and never loses them.

use std::time::Duration;

use futures_util::StreamExt;
use redis::{AsyncCommands, Client, RedisError, aio::ConnectionManager};
use tokio_util::sync::CancellationToken;

use super::{AccountHead, EventBus};

/// How often every subscribed account's head is read again, in case a wake-up was lost.
pub(super) const RESYNC_INTERVAL: Duration = Duration::from_secs(2);
/// Pause before subscribing again after the subscription connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Where heads are published, and the connection that publishes them.
#[derive(Clone)]
pub struct RedisTransport {
    client: Client,
    publisher: ConnectionManager,
    channel: String,
}

impl RedisTransport {
    /// Publishes through `publisher` and subscribes through `client`, on a channel named
    /// after `prefix`.
    pub fn new(client: Client, publisher: ConnectionManager, prefix: &str) -> Self {
        Self {
            client,
            publisher,
            channel: format!("{prefix}:account-heads"),
        }
    }

    /// Publishes `heads` in the background; a failure is logged, and the other instances'
    /// resync delivers the events anyway.
    pub(super) fn publish(&self, heads: &[AccountHead]) {
        let payloads: Vec<String> = heads
            .iter()
            .filter_map(|head| serde_json::to_string(head).ok())
            .collect();
        let (mut publisher, channel) = (self.publisher.clone(), self.channel.clone());
        tokio::spawn(async move {
            for payload in payloads {
                if let Err(error) = publisher.publish::<_, _, ()>(&channel, payload).await {
                    tracing::warn!(%error, "cannot publish an account head to Redis");
                    return;
                }
            }
        });
    }
}

impl EventBus {
    /// Starts waking this instance's delivery from Redis, until `shutdown`. Returns once
    /// subscribed (or after the first failed attempt, which is retried in the background).
    pub async fn start_listening_to_redis(
        self,
        redis: RedisTransport,
        shutdown: CancellationToken,
    ) {
        let subscription = subscribe(&redis).await;
        tokio::spawn(self.relay_redis(redis, subscription, shutdown));
    }

    async fn relay_redis(
        self,
        redis: RedisTransport,
        mut subscription: Result<redis::aio::PubSub, RedisError>,
        shutdown: CancellationToken,
    ) {
        let mut resync = tokio::time::interval(RESYNC_INTERVAL);
        loop {
            let pubsub = match subscription {
                Ok(pubsub) => pubsub,
                Err(error) => {
                    self.set_connected(false);
                    tracing::warn!(%error, "cannot subscribe to account heads in Redis; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                    }
                    subscription = subscribe(&redis).await;
                    continue;
                }
            };
            // Subscribed: what committed while we were not is read back now.
            self.lost_track();
            self.set_connected(true);
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = resync.tick() => self.wakeups.resync(),
                    message = messages.next() => match message {
                        Some(message) => match message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|payload| serde_json::from_str::<AccountHead>(&payload).ok())
                        {
                            Some(head) => self.heard(&head),
                            None => tracing::warn!("ignoring a malformed account head from Redis"),
                        },
                        None => break,
                    },
                }
            }
            tracing::warn!("the Redis subscription was lost; reconnecting");
            self.set_connected(false);
            subscription = subscribe(&redis).await;
        }
    }
}

async fn subscribe(redis: &RedisTransport) -> Result<redis::aio::PubSub, RedisError> {
    let mut pubsub = redis.client.get_async_pubsub().await?;
    pubsub.subscribe(&redis.channel).await?;
    Ok(pubsub)
}
