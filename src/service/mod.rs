//! The rules of Sessionhub: who may do what to which device or session, in which
//! transaction, and which account events each change records and publishes.
//!
//! Resolvers call in here and only translate. Every read and write is scoped to the
//! calling user, so another user's records look exactly like missing ones.

mod devices;
mod events;
mod security_log;
mod sessions;
pub mod user_agent;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use uuid::Uuid;

pub use devices::{DeviceTrust, ForgottenDevice, device_trust};
pub use events::{AccountEvent, BusMessage, EventBus};
pub use security_log::LogPosition;
pub use sessions::{
    MAX_LISTED_ENDED_SESSIONS, SessionEnd, SessionState, StartSession, StartedSession,
    session_state,
};

use crate::{
    clock::Clock,
    rate_limit::{RateLimited, RateLimits},
    tokens::{TokenError, TokenKeys},
};

/// Longest accepted device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;
/// Longest accepted user agent, in bytes; real ones are a few hundred.
pub const MAX_USER_AGENT_BYTES: usize = 1024;
/// Largest accepted device metadata, serialised, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Longest accepted device token; ours are 43 characters.
const MAX_DEVICE_TOKEN_BYTES: usize = 128;

/// Timeouts and durations the rules apply.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub idle_timeout: Duration,
    pub session_lifetime: Duration,
    pub trust_duration: Duration,
    /// How recent a sign-in must be for sensitive device actions (unless on a trusted device).
    pub reauth_window: Duration,
    /// Most active sessions per user; at least 1.
    pub max_sessions_per_user: u64,
}

/// What the request says about the client: its address, location and user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip_address: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub user_agent: Option<String>,
}

/// A request made with a valid session token of a session that is still active.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub session_id: Uuid,
    pub device_id: Uuid,
    pub client: ClientInfo,
}

/// Who is calling, resolved once per request from its bearer token.
#[derive(Debug, Clone)]
pub enum Requester {
    /// No token: only the schema can be explored.
    Anonymous,
    /// An identity token from the product's login: may only start a session.
    Identity(crate::tokens::Identity, ClientInfo),
    /// A session token of an active session.
    Session(Arc<Actor>),
}

/// Why a service call was refused. Mapped once, at the API edge, to an error code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this session has ended; sign in again")]
    SessionEnded,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadUserInput(String),
    #[error("{0}")]
    DeviceBlocked(&'static str),
    #[error("this needs a recent sign-in: sign in again, or do it from a trusted device")]
    ReauthRequired,
    #[error("too many requests; try again in {} s", .0.retry_after_seconds())]
    RateLimited(RateLimited),
    #[error("internal error")]
    Database(#[from] DbErr),
}

impl ServiceError {
    /// The machine-readable code clients branch on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unauthenticated(_) => "UNAUTHENTICATED",
            ServiceError::SessionEnded => "SESSION_ENDED",
            ServiceError::NotFound(_) => "NOT_FOUND",
            ServiceError::BadUserInput(_) => "BAD_USER_INPUT",
            ServiceError::DeviceBlocked(_) => "DEVICE_BLOCKED",
            ServiceError::ReauthRequired => "REAUTH_REQUIRED",
            ServiceError::RateLimited(_) => "RATE_LIMITED",
            ServiceError::Database(_) => "INTERNAL",
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// The service layer's handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Services {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    rules: Rules,
    tokens: Arc<TokenKeys>,
    events: EventBus,
    limits: Arc<RateLimits>,
}

impl Services {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        rules: Rules,
        tokens: Arc<TokenKeys>,
        events: EventBus,
        limits: Arc<RateLimits>,
    ) -> Self {
        Self {
            db,
            clock,
            rules,
            tokens,
            events,
            limits,
        }
    }

    pub fn rate_limits(&self) -> &RateLimits {
        &self.limits
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
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

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Turns a bearer token into the requester it proves. A session token is accepted only
    /// while its session is active: ended or expired sessions are refused at once.
    pub async fn authenticate(&self, token: &str, client: ClientInfo) -> ServiceResult<Requester> {
        let now = self.now();
        let unauthenticated =
            |e: TokenError| ServiceError::Unauthenticated(format!("invalid bearer token: {e}"));
        if !TokenKeys::is_session_token(token).map_err(unauthenticated)? {
            let identity = self
                .tokens
                .verify_identity(token, now)
                .map_err(unauthenticated)?;
            return Ok(Requester::Identity(identity, client));
        }
        let (user_id, session_id) = match self.tokens.verify_session(token, now) {
            Ok(claims) => claims,
            // Our own token's expiry is its session's absolute lifetime: the session ended.
            Err(TokenError::Expired) => return Err(ServiceError::SessionEnded),
            Err(error) => return Err(unauthenticated(error)),
        };
        let session = self.load_session(&user_id, session_id).await?;
        match session {
            Some(session) if session_state(&session, now) == SessionState::Active => {
                Ok(Requester::Session(Arc::new(Actor {
                    user_id,
                    session_id,
                    device_id: session.device_id,
                    client,
                })))
            }
            _ => Err(ServiceError::SessionEnded),
        }
    }
}

fn bad_input(message: impl Into<String>) -> ServiceError {
    ServiceError::BadUserInput(message.into())
}

/// Checks a device name a person typed: trimmed, non-empty, not too long, printable.
fn validate_device_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(bad_input("the device name must not be empty"));
    }
    if name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(bad_input(format!(
            "the device name must be at most {MAX_DEVICE_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(bad_input(
            "the device name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}
