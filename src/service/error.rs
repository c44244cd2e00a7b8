//! Why a service call was refused: one typed error, mapped to a code once, at the API edge.

use sea_orm::DbErr;

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

pub(super) fn bad_input(message: impl Into<String>) -> ServiceError {
    ServiceError::BadUserInput(message.into())
}
