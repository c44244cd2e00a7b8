//! What operators see of a running instance: Prometheus metrics ([`metrics`]) and log
//! lines ([`logging`]). Both are recorded where things happen, through the `metrics` and
//! `tracing` facades; this module only names them and puts the backends behind them.

pub mod logging;
pub mod metrics;
mod statements;

pub use statements::StatementCount;

/// Longest text a client chooses that a metric label or log field records: an operation
/// name is a GraphQL name, and a readable one is far shorter.
pub const MAX_RECORDED_CHARS: usize = 64;

/// `text` cut to [`MAX_RECORDED_CHARS`] characters, so a client cannot make a log line or
/// a series as long as its request.
pub fn bounded(text: &str) -> &str {
    match text.char_indices().nth(MAX_RECORDED_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_text_is_cut_on_a_character_boundary() {
        assert_eq!(bounded("ListDevices"), "ListDevices");
        let long = "é".repeat(MAX_RECORDED_CHARS + 10);
        assert_eq!(bounded(&long).chars().count(), MAX_RECORDED_CHARS);
        assert_eq!(bounded(&long), "é".repeat(MAX_RECORDED_CHARS));
    }
}
