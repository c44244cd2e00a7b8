//! How many subscription connections each session holds, to cap them: in this instance,
//! and, with Redis configured, across every instance.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::{Script, aio::ConnectionManager};
use uuid::Uuid;

use crate::shared_redis::{REDIS_TIMEOUT, SharedRedis, ask_redis};

/// How long a connection's place in Redis lasts unless renewed: an instance that dies
/// without giving its places back frees them after this.
const SHARED_PLACE_LIFETIME: Duration = Duration::from_secs(60);
/// How often a connection renews its place in Redis: a few times within its lifetime.
pub(super) const RENEW_EVERY: Duration = Duration::from_secs(20);

/// Drops the session's expired places, then takes one if fewer than ARGV[2] are held.
/// ARGV: the place's id, the cap, its lifetime in ms. Scores are expiry times on Redis's
/// own clock, so the instances' clocks need not agree. Returns 1 when claimed.
const CLAIM: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// The places every instance shares, in Redis.
pub struct SharedSlots {
    redis: ConnectionManager,
    prefix: String,
    claim: Script,
}

impl SharedSlots {
    /// Slots in the deployment's Redis, under keys of its prefix.
    pub fn new(redis: &SharedRedis) -> Self {
        Self {
            redis: redis.connection.clone(),
            prefix: format!("{}:sockets", redis.prefix),
            claim: Script::new(CLAIM),
        }
    }

    fn key(&self, session_id: Uuid) -> String {
        format!("{}:{session_id}", self.prefix)
    }

    /// Takes (or renews) place `place` of the session; `None` when Redis did not answer,
    /// and the instance's own count decides.
    async fn claim(&self, session_id: Uuid, place: Uuid, cap: usize) -> Option<bool> {
        let mut invocation = self.claim.key(self.key(session_id));
        invocation
            .arg(place.to_string())
            .arg(cap)
            .arg(SHARED_PLACE_LIFETIME.as_millis() as u64);
        match ask_redis::<i64>(&invocation, &self.redis).await {
            Ok(claimed) => Some(claimed == 1),
            Err(error) => {
                tracing::debug!(%error, "cannot count a session's connections in Redis");
                None
            }
        }
    }
}

/// How many connections each session has open, to cap them.
pub struct ConnectionSlots {
    open: Mutex<HashMap<Uuid, usize>>,
    per_session: usize,
    shared: Option<Arc<SharedSlots>>,
}

/// One claimed connection; gives its place back when dropped.
pub(super) struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    session_id: Uuid,
    /// Its place among the session's connections in Redis.
    place: Uuid,
}

impl ConnectionSlots {
    /// At most `per_session` connections per session, counted across instances through
    /// `shared` when given.
    pub fn new(per_session: usize, shared: Option<SharedSlots>) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            per_session,
            shared: shared.map(Arc::new),
        }
    }

    pub(super) async fn claim(self: &Arc<Self>, session_id: Uuid) -> Option<ConnectionSlot> {
        let slot = self.claim_here(session_id)?;
        if let Some(shared) = &self.shared
            && shared.claim(session_id, slot.place, self.per_session).await == Some(false)
        {
            // Dropping the slot gives back the local place, and the shared one it never got.
            return None;
        }
        Some(slot)
    }

    fn claim_here(self: &Arc<Self>, session_id: Uuid) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().expect("connection slots poisoned");
        let count = open.entry(session_id).or_insert(0);
        if *count >= self.per_session {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            session_id,
            place: Uuid::new_v4(),
        })
    }
}

impl ConnectionSlot {
    /// Keeps the connection's shared place from expiring; called well within its lifetime.
    pub(super) async fn renew(&self) {
        if let Some(shared) = &self.slots.shared {
            // Renewing an existing place never counts against the cap.
            shared
                .claim(self.session_id, self.place, self.slots.per_session)
                .await;
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("connection slots poisoned");
        if let Some(count) = open.get_mut(&self.session_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.session_id);
            }
        }
        drop(open);
        if let Some(shared) = self.slots.shared.clone() {
            let (key, place) = (shared.key(self.session_id), self.place.to_string());
            let mut redis = shared.redis.clone();
            // If this fails, the place expires by itself.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(
                    REDIS_TIMEOUT,
                    redis::cmd("ZREM")
                        .arg(key)
                        .arg(place)
                        .exec_async(&mut redis),
                )
                .await;
            });
        }
    }
}
