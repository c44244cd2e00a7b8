//! The Redis transport, for deployments that outgrow one database's NOTIFY: after commit,
//! the publishing instance PUBLISHes each account's head; every instance SUBSCRIBEs and
//! wakes its delivery.
//!
//! Redis pub/sub delivers at most once: a publish that fails, or a crash between commit and
//! publish, loses the wake-up. Rows stay the truth, so each instance also re-reads every
//! subscribed account's head every [`RESYNC_INTERVAL`] and whenever its subscription
//! reconnects: a lost wake-up delays events by at most that, and never loses them.

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, future::BoxFuture};
use redis::{AsyncCommands, Client, RedisError, aio::ConnectionManager};
use tokio_util::sync::CancellationToken;

use super::{
    AccountHead,
    transport::{Relay, Transport},
};
use crate::shared_redis::SharedRedis;

/// How often every subscribed account's head is read again, in case a wake-up was lost.
const RESYNC_INTERVAL: Duration = Duration::from_secs(2);
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
    /// Publishes through the deployment's connection and subscribes on one of its own, on
    /// a channel named after the deployment's prefix.
    pub fn new(redis: &SharedRedis) -> Self {
        Self {
            client: redis.client.clone(),
            publisher: redis.connection.clone(),
            channel: format!("{}:account-heads", redis.prefix),
        }
    }
}

impl Transport for RedisTransport {
    /// Publishes `heads` in the background; a failure is logged, and the other instances'
    /// resync delivers the events anyway.
    fn committed(&self, heads: &[AccountHead]) {
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

    fn resync_every(&self) -> Option<Duration> {
        Some(RESYNC_INTERVAL)
    }

    /// Returns once subscribed (or after the first failed attempt, which is retried in
    /// the background).
    fn listen(
        self: Arc<Self>,
        relay: Relay,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let subscription = subscribe(&self).await;
            tokio::spawn(self.relay(relay, subscription, shutdown));
        })
    }
}

impl RedisTransport {
    /// Tells `relay` of each head heard, resyncs on a timer, and resubscribes when the
    /// subscription drops.
    async fn relay(
        self: Arc<Self>,
        relay: Relay,
        mut subscription: Result<redis::aio::PubSub, RedisError>,
        shutdown: CancellationToken,
    ) {
        let mut resync = tokio::time::interval(RESYNC_INTERVAL);
        loop {
            let pubsub = match subscription {
                Ok(pubsub) => pubsub,
                Err(error) => {
                    relay.set_connected(false);
                    tracing::warn!(%error, "cannot subscribe to account heads in Redis; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                    }
                    subscription = subscribe(&self).await;
                    continue;
                }
            };
            // Subscribed: what committed while we were not is read back now.
            relay.lost_track();
            relay.set_connected(true);
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = resync.tick() => relay.resync(),
                    message = messages.next() => match message {
                        Some(message) => match message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|payload| serde_json::from_str::<AccountHead>(&payload).ok())
                        {
                            Some(head) => relay.heard(&head),
                            None => tracing::warn!("ignoring a malformed account head from Redis"),
                        },
                        None => break,
                    },
                }
            }
            tracing::warn!("the Redis subscription was lost; reconnecting");
            relay.set_connected(false);
            subscription = subscribe(&self).await;
        }
    }
}

async fn subscribe(redis: &RedisTransport) -> Result<redis::aio::PubSub, RedisError> {
    let mut pubsub = redis.client.get_async_pubsub().await?;
    pubsub.subscribe(&redis.channel).await?;
    Ok(pubsub)
}
