//! What list fields add to a query's complexity. async-graphql counts every field once,
//! however many elements the lists above it return, so `sessions { device { sessions {
//! device { sessions { id } } } } }` would cost 5 while resolving tens of thousands of
//! objects. Here a field below a list counts once per element the list may hold, so nested
//! lists multiply in the estimate as they do in the answer.

use super::security::{DEFAULT_PAGE, MAX_PAGE};
use crate::{config::DEFAULT_MAX_SESSIONS_PER_USER, service::MAX_LISTED_ENDED_SESSIONS};

/// Devices an account is costed at: a generous handful, as there is no cap to go by.
const DEVICES_ESTIMATE: usize = 20;

/// A session list: the active sessions a user may have at the default cap, plus the ended
/// ones `includeEnded` adds.
pub fn sessions(include_ended: Option<bool>, child_complexity: usize) -> usize {
    let ended = if include_ended == Some(true) {
        MAX_LISTED_ENDED_SESSIONS
    } else {
        0
    };
    let listed = (DEFAULT_MAX_SESSIONS_PER_USER + ended) as usize;
    listed.saturating_mul(child_complexity)
}

/// The caller's devices.
pub fn devices(child_complexity: usize) -> usize {
    DEVICES_ESTIMATE.saturating_mul(child_complexity)
}

/// A page of `first` items (out-of-range sizes are refused when the field runs).
pub fn page(first: Option<i32>, child_complexity: usize) -> usize {
    let size = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    size.saturating_mul(child_complexity)
}
