//! SeaORM entities for Sessionhub's tables.
//!
//! These are storage rows only. The GraphQL layer wraps them in its own types so the
//! tables can change without breaking clients; the rules about them live in the service layer.

pub mod account_cursor;
pub mod account_event;
pub mod device;
pub mod session;
pub mod webhook_delivery;
