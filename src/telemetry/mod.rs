//! What operators see of a running instance: Prometheus metrics ([`metrics`]) and log
//! lines ([`logging`]). Both are recorded where things happen, through the `metrics` and
//! `tracing` facades; this module only names them and puts the backends behind them.

pub mod logging;
pub mod metrics;
mod statements;

pub use statements::StatementCount;
