//! Sessionhub: device and session management over GraphQL.

pub mod clock;
pub mod config;
pub mod service;
pub mod tokens;
pub mod graphql;
