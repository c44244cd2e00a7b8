//! Configuration: defaults, then `SESSIONHUB_*` environment variables (and `DATABASE_URL`),
//! then command-line flags, all declared once here with clap.
//!
//! Plain data and nothing else: this module depends on no other part of the crate, and
//! `app` is the one place that turns it into the rules, limits and caps the layers apply.
//! How the defaults and the environment are read is [`environment`].

use std::{net::SocketAddr, time::Duration};

mod compat;
mod edge;
mod environment;
mod keys;
mod retention;
mod webhooks;

pub use compat::{CompatApi, CompatConfig};
pub use edge::{ApiConfig, ClientInfoConfig, ProxyHeader, WebSocketConfig};
pub use environment::{UnknownVariable, unknown_variables};
pub use keys::KeyConfig;
pub use retention::RetentionConfig;
pub use webhooks::WebhookConfig;

/// A SQLite file in the working directory, created on first start: zero set-up.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://sessionhub.db?mode=rwc";

/// Active sessions a user may have unless configured otherwise.
pub const DEFAULT_MAX_SESSIONS_PER_USER: u64 = 20;

/// Everything the server needs to run. Secrets are never printed: `Debug` is not derived.
#[derive(clap::Args, Clone)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "SESSIONHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub redis: RedisConfig,

    #[command(flatten)]
    pub keys: KeyConfig,

    /// How long a session lives without a heartbeat.
    #[arg(long, env = "SESSIONHUB_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// The longest a session can live, heartbeats or not.
    #[arg(long, env = "SESSIONHUB_SESSION_LIFETIME", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_lifetime: Duration,

    /// How long trusting a device lasts when the request names no expiry.
    #[arg(long, env = "SESSIONHUB_TRUST_DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub trust_duration: Duration,

    /// The furthest ahead a trust expiry may be, given or by default (at most 100 years):
    /// trust is never for ever, and a stolen session cannot make it so.
    #[arg(long, env = "SESSIONHUB_MAX_TRUST_DURATION", default_value = "365d", value_parser = humantime::parse_duration)]
    pub max_trust_duration: Duration,

    /// Most active sessions one user may have; signing in once more ends the least recently
    /// active one (reason TOO_MANY_SESSIONS).
    #[arg(long, env = "SESSIONHUB_MAX_SESSIONS_PER_USER", default_value_t = DEFAULT_MAX_SESSIONS_PER_USER)]
    pub max_sessions_per_user: u64,

    /// Trusting or untrusting a device, or marking another device hijacked, needs a session
    /// that signed in at most this long ago, or one on a trusted device.
    #[arg(long, env = "SESSIONHUB_REAUTH_WINDOW", default_value = "10m", value_parser = humantime::parse_duration)]
    pub reauth_window: Duration,

    /// The confirmation policy for sign-ins on a device the account has never used: such a
    /// session may only read itself until another session confirms it, and ends
    /// (NOT_CONFIRMED) if it is not confirmed within this long. Unset: off; the account's
    /// other sessions are still asked "was this you?".
    #[arg(long, env = "SESSIONHUB_CONFIRM_NEW_DEVICES_WITHIN", value_parser = humantime::parse_duration)]
    pub confirm_new_devices_within: Option<Duration>,

    /// For this long after a device is first seen, a session on it may not revoke, sign out,
    /// forget or flag the account's older sessions and devices (SESSION_TOO_NEW), unless the
    /// account confirmed the device ("was this you?") or the sign-in was multi-factor
    /// (`amr` has `mfa`). 0s: off.
    #[arg(long, env = "SESSIONHUB_NEW_DEVICE_COOLDOWN", default_value = "24h", value_parser = humantime::parse_duration)]
    pub new_device_cooldown: Duration,

    /// How long before a session's idle expiry, absolute lifetime or confirmation deadline
    /// its own `sessionExpiring` subscription is told, so a page can offer to stay signed in.
    #[arg(long, env = "SESSIONHUB_EXPIRY_WARNING", default_value = "2m", value_parser = humantime::parse_duration)]
    pub expiry_warning: Duration,

    /// How often expired sessions are looked for and recorded as ended.
    #[arg(long, env = "SESSIONHUB_SWEEP_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub sweep_interval: Duration,

    /// A heartbeat within this long of the last one written is kept in memory only, and a
    /// written heartbeat sets the expiry this much beyond the idle timeout so that it
    /// covers them (`0s` writes every heartbeat). Unset: a tenth of the idle timeout, at
    /// most 60 s.
    #[arg(long, env = "SESSIONHUB_HEARTBEAT_WRITE_WINDOW", value_parser = humantime::parse_duration)]
    pub heartbeat_write_window: Option<Duration>,

    /// Most sessions each instance keeps in memory to check tokens without a database read
    /// (`0` reads the database for every request).
    #[arg(long, env = "SESSIONHUB_SESSION_CACHE_SIZE", default_value_t = 100_000)]
    pub session_cache_size: u64,

    #[command(flatten)]
    pub client_info: ClientInfoConfig,

    #[command(flatten)]
    pub websocket: WebSocketConfig,

    #[command(flatten)]
    pub api: ApiConfig,

    #[command(flatten)]
    pub rate_limits: RateLimitConfig,

    #[command(flatten)]
    pub operations: OperationsConfig,

    #[command(flatten)]
    pub retention: RetentionConfig,

    #[command(flatten)]
    pub webhooks: WebhookConfig,

    #[command(flatten)]
    pub compat: CompatConfig,
}

impl Config {
    /// The heartbeat write window as configured, or its default.
    pub fn heartbeat_write_window(&self) -> Duration {
        self.heartbeat_write_window
            .unwrap_or_else(|| (self.idle_timeout / 10).min(Duration::from_secs(60)))
    }
}

/// What operators watch: metrics and logs.
#[derive(clap::Args, Clone, Debug)]
pub struct OperationsConfig {
    /// Address to serve Prometheus metrics on, at `/metrics`, apart from the API so that
    /// only the monitoring network reaches it; unset, no metrics are kept.
    #[arg(long, env = "SESSIONHUB_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// How log lines are written: `text` for a person, `json` (one object per line) for a
    /// log pipeline.
    #[arg(long, env = "SESSIONHUB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How client addresses appear in logs: `full`, `masked` (the network only: an IPv4
    /// /24, an IPv6 /48) or `off`. Tokens never appear.
    #[arg(long, env = "SESSIONHUB_LOG_CLIENT_IPS", value_enum, default_value_t = ClientIpLogging::Full)]
    pub log_client_ips: ClientIpLogging,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How client addresses appear in logs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientIpLogging {
    Full,
    Masked,
    Off,
}

/// Where the data lives; `migrate` takes the same flag.
#[derive(clap::Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// How long a request waits for a database connection; past it, the request is answered
    /// UNAVAILABLE (HTTP 503) instead of hanging while the database is down.
    #[arg(long, env = "SESSIONHUB_DATABASE_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub database_timeout: Duration,
}

/// Redis, for deployments that outgrow one database's NOTIFY: it carries events between
/// instances instead.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RedisConfig {
    /// Redis URL (`redis://HOST:PORT`); unset, events travel by PostgreSQL NOTIFY (or stay in
    /// process on SQLite).
    #[arg(long, env = "SESSIONHUB_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis channel and key this deployment uses, so several can share
    /// one Redis.
    #[arg(long, env = "SESSIONHUB_REDIS_PREFIX", default_value = "sessionhub")]
    pub redis_prefix: String,
}

/// How often clients may call; over a limit they get HTTP 429 with `Retry-After`.
#[derive(clap::Args, Clone, Debug)]
pub struct RateLimitConfig {
    /// Requests and websocket connection attempts per minute from one client address.
    #[arg(
        long,
        env = "SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP",
        default_value = "600"
    )]
    pub requests_per_minute_per_ip: std::num::NonZeroU32,

    /// Requests per minute with one session's token.
    #[arg(
        long,
        env = "SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION",
        default_value = "300"
    )]
    pub requests_per_minute_per_session: std::num::NonZeroU32,

    /// Admin API requests per minute with one operator key.
    #[arg(
        long,
        env = "SESSIONHUB_ADMIN_REQUESTS_PER_MINUTE",
        default_value = "1200"
    )]
    pub admin_requests_per_minute: std::num::NonZeroU32,

    /// `startSession` calls per minute for one user.
    #[arg(
        long,
        env = "SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER",
        default_value = "10"
    )]
    pub sign_ins_per_minute_per_user: std::num::NonZeroU32,
}
