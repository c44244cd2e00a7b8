//! The rules of Sessionhub: who may do what to which device or session, in which
//! transaction, and which account events each change records and publishes.
//!
//! Resolvers call in here and only translate. Every read and write is scoped to the
//! calling user, so another user's records look exactly like missing ones.

mod account_events;
mod admin;
mod caches;
mod cooldown;
mod devices;
mod error;
mod live;
mod new_sign_ins;
mod outbox;
pub mod rate_limit;
mod requester;
mod retention;
mod sessions;
mod sign_in;
pub mod user_agent;
pub mod validate;
mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

pub use account_events::LogPosition;
pub use admin::Administrator;
pub use caches::Caches;
pub use devices::{DeviceTrust, ForgottenDevice, device_trust};
use error::bad_input;
pub use error::{ServiceError, ServiceResult};
pub use live::{AccountEvent, AccountFeed, MAX_CATCH_UP, SessionEndWatch};
pub use new_sign_ins::{MAX_LISTED_NEW_SIGN_INS, NewSignIn, chosen_device_name, observed_summary};
pub use requester::{Account, Actor, ClientInfo, Requester, Viewer};
pub use retention::{Retention, RetentionReport};
pub(crate) use sessions::max_listed_ended_sessions;
pub use sessions::{
    ExpiryWarning, MAX_LISTED_ENDED_SESSIONS, SessionEnd, SessionState, session_state,
};
pub use sign_in::{StartSession, StartedSession};
pub use webhooks::{
    Attempt, DeliveryState, DueDelivery, WebhookEndpoint, WebhookPolicy, webhook_payload,
    webhook_type,
};

use migration::{Migrator, MigratorTrait};

use crate::{clock::Clock, events::EventBus, tokens::TokenKeys};
use rate_limit::RateLimits;

/// Timeouts and durations the rules apply.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub idle_timeout: Duration,
    pub session_lifetime: Duration,
    pub trust_duration: Duration,
    /// The furthest ahead trust may expire.
    pub max_trust_duration: Duration,
    /// How recent a sign-in must be for sensitive device actions (unless on a trusted device).
    pub reauth_window: Duration,
    /// Most active sessions per user; at least 1.
    pub max_sessions_per_user: u64,
    /// A heartbeat this soon after the last written one is kept in memory only; zero
    /// writes every heartbeat (see `sessions::heartbeat`).
    pub heartbeat_write_window: Duration,
    /// The confirmation policy: a sign-in on a new device waits this long for another
    /// session to confirm it, and may only read itself meanwhile. `None`: off, the
    /// account is only asked.
    pub confirm_new_devices_within: Option<Duration>,
    /// How long a session on a device the account has not confirmed may not end older
    /// sessions or devices (`cooldown`); zero: off.
    pub new_device_cooldown: Duration,
    /// How long before a session expires its own connection is told (`sessionExpiring`).
    pub expiry_warning: Duration,
    /// How long what ended is kept.
    pub retention: Retention,
}

/// The service layer's handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Services {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    rules: Rules,
    tokens: Arc<TokenKeys>,
    events: EventBus,
    limits: Arc<RateLimits>,
    caches: Caches,
    webhooks: Arc<WebhookPolicy>,
}

/// What the service layer is made of; see [`Services::new`].
pub struct ServiceParts {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub rules: Rules,
    pub tokens: Arc<TokenKeys>,
    pub events: EventBus,
    pub limits: Arc<RateLimits>,
    pub caches: Caches,
    pub webhooks: WebhookPolicy,
}

impl Services {
    pub fn new(parts: ServiceParts) -> Self {
        let ServiceParts {
            db,
            clock,
            rules,
            tokens,
            events,
            limits,
            caches,
            webhooks,
        } = parts;
        Self {
            db,
            clock,
            rules,
            tokens,
            events,
            limits,
            caches,
            webhooks: Arc::new(webhooks),
        }
    }

    pub fn rate_limits(&self) -> &RateLimits {
        &self.limits
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// What keeps this instance from serving correctly right now; empty when it is ready.
    pub async fn unready_reasons(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        match Migrator::get_pending_migrations(&self.db).await {
            Ok(pending) if pending.is_empty() => {}
            Ok(_) => {
                reasons.push("the database schema is behind this version: migrations are pending")
            }
            Err(error) => {
                ServiceError::from(error).log();
                reasons.push("the database is unreachable");
            }
        }
        if !self.events.is_connected() {
            reasons.push("the event transport is disconnected");
        }
        reasons
    }

    /// Commits `txn` with the events `log` collected: written, queued for the webhook
    /// endpoints, and published once committed.
    async fn commit(&self, log: outbox::EventLog, txn: DatabaseTransaction) -> Result<(), DbErr> {
        log.commit(txn, &self.events, &self.webhooks).await
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails
    /// at once with SQLITE_BUSY when another writer got in between, busy timeout or not.
    async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
    }
}
