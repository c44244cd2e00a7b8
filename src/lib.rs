//! Sessionhub: device and session management over GraphQL.
//!
//! Layers, outermost first: [`http`] (routes, who is calling), [`graphql`] (API types,
//! thin resolvers), [`service`] (the rules, transactions and the events they record),
//! [`events`] (carrying committed events to live subscribers), and the `entity` and
//! `migration` crates (storage). [`app`] wires them together from [`config`], which is
//! plain data. `docs/architecture.md` draws the map.

pub mod app;
pub mod clock;
pub mod config;
pub mod events;
pub mod graphql;
pub mod http;
pub mod service;
pub mod shared_redis;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
