//! Request rates: per client address, per session, and sign-ins per user, each a GCRA
//! bucket (the `governor` crate) that refills evenly over a minute. Time is the service's
//! injected clock, so tests move it instead of sleeping. With Redis configured the buckets
//! are kept there, shared by every instance ([`shared`]). What a refusal puts in the user's
//! security log is in [`lockouts`].

mod lockouts;
mod shared;

pub use shared::SharedBuckets;

use std::{
    collections::HashMap,
    fmt::Display,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use governor::{
    Quota, RateLimiter, clock::Clock as GovernorClock, middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use uuid::Uuid;

use crate::{clock::Clock, telemetry::metrics};

/// How many calls a minute each limit allows.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Requests and websocket connection attempts from one client address.
    pub per_client: NonZeroU32,
    /// Requests made with one session's token.
    pub per_session: NonZeroU32,
    /// `startSession` calls for one user.
    pub sign_ins_per_user: NonZeroU32,
    /// Admin API requests made with one operator key.
    pub per_admin_key: NonZeroU32,
}

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
    per_client: KeyedLimit<String>,
    per_session: KeyedLimit<Uuid>,
    sign_ins_per_user: KeyedLimit<String>,
    per_admin_key: KeyedLimit<String>,
    /// The buckets every instance shares, when Redis is configured.
    shared: Option<SharedBuckets>,
}

/// How long a key must go without a refusal for its lockout to end. Without it a refill of
/// one request (200 ms at 300 a minute) would end the lockout, and a client pacing its
/// requests could start, and log, a new one five times a second.
const LOCKOUT_QUIET: Duration = Duration::from_secs(60);

/// The service clock as governor reads time: the time since the Unix epoch. The wall
/// clock can step back; governor then saturates, so a step back refuses for at most its
/// own length rather than granting extra calls.
#[derive(Clone)]
struct LimiterClock(Arc<dyn Clock>);

impl GovernorClock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        (self.0.now() - chrono::DateTime::UNIX_EPOCH)
            .to_std()
            .unwrap_or_default()
    }
}

type Buckets<K> = RateLimiter<K, DefaultKeyedStateStore<K>, LimiterClock, NoOpMiddleware<Duration>>;

/// One rate, kept per key, and the keys it is refusing: tells the first refusal of a
/// lockout (worth a security-log entry) from the many that follow it.
struct KeyedLimit<K: Clone + Hash + Eq> {
    /// The bucket's name among the shared ones.
    kind: &'static str,
    per_minute: NonZeroU32,
    buckets: Buckets<K>,
    clock: LimiterClock,
    /// Keys being refused, and until when.
    lockouts: Mutex<HashMap<K, Duration>>,
}

impl<K: Clone + Hash + Eq + Display> KeyedLimit<K> {
    fn per_minute(kind: &'static str, count: NonZeroU32, clock: &LimiterClock) -> Self {
        Self {
            kind,
            per_minute: count,
            buckets: RateLimiter::dashmap_with_clock(Quota::per_minute(count), clock.clone()),
            clock: clock.clone(),
            lockouts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one use of `key`, in the shared buckets when there are any and they answer,
    /// else in this instance's own. A refusal starts a lockout when `key` was not locked
    /// out already, and extends the lockout to [`LOCKOUT_QUIET`] past it.
    async fn check(&self, key: &K, shared: Option<&SharedBuckets>) -> Result<(), RateLimited> {
        let now = self.clock.now();
        let shared_verdict = match shared {
            Some(shared) => {
                shared
                    .check(self.kind, &key.to_string(), self.per_minute, now)
                    .await
            }
            None => None,
        };
        let verdict = shared_verdict.unwrap_or_else(|| {
            self.buckets
                .check_key(key)
                .map_err(|not_until| not_until.wait_time_from(now))
        });
        let Err(retry_after) = verdict else {
            return Ok(());
        };
        metrics::rate_limited(self.kind);
        let mut lockouts = self.lockouts.lock().expect("lockouts poisoned");
        let until = lockouts.entry(key.clone()).or_insert(now);
        let starts_lockout = *until <= now;
        *until = now + retry_after.max(LOCKOUT_QUIET);
        Err(RateLimited {
            retry_after,
            starts_lockout,
        })
    }

    /// Drops full buckets and ended lockouts.
    fn forget_idle(&self) {
        self.buckets.retain_recent();
        let now = self.clock.now();
        self.lockouts
            .lock()
            .expect("lockouts poisoned")
            .retain(|_, until| *until > now);
    }
}

impl RateLimits {
    /// Limits at `rates`, kept in `shared` when given, else in this instance alone.
    pub fn new(rates: Rates, clock: Arc<dyn Clock>, shared: Option<SharedBuckets>) -> Self {
        let clock = LimiterClock(clock);
        Self {
            per_client: KeyedLimit::per_minute("client", rates.per_client, &clock),
            per_session: KeyedLimit::per_minute("session", rates.per_session, &clock),
            sign_ins_per_user: KeyedLimit::per_minute("sign-in", rates.sign_ins_per_user, &clock),
            per_admin_key: KeyedLimit::per_minute("admin", rates.per_admin_key, &clock),
            shared,
        }
    }

    /// Any request or websocket connection attempt from this client address, counted
    /// against its [`client_bucket`].
    pub async fn check_client(&self, address: &str) -> Result<(), RateLimited> {
        self.per_client
            .check(&client_bucket(address), self.shared.as_ref())
            .await
    }

    /// Any request made with this session's token.
    pub async fn check_session(&self, session_id: Uuid) -> Result<(), RateLimited> {
        self.per_session
            .check(&session_id, self.shared.as_ref())
            .await
    }

    /// A `startSession` for this user.
    pub async fn check_sign_in(&self, user_id: &str) -> Result<(), RateLimited> {
        self.sign_ins_per_user
            .check(&user_id.to_owned(), self.shared.as_ref())
            .await
    }

    /// An admin API request made with the operator key `key_id` names.
    pub async fn check_admin(&self, key_id: &str) -> Result<(), RateLimited> {
        self.per_admin_key
            .check(&key_id.to_owned(), self.shared.as_ref())
            .await
    }

    /// Drops the buckets of keys that have been quiet long enough to be full again, so
    /// memory follows the active clients rather than every client ever seen.
    pub fn forget_idle(&self) {
        self.per_client.forget_idle();
        self.per_session.forget_idle();
        self.sign_ins_per_user.forget_idle();
        self.per_admin_key.forget_idle();
    }
}

/// The bucket a client address counts in: an IPv4 address is its own, an IPv6 address
/// counts with its /64, since one subscriber is handed a whole /64 (RFC 6177) and could
/// otherwise rotate through 2^64 fresh buckets. What does not parse counts as itself.
fn client_bucket(address: &str) -> String {
    match address.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(ip)) => {
            let network = u128::from(ip) & !(u128::MAX >> 64);
            format!("{}/64", Ipv6Addr::from(network))
        }
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::clock::MockClock;

    #[test]
    fn an_ipv6_client_counts_with_its_64() {
        assert_eq!(client_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(client_bucket("2001:db8:1:3::1"), "2001:db8:1:2::/64");
        assert_eq!(client_bucket("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_bucket("203.0.113.7"), "203.0.113.7");
    }

    #[tokio::test]
    async fn paced_refusals_stay_one_lockout() {
        // 600 a minute: one request back every 100 ms once the burst is spent.
        let per_minute = NonZeroU32::new(600).unwrap();
        let clock = Arc::new(MockClock::new(
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        ));
        let rates = Rates {
            per_client: per_minute,
            per_session: per_minute,
            sign_ins_per_user: per_minute,
            per_admin_key: per_minute,
        };
        let limits = RateLimits::new(rates, clock.clone(), None);
        let spend = async |key: Uuid| loop {
            if let Err(refused) = limits.check_session(key).await {
                break refused;
            }
        };
        let session = Uuid::now_v7();
        assert!(spend(session).await.starts_lockout);
        // Wait for a refill, use it, and be refused again: still the same lockout, not a
        // new one to log.
        clock.advance(chrono::Duration::milliseconds(150));
        assert!(limits.check_session(session).await.is_ok());
        assert!(
            !limits
                .check_session(session)
                .await
                .unwrap_err()
                .starts_lockout
        );
        // Another key's first refusal starts a lockout of its own.
        assert!(spend(Uuid::now_v7()).await.starts_lockout);
        // A quiet minute ends the lockout: the next burst's refusal is a new one.
        clock.advance(chrono::Duration::seconds(61));
        assert!(spend(session).await.starts_lockout);
    }
}
