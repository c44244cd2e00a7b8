//! Request rates: per client address, per session, and sign-ins per user, each a GCRA
//! bucket (the `governor` crate) that refills evenly over a minute.

use std::{
    collections::HashMap,
    hash::Hash,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};
use uuid::Uuid;

use crate::config::RateLimitConfig;

/// Refused for now; may try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: Duration,
    /// The first refusal since the key was last allowed: worth recording, where every
    /// further refusal of the same lockout is not.
    pub starts_lockout: bool,
}

impl RateLimited {
    /// Whole seconds to wait, rounded up, as `Retry-After` and `retryAfter` carry them.
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

pub struct RateLimits {
    per_client: DefaultKeyedRateLimiter<String>,
    per_session: DefaultKeyedRateLimiter<Uuid>,
    sign_ins_per_user: DefaultKeyedRateLimiter<String>,
    client_lockouts: Lockouts<String>,
    session_lockouts: Lockouts<Uuid>,
    sign_in_lockouts: Lockouts<String>,
    clock: DefaultClock,
}

/// How long a key must go without a refusal for its lockout to end. Without it a refill of
/// one request (200 ms at 300 a minute) would end the lockout, and a client pacing its
/// requests could start, and log, a new one five times a second.
const LOCKOUT_QUIET: Duration = Duration::from_secs(60);

/// The keys being refused, and until when: tells the first refusal of a lockout (worth a
/// security-log entry) from the many that follow it.
struct Lockouts<K>(Mutex<HashMap<K, Instant>>);

impl<K: Clone + Hash + Eq> Lockouts<K> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// Marks `limited` as starting a lockout when `key` was not locked out already, and
    /// extends the lockout to [`LOCKOUT_QUIET`] past this refusal.
    fn note(&self, key: &K, mut limited: RateLimited) -> RateLimited {
        let now = Instant::now();
        let mut lockouts = self.0.lock().expect("lockouts poisoned");
        let until = lockouts.entry(key.clone()).or_insert(now);
        limited.starts_lockout = *until <= now;
        *until = now + limited.retry_after.max(LOCKOUT_QUIET);
        limited
    }

    fn forget_ended(&self) {
        let now = Instant::now();
        self.0
            .lock()
            .expect("lockouts poisoned")
            .retain(|_, until| *until > now);
    }
}

fn per_minute(count: NonZeroU32) -> Quota {
    Quota::per_minute(count)
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            per_client: DefaultKeyedRateLimiter::keyed(per_minute(
                config.requests_per_minute_per_ip,
            )),
            per_session: DefaultKeyedRateLimiter::keyed(per_minute(
                config.requests_per_minute_per_session,
            )),
            sign_ins_per_user: DefaultKeyedRateLimiter::keyed(per_minute(
                config.sign_ins_per_minute_per_user,
            )),
            client_lockouts: Lockouts::new(),
            session_lockouts: Lockouts::new(),
            sign_in_lockouts: Lockouts::new(),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: Clone + Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), RateLimited> {
        limiter.check_key(key).map_err(|not_until| RateLimited {
            retry_after: not_until.wait_time_from(self.clock.now()),
            starts_lockout: false,
        })
    }

    /// Any request or websocket connection attempt from this client address.
    pub fn check_client(&self, address: &str) -> Result<(), RateLimited> {
        let address = address.to_owned();
        self.check(&self.per_client, &address)
            .map_err(|limited| self.client_lockouts.note(&address, limited))
    }

    /// Any request made with this session's token.
    pub fn check_session(&self, session_id: Uuid) -> Result<(), RateLimited> {
        self.check(&self.per_session, &session_id)
            .map_err(|limited| self.session_lockouts.note(&session_id, limited))
    }

    /// A `startSession` for this user.
    pub fn check_sign_in(&self, user_id: &str) -> Result<(), RateLimited> {
        let user_id = user_id.to_owned();
        self.check(&self.sign_ins_per_user, &user_id)
            .map_err(|limited| self.sign_in_lockouts.note(&user_id, limited))
    }

    /// Drops the buckets of keys that have been quiet long enough to be full again, so
    /// memory follows the active clients rather than every client ever seen.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_session.retain_recent();
        self.sign_ins_per_user.retain_recent();
        self.client_lockouts.forget_ended();
        self.session_lockouts.forget_ended();
        self.sign_in_lockouts.forget_ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_refusals_stay_one_lockout() {
        // 600 a minute: one request back every 100 ms once the burst is spent.
        let per_minute = NonZeroU32::new(600).unwrap();
        let limits = RateLimits::new(&RateLimitConfig {
            requests_per_minute_per_ip: per_minute,
            requests_per_minute_per_session: per_minute,
            sign_ins_per_minute_per_user: per_minute,
        });
        let spend = |key: Uuid| loop {
            if let Err(refused) = limits.check_session(key) {
                break refused;
            }
        };
        let session = Uuid::now_v7();
        assert!(spend(session).starts_lockout);
        // Wait for a refill, use it, and be refused again: still the same lockout, not a
        // new one to log.
        std::thread::sleep(Duration::from_millis(150));
        assert!(limits.check_session(session).is_ok());
        assert!(!limits.check_session(session).unwrap_err().starts_lockout);
        // Another key's first refusal starts a lockout of its own.
        assert!(spend(Uuid::now_v7()).starts_lockout);
    }
}
