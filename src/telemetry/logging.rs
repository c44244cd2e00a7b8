//! Log lines: text for a person, or one JSON object per line for a log pipeline; client
//! addresses as configured. Tokens are never logged anywhere.

use std::{io::IsTerminal, net::IpAddr};

use tracing_subscriber::EnvFilter;

use crate::config::{ClientIpLogging, LogFormat};

/// The filter when `SESSIONHUB_LOG` is unset: a line per request, the driver's warnings.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the process's log subscriber, filtered by `SESSIONHUB_LOG`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SESSIONHUB_LOG")
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour codes only for a person at a terminal, not in a log file or pipe.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// A client address as logs show it: whole, its network only, or not at all.
pub fn client_address(address: Option<&str>, policy: ClientIpLogging) -> Option<String> {
    let address = address?;
    match policy {
        ClientIpLogging::Full => Some(address.to_owned()),
        ClientIpLogging::Off => None,
        ClientIpLogging::Masked => Some(match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            Ok(IpAddr::V6(v6)) => {
                let segments = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", segments[0], segments[1], segments[2])
            }
            // Not an address: nothing to mask, and nothing worth showing.
            Err(_) => "(unknown)".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_addresses_keep_the_network_only() {
        let masked = |address| client_address(Some(address), ClientIpLogging::Masked);
        assert_eq!(masked("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(
            masked("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::/48")
        );
        assert_eq!(masked("not an address").as_deref(), Some("(unknown)"));
        assert_eq!(
            client_address(Some("203.0.113.77"), ClientIpLogging::Full).as_deref(),
            Some("203.0.113.77")
        );
        assert_eq!(
            client_address(Some("203.0.113.77"), ClientIpLogging::Off),
            None
        );
        assert_eq!(client_address(None, ClientIpLogging::Full), None);
    }
}
