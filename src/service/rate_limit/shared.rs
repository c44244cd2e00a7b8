//! Rate limits shared by every instance, kept in Redis: the same GCRA as the local buckets,
//! run atomically by a script, so N instances grant the limit once, not N times.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use redis::{Script, aio::ConnectionManager};

use crate::shared_redis::{SharedRedis, ask_redis};

/// GCRA over one key. ARGV: now, the emission interval (a minute over the rate) and the
/// burst tolerance, in microseconds. The key holds the theoretical arrival time and expires
/// when the bucket is full again. Returns -1 when allowed, else microseconds to wait.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return math.ceil(allowed_at - now) end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return -1
";

pub struct SharedBuckets {
    redis: ConnectionManager,
    prefix: String,
    script: Script,
    /// Whether the last check failed: outages are logged when they start and end, not
    /// once per request.
    unreachable: AtomicBool,
}

impl SharedBuckets {
    /// Buckets in the deployment's Redis, under keys of its prefix.
    pub fn new(redis: &SharedRedis) -> Self {
        Self {
            redis: redis.connection.clone(),
            prefix: format!("{}:rate", redis.prefix),
            script: Script::new(GCRA),
            unreachable: AtomicBool::new(false),
        }
    }

    /// Counts one use of `key` in the bucket `kind` at `now` (since the Unix epoch):
    /// `Err(wait)` when refused. `None` when Redis did not answer in time: the caller
    /// decides with its own buckets rather than fail every request while Redis is down.
    pub(super) async fn check(
        &self,
        kind: &str,
        key: &str,
        per_minute: NonZeroU32,
        now: Duration,
    ) -> Option<Result<(), Duration>> {
        let interval = 60_000_000 / u64::from(per_minute.get());
        let tolerance = interval * u64::from(per_minute.get() - 1);
        let mut invocation = self.script.key(format!("{}:{kind}:{key}", self.prefix));
        invocation
            .arg(now.as_micros() as u64)
            .arg(interval)
            .arg(tolerance);
        let answer = ask_redis::<i64>(&invocation, &self.redis).await;
        match answer {
            Ok(wait) => {
                if self.unreachable.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again; rate limits are shared again");
                }
                Some(match u64::try_from(wait) {
                    Ok(wait) => Err(Duration::from_micros(wait)),
                    Err(_) => Ok(()),
                })
            }
            Err(error) => {
                if !self.unreachable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "Redis is unreachable; rate limits are per instance until it is back");
                }
                None
            }
        }
    }
}
