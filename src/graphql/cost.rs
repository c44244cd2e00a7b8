//! What list fields add to a query's complexity. async-graphql counts every field once,
//! however many elements the lists above it return, so `sessions { device { sessions {
//! device { sessions { id } } } } }` would cost 5 while resolving tens of thousands of
//! objects. Here a field below a list counts once per element the list may hold, so nested
//! lists multiply in the estimate as they do in the answer.
//!
//! How many a list may hold depends on the configuration (the session cap), and
//! async-graphql's complexity functions see no schema data. So the schema's own
//! [`ListPricing`] extension lends its caps to the validation it wraps, and a list that
//! finds none is refused rather than priced at a guess.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
};

use super::security_log::{DEFAULT_PAGE, MAX_PAGE};
use crate::service::{MAX_LISTED_ENDED_SESSIONS, MAX_LISTED_NEW_SIGN_INS};

/// Devices an account is costed at: a generous handful, as there is no cap to go by.
const DEVICES_ESTIMATE: usize = 20;

/// How long the capped lists can be, as configured.
#[derive(Debug, Clone, Copy)]
pub struct ListCaps {
    /// Most active sessions a user may have.
    pub sessions_per_user: u64,
}

tokio::task_local! {
    static CAPS: ListCaps;
}

/// Lends [`ListCaps`] to the cost functions below while a query is validated.
pub struct ListPricing(pub ListCaps);

impl ExtensionFactory for ListPricing {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ListPricing(self.0))
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ListPricing {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        CAPS.scope(self.0, next.run(ctx)).await
    }
}

fn caps() -> ServerResult<ListCaps> {
    CAPS.try_with(|caps| *caps)
        .map_err(|_| ServerError::new("this query's cost cannot be estimated", None))
}

/// A session list: the active sessions a user may have at the configured cap, plus the
/// ended ones `includeEnded` adds.
pub fn sessions(include_ended: Option<bool>, child_complexity: usize) -> ServerResult<usize> {
    let ended = if include_ended == Some(true) {
        MAX_LISTED_ENDED_SESSIONS
    } else {
        0
    };
    let listed = caps()?.sessions_per_user.saturating_add(ended);
    Ok(usize::try_from(listed)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity))
}

/// The caller's devices.
pub fn devices(child_complexity: usize) -> usize {
    DEVICES_ESTIMATE.saturating_mul(child_complexity)
}

/// The sign-ins on new devices, at most [`MAX_LISTED_NEW_SIGN_INS`].
pub fn new_sign_ins(child_complexity: usize) -> usize {
    usize::try_from(MAX_LISTED_NEW_SIGN_INS)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
}

/// A page of `first` items (out-of-range sizes are refused when the field runs).
pub fn page(first: Option<i32>, child_complexity: usize) -> usize {
    let size = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    size.saturating_mul(child_complexity)
}
