//! Sessionhub: device and session management over GraphQL.
//!
//! Layers, outermost first: [`http`] (routes, who is calling), [`graphql`] (API types,
//! thin resolvers), [`service`] (the rules, transactions and events), and the `entity`
//! and `migration` crates (storage).

pub mod app;
pub mod clock;
pub mod config;
pub mod graphql;
pub mod http;
pub mod rate_limit;
pub mod service;
pub mod tokens;
