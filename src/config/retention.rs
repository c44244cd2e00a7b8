//! How long what ended is kept, and how often that is applied.

use std::time::Duration;

/// Retention: storage stays bounded however long an account lives.
#[derive(clap::Args, Clone, Debug)]
pub struct RetentionConfig {
    /// A device not seen for this long is forgotten, as its user would: its token stops
    /// working and it leaves the devices list (`0s`: never).
    #[arg(long, env = "SESSIONHUB_FORGET_DEVICES_AFTER", default_value = "180d", value_parser = humantime::parse_duration)]
    pub forget_devices_after: Duration,

    /// Ended sessions are deleted this long after they ended, and forgotten devices this
    /// long after they were forgotten once no session of theirs is left.
    #[arg(long, env = "SESSIONHUB_KEEP_ENDED_SESSIONS", default_value = "90d", value_parser = humantime::parse_duration)]
    pub keep_ended_sessions: Duration,

    /// Security-log entries are deleted this long after they happened.
    #[arg(long, env = "SESSIONHUB_KEEP_SECURITY_LOG", default_value = "365d", value_parser = humantime::parse_duration)]
    pub keep_security_log: Duration,

    /// How often the horizons are applied.
    #[arg(long, env = "SESSIONHUB_RETENTION_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub retention_interval: Duration,
}
