//! The Redis that instances share events, rate limits and connection slots through: its
//! connections, the prefix of every key and channel, and one bounded way to ask it. The
//! event transport (`events::RedisTransport`), the shared rate limits
//! (`service::rate_limit::SharedBuckets`) and the websocket connection slots
//! (`http::websocket::SharedSlots`) all take it from here.

use std::time::Duration;

use redis::{Client, FromRedisValue, RedisError, ScriptInvocation, aio::ConnectionManager};

/// Longest a check of a shared limit (a rate, the connection cap) waits for Redis before
/// the instance's own count decides instead.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// A deployment's Redis.
#[derive(Clone)]
pub struct SharedRedis {
    /// For subscriptions, which need connections of their own.
    pub client: Client,
    /// The multiplexed connection every command goes through.
    pub connection: ConnectionManager,
    /// Prefix of every key and channel, so several deployments can share one Redis.
    pub prefix: String,
}

impl SharedRedis {
    /// Connects to the Redis at `url`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, RedisError> {
        let client = Client::open(url)?;
        let connection = ConnectionManager::new(client.clone()).await?;
        Ok(Self {
            client,
            connection,
            prefix: prefix.to_owned(),
        })
    }
}

/// Runs `invocation` on `redis`, waiting at most [`REDIS_TIMEOUT`]; the error says why
/// there is no answer.
pub async fn ask_redis<T: FromRedisValue>(
    invocation: &ScriptInvocation<'_>,
    redis: &ConnectionManager,
) -> Result<T, String> {
    let mut redis = redis.clone();
    match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut redis)).await {
        Ok(answer) => answer.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer within {REDIS_TIMEOUT:?}")),
    }
}
