//! Webhooks: the endpoints that receive account events, and how they are signed and sent.

use std::time::Duration;

/// Where account events are delivered as signed JSON (Standard Webhooks).
#[derive(clap::Args, Clone, Default)]
pub struct WebhookConfig {
    /// Endpoint URLs, comma-separated, that receive account events. Unset: none. Their
    /// credentials (user, password, query values) are used, never shown or stored.
    #[arg(
        long,
        env = "SESSIONHUB_WEBHOOK_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_urls: Vec<String>,

    /// The signing secret, as Standard Webhooks writes it: `whsec_` and the base64 of at
    /// least 24 random bytes. Needed with any endpoint.
    #[arg(long, env = "SESSIONHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Attempts per event and endpoint before it is given up.
    #[arg(long, env = "SESSIONHUB_WEBHOOK_MAX_ATTEMPTS", default_value_t = 12)]
    pub webhook_max_attempts: u32,

    /// How long one attempt may take before it counts as failed.
    #[arg(long, env = "SESSIONHUB_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// How often each endpoint's sender looks for due deliveries.
    #[arg(long, env = "SESSIONHUB_WEBHOOK_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub webhook_poll_interval: Duration,
}
