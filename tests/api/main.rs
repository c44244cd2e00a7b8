//! Integration tests of the GraphQL API over real HTTP, on SQLite and PostgreSQL.

mod helpers;

mod admin;
mod auth;
mod compat;
mod devices;
mod edges;
mod expiry_warnings;
mod hardening;
mod live_admission;
mod new_sign_ins;
mod outage;
mod over_http;
mod plans;
mod replay;
mod retention;
mod security_log;
mod session_cache;
mod sessions;
mod subscriptions;
mod takeover;
mod webhooks;
