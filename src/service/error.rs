//! Why a service call was refused: one typed error, mapped to a code once, at the API edge.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, RuntimeErr, sqlx};

use super::rate_limit::RateLimited;

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
    #[error(
        "this sign-in on a new device waits for confirmation from another of your sessions; until then it may only read itself"
    )]
    SignInPending,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(
        "a sign-in on a new device cannot end older sessions or devices until {allowed_at} (sooner once another of your sessions confirms it, or when signing in with a second factor)"
    )]
    SessionTooNew { allowed_at: DateTime<Utc> },
    #[error("too many requests; try again in {} s", .0.retry_after_seconds())]
    RateLimited(RateLimited),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(DbErr),
    #[error("internal error")]
    Database(DbErr),
}

/// A database error is UNAVAILABLE when the database could not be reached (no connection
/// within the configured timeout, or the connection broke): the request may well succeed
/// when retried. Anything else is a bug or a constraint, and INTERNAL.
impl From<DbErr> for ServiceError {
    fn from(error: DbErr) -> Self {
        let unreachable = match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Query(RuntimeErr::SqlxError(cause))
            | DbErr::Exec(RuntimeErr::SqlxError(cause)) => {
                matches!(
                    **cause,
                    sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                )
            }
            _ => false,
        };
        if unreachable {
            ServiceError::Unavailable(error)
        } else {
            ServiceError::Database(error)
        }
    }
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
            ServiceError::SignInPending => "SIGN_IN_PENDING",
            ServiceError::Forbidden(_) => "FORBIDDEN",
            ServiceError::SessionTooNew { .. } => "SESSION_TOO_NEW",
            ServiceError::RateLimited(_) => "RATE_LIMITED",
            ServiceError::Unavailable(_) => "UNAVAILABLE",
            ServiceError::Database(_) => "INTERNAL",
        }
    }
}

/// How long a client should wait before retrying while the database is unreachable.
const UNAVAILABLE_RETRY_SECONDS: u64 = 2;

impl ServiceError {
    /// Whole seconds to wait before retrying, where waiting can help (`Retry-After`,
    /// `extensions.retryAfter`).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            ServiceError::RateLimited(limited) => Some(limited.retry_after_seconds()),
            ServiceError::Unavailable(_) => Some(UNAVAILABLE_RETRY_SECONDS),
            _ => None,
        }
    }

    /// When a refused change becomes possible (`extensions.allowedAt`).
    pub fn allowed_at(&self) -> Option<DateTime<Utc>> {
        match self {
            ServiceError::SessionTooNew { allowed_at } => Some(*allowed_at),
            _ => None,
        }
    }

    /// Logs what the client is not told: database details never reach clients.
    pub fn log(&self) {
        match self {
            ServiceError::Database(error) => tracing::error!(%error, "database error"),
            ServiceError::Unavailable(error) => tracing::warn!(%error, "database unavailable"),
            _ => {}
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

pub(super) fn bad_input(message: impl Into<String>) -> ServiceError {
    ServiceError::BadUserInput(message.into())
}
